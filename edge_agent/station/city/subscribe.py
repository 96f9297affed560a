"""The city's side: the wards' tables partitioned by ward, one PostgreSQL subscription per ward.

`init_city(engine)` creates, on the city's PostgreSQL, the tables the wards publish
(`publish.KEYS`) with the wards' own columns, keyed (station, key) and partitioned by list of
`station`, with the wards' search indexes on each partition (a partitioned index). These tables
are written only by the subscriptions: the city's own tables (its accounts, cases, audit) are not
replicated anywhere. `add_ward(engine, name, conninfo)` adds the ward's partition of each table
and its subscription `edge_city_<name>` (its own replication slot on the ward, which keeps the
ward's changes while the link is down: the ward catches up by itself). `wards(engine)` says per
ward what PostgreSQL says of its subscription: its worker, the last message and its lag.

Why not pg_partman: partitions here are one per ward, made when a ward is added — a list
partition is one statement; pg_partman earns its place for the monthly partitions of events at a
city's size, the next step (not made yet).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Column, Engine, Index, MetaData, PrimaryKeyConstraint, Table, text

from edge_agent.station.city.publish import KEYS, PUBLICATION, CityError, literal
from edge_agent.station.store.schema import metadata

WARD = re.compile(r"^[a-z0-9_-]{1,40}$")  # the ward's station_id (its rows' `station`)


def _ident(name: str) -> str:
    """The ward's name as part of table and slot names (which take no `-`)."""
    return name.replace("-", "_")


def city_metadata() -> MetaData:
    """The wards' tables as the city keeps them: same columns, (station, key), by ward."""
    city = MetaData()
    for name, key in KEYS.items():
        ward = metadata.tables[name]
        cols = [Column(c.name, c.type, nullable=c.nullable) for c in ward.columns]
        table = Table(
            name,
            city,
            *cols,
            PrimaryKeyConstraint("station", *key),
            postgresql_partition_by="LIST (station)",
        )
        for ix in ward.indexes:
            if not ix.unique and ix.name:
                Index(
                    ix.name.replace("ix_", "ixc_", 1), table.c.station, *(table.c[c.name] for c in ix.columns)
                )
    return city


def conninfo(**parts: str | int | None) -> str:
    """A libpq connection string (`host=… port=… password='a b'`), each value quoted as libpq wants."""
    out = []
    for key, value in parts.items():
        if value is None:
            continue
        text_value = str(value).replace("\\", "\\\\").replace("'", "\\'")
        out.append(f"{key}='{text_value}'")
    return " ".join(out)


READ_ONLY = """
CREATE OR REPLACE FUNCTION edge_city_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is replicated from the wards: change it at the ward, the city follows', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$"""


def init_city(engine: Engine) -> list[str]:
    """The city's tables; a hand-made change to them is refused (the subscriptions' apply workers
    run with session_replication_role = replica, where ordinary triggers do not fire)."""
    if engine.dialect.name != "postgresql":
        raise CityError("a city runs on PostgreSQL: give [database] url = postgresql+psycopg://…")
    city = city_metadata()
    city.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(text(READ_ONLY))
        for table in city.tables:
            conn.execute(text(f"DROP TRIGGER IF EXISTS edge_city_read_only ON {table}"))
            conn.execute(
                text(
                    f"CREATE TRIGGER edge_city_read_only BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION edge_city_read_only()"
                )
            )
    return [f"city tables {', '.join(city.tables)} (partitioned by ward, written only by the wards)"]


def add_ward(engine: Engine, name: str, conninfo: str) -> list[str]:
    """The ward's partitions and its subscription (copies what the ward has, then follows it)."""
    if not WARD.match(name):
        raise CityError(f"ward {name!r}: give the ward's station_id (1-40 of a-z 0-9 _ -)")
    with engine.begin() as conn:
        for table in KEYS:
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {table}_{_ident(name)} PARTITION OF {table} "
                    f"FOR VALUES IN ({literal(name)})"
                )
            )
    sub = f"edge_city_{_ident(name)}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.execute(text("SELECT 1 FROM pg_subscription WHERE subname = :s"), {"s": sub}).first():
            return [f"ward {name}: partitions ready; subscription {sub} exists"]
        try:
            conn.execute(
                text(
                    f"CREATE SUBSCRIPTION {sub} CONNECTION {literal(conninfo)} PUBLICATION {PUBLICATION} "
                    f"WITH (slot_name = {literal(sub)})"
                )
            )
        except Exception as exc:
            raise CityError(f"ward {name}: the subscription could not be made: {_reason(exc)}") from None
    return [f"ward {name}: partitions and subscription {sub} (slot {sub} on the ward)"]


def _reason(exc: BaseException) -> str:
    from edge_agent.contract import redact

    orig = getattr(exc, "orig", None) or exc
    return redact(" ".join(str(orig).split()))[:300]


def wards(engine: Engine) -> list[dict[str, Any]]:
    """Each ward's subscription as the city sees it, and its slot as the ward sees it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.subname, s.subenabled, s.subconninfo, st.pid, st.received_lsn, "
                "st.last_msg_receipt_time FROM pg_subscription s LEFT JOIN pg_stat_subscription st "
                "ON st.subid = s.oid AND st.relid IS NULL WHERE s.subname LIKE 'edge_city_%' "
                "ORDER BY s.subname"
            )
        ).all()
    out = []
    for r in rows:
        out.append(
            {
                "ward": r.subname.removeprefix("edge_city_"),
                "enabled": bool(r.subenabled),
                "connected": r.pid is not None,
                "received_lsn": str(r.received_lsn) if r.received_lsn else None,
                "last_message": r.last_msg_receipt_time.isoformat() if r.last_msg_receipt_time else None,
                **slot_state(r.subconninfo, r.subname),
            }
        )
    return out


def slot_state(info: str, slot: str) -> dict[str, Any]:
    """The ward's slot: `wal_status` (reserved, extended, unreserved: near its cap; lost: past it,
    `city resync` needed) and the bytes of the ward's WAL the city has not confirmed yet."""
    import psycopg

    try:
        with psycopg.connect(info, connect_timeout=3) as c:
            row = c.execute(
                "SELECT wal_status, pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
                "WHERE slot_name = %s",
                (slot,),
            ).fetchone()
    except psycopg.Error as exc:
        return {"slot": f"the ward cannot be reached: {_reason(exc)}", "lag_bytes": None}
    if row is None:
        return {"slot": "missing on the ward (city resync NAME)", "lag_bytes": None}
    return {"slot": str(row[0]), "lag_bytes": None if row[1] is None else int(row[1])}


def resync(engine: Engine, name: str, conninfo_: str | None = None) -> list[str]:
    """After a slot was lost past its WAL cap: drop the subscription (without its lost slot),
    empty the ward's partitions and subscribe again, which copies the ward's rows once more."""
    sub = f"edge_city_{_ident(name)}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(
            text("SELECT subconninfo FROM pg_subscription WHERE subname = :s"), {"s": sub}
        ).first()
        if row is None and conninfo_ is None:
            raise CityError(f"no subscription {sub}: add the ward with  city add-ward {name} --host …")
        info = conninfo_ or row.subconninfo  # type: ignore[union-attr]
        if row is not None:
            conn.execute(text(f"ALTER SUBSCRIPTION {sub} DISABLE"))
            conn.execute(text(f"ALTER SUBSCRIPTION {sub} SET (slot_name = NONE)"))
            conn.execute(text(f"DROP SUBSCRIPTION {sub}"))
        for table in KEYS:
            conn.execute(text(f"TRUNCATE {table}_{_ident(name)}"))
    _drop_slot(info, sub)
    return [f"ward {name}: subscription and partitions dropped and emptied", *add_ward(engine, name, info)]


def _drop_slot(info: str, slot: str) -> None:
    """The ward's old slot, if it is still there (lost or not), so the new one can take its name."""
    import psycopg

    try:
        with psycopg.connect(info, connect_timeout=5, autocommit=True) as c:
            c.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                (slot,),
            )
    except psycopg.Error as exc:
        raise CityError(f"the ward's old slot {slot} could not be dropped: {_reason(exc)}") from None
