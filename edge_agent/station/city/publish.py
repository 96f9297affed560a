"""The ward's side of a city: PostgreSQL's own logical replication, made ready by one command.

`publish_ward(engine, station_id, password)` (`edge-agent station city-publish`), on the ward's
PostgreSQL, idempotent:

- checks `wal_level = logical` (else one sentence with the two lines that fix it: it needs a
  restart of PostgreSQL, so the command does not do it behind the admin's back);
- caps the WAL a lost city may hold back (`max_slot_wal_keep_size`, default here 10 GB: a city
  gone for weeks loses its slot and is resynced, the ward's disk never fills) when it is
  unlimited, by `ALTER SYSTEM` and a reload;
- stamps the station's id into the `station` column of the tables the city receives (and makes it
  their default), and gives each a unique index (station, key) as its replica identity, so an
  update at the ward finds its row at the city, where (station, key) is the key;
- creates the role `edge_city` (LOGIN REPLICATION, SELECT on those tables only: no accounts, no
  audit of logins, no alerts) and the publication `edge_city` of the tables.

Why these tables: search, the fleet and sequence gaps are what a city asks of every ward; event
messages' raw JSON, pictures and footage stay at the ward (the city fetches them from the ward's
API when someone opens them), accounts and sessions never leave the ward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from edge_agent.station.store.schema import CITY_TABLES

ROLE = "edge_city"
PUBLICATION = "edge_city"
DEFAULT_WAL_CAP = "10GB"
# (table, the columns after `station` that make its key)
KEYS = {"events": ("id",), "devices": ("device",), "cameras": ("device", "camera"), "seq_gaps": ("id",)}
STATION_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


class CityError(RuntimeError):
    """What keeps a ward from publishing (or a city from subscribing), and what to do about it."""


@dataclass
class Published:
    done: list[str] = field(default_factory=list)


def literal(value: str) -> str:
    """`value` as an SQL string literal (DDL takes no bound parameters); no NUL, quotes doubled."""
    if "\x00" in value:
        raise CityError("a password or connection string may not hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def _setting(conn: object, name: str) -> str:
    return str(conn.execute(text(f"SHOW {name}")).scalar())  # type: ignore[attr-defined]


def publish_ward(engine: Engine, station_id: str, password: str, wal_cap: str = DEFAULT_WAL_CAP) -> Published:
    if engine.dialect.name != "postgresql":
        raise CityError(
            "this station's archive is SQLite, which cannot publish to a city: move it to PostgreSQL "
            "first (edge-agent station copy --to postgresql+psycopg://…, docs/station.md)"
        )
    if not STATION_ID.match(station_id):
        raise CityError(
            f"station_id {station_id!r} must be 1-64 of a-z 0-9 _ -: it names the ward at the city"
        )
    out = Published()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if _setting(conn, "wal_level") != "logical":
            raise CityError(
                "PostgreSQL's wal_level is not logical, which a city's subscription needs: as its "
                "superuser run  ALTER SYSTEM SET wal_level = logical;  then restart PostgreSQL "
                "(systemctl restart postgresql) and run city-publish again"
            )
        if _setting(conn, "max_slot_wal_keep_size") in ("-1", "-1kB"):
            try:
                conn.execute(text(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{wal_cap}'"))
                conn.execute(text("SELECT pg_reload_conf()"))
            except Exception as exc:
                raise CityError(
                    "max_slot_wal_keep_size is unlimited: a city gone for weeks would fill this disk with "
                    f"WAL. As PostgreSQL's superuser run  ALTER SYSTEM SET max_slot_wal_keep_size = "
                    f"'{wal_cap}'; SELECT pg_reload_conf();  ({type(exc).__name__})"
                ) from None
            out.done.append(f"capped the WAL a city's slot may hold back at {wal_cap}")
    with engine.begin() as conn:
        for table, key in KEYS.items():
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN station SET DEFAULT '{station_id}'"))
            n = conn.execute(
                text(f"UPDATE {table} SET station = :s WHERE station <> :s"), {"s": station_id}
            ).rowcount
            if n:
                out.done.append(f"{table}: {n} rows stamped {station_id}")
            index = f"ix_{table}_city_key"
            cols = ", ".join(("station", *key))
            conn.execute(text(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} ({cols})"))
            conn.execute(text(f"ALTER TABLE {table} REPLICA IDENTITY USING INDEX {index}"))
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).first()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE {ROLE} WITH LOGIN REPLICATION PASSWORD {literal(password)}"))
        conn.execute(text(f"GRANT SELECT ON {', '.join(CITY_TABLES)} TO {ROLE}"))
        if conn.execute(text("SELECT 1 FROM pg_publication WHERE pubname = :p"), {"p": PUBLICATION}).first():
            conn.execute(text(f"ALTER PUBLICATION {PUBLICATION} SET TABLE {', '.join(CITY_TABLES)}"))
        else:
            conn.execute(text(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {', '.join(CITY_TABLES)}"))
        out.done.append(f"publication {PUBLICATION} of {', '.join(CITY_TABLES)} for role {ROLE}")
    return out
