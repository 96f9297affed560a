"""The ingest path's statements, built once per dialect and run once per batch.

A batch of messages costs a fixed handful of statements whatever its size: many rows per
statement (`Bulk`: executemany on SQLite, one array per column on PostgreSQL),
`INSERT … ON CONFLICT DO NOTHING RETURNING <key>` to learn which rows were new, and `IN`
look-ups of the batch's keys. The statements here are compiled once and cached by SQLAlchemy;
the look-ups take their key lists as expanding parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    column,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from edge_agent.station.store.schema import (
    cameras,
    device_messages,
    devices,
    event_messages,
    events,
    picture_uses,
    pictures,
    rejects,
    seq_gaps,
)

T = TypeVar("T")

# Keys per IN look-up: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters a statement.
CHUNK = 1000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for k in range(0, len(items), size):
        yield items[k : k + size]


@dataclass(frozen=True)
class Bulk:
    """One statement for many rows: executemany on SQLite (in-process, no round trips); on
    PostgreSQL one execution with one array per column (`unnest`), so a batch is one round trip
    and one short query text whatever its size."""

    stmt: Any
    arrays: tuple[str, ...] = ()  # PostgreSQL: the parameters, one array each, in this order

    def __call__(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> Any:
        if not self.arrays:
            return conn.execute(self.stmt, list(rows))
        return conn.execute(self.stmt, {n: [r[n] for r in rows] for n in self.arrays})


# The columns an events row's later messages may change (update_events sets them by k_id).
EVENT_UPDATED = (
    "score",
    "zones",
    "lines",
    "clock_synced",
    "last_received_us",
    "messages",
    "label",
    "last_type",
    "last_seq",
    "stationary",
    "end_us",
    "thumb_sha256",
    "thumb_status",
)


@dataclass(frozen=True)
class Statements:
    new_event_messages: Bulk  # RETURNING the (device, seq) of the rows that were new
    insert_events: Bulk
    update_events: Bulk  # by k_id
    new_pictures: Bulk
    new_picture_uses: Bulk  # RETURNING the keys of the uses that were new
    thumb_ok: Bulk  # by k_device, k_event, k_sha
    insert_device_messages: Bulk
    new_devices: Bulk
    new_cameras: Bulk
    insert_rejects: Bulk
    insert_gaps: Bulk
    device_seen: Any  # by k_device; one executemany per set of columns (a few rows a batch)
    camera_update: Any  # by k_device, k_camera


def _columns(table: Table, names: Sequence[str] | None = None) -> list[str]:
    # `station` is left to its default (the ward's id): ingest never names it
    return list(names) if names else [c.name for c in table.columns if c.name not in ("id", "station")]


def _unnest(types: Mapping[str, TypeEngine[Any]]) -> Any:
    """`unnest(:a::T[], :b::U[], ...) AS v(a, b, ...)`: the batch as a relation on PostgreSQL.
    Strings go as unbounded text: a value too long must fail in the column, never be cut by
    the cast."""
    arrays = [
        bindparam(n, type_=postgresql.ARRAY(Text() if isinstance(t, String) else t)) for n, t in types.items()
    ]
    return (
        func.unnest(*arrays).table_valued(*(column(n, t) for n, t in types.items())).render_derived(name="v")
    )


def _insert(dialect: str, table: Table, names: Sequence[str] | None = None, ignore: bool = False) -> Any:
    cols = _columns(table, names)
    if dialect != "postgresql":
        stmt = sqlite.insert(table)
        return Bulk(stmt.on_conflict_do_nothing() if ignore else stmt)
    v = _unnest({n: table.c[n].type for n in cols})
    pg = postgresql.insert(table).from_select(cols, select(*(v.c[n] for n in cols)))
    return Bulk(pg.on_conflict_do_nothing() if ignore else pg, tuple(cols))


def _returning(bulk: Bulk, *cols: Any) -> Bulk:
    return Bulk(bulk.stmt.returning(*cols), bulk.arrays)


def _update_events(dialect: str) -> Bulk:
    if dialect != "postgresql":
        return Bulk(update(events).where(events.c.id == bindparam("k_id")))
    v = _unnest({"k_id": events.c.id.type, **{n: events.c[n].type for n in EVENT_UPDATED}})
    stmt = update(events).where(events.c.id == v.c.k_id).values({n: v.c[n] for n in EVENT_UPDATED})
    return Bulk(stmt, ("k_id", *EVENT_UPDATED))


def _thumb_ok(dialect: str) -> Bulk:
    e = events.c
    if dialect != "postgresql":
        where = and_(
            e.device == bindparam("k_device"),
            e.event_id == bindparam("k_event"),
            e.thumb_sha256 == bindparam("k_sha"),
        )
        return Bulk(update(events).where(where).values(thumb_status="ok"))
    v = _unnest({"k_device": e.device.type, "k_event": e.event_id.type, "k_sha": e.thumb_sha256.type})
    where = and_(e.device == v.c.k_device, e.event_id == v.c.k_event, e.thumb_sha256 == v.c.k_sha)
    return Bulk(update(events).where(where).values(thumb_status="ok"), ("k_device", "k_event", "k_sha"))


def build(dialect: str) -> Statements:
    u = picture_uses.c
    return Statements(
        new_event_messages=_returning(
            _insert(dialect, event_messages, ignore=True), event_messages.c.device, event_messages.c.seq
        ),
        insert_events=_insert(dialect, events),
        update_events=_update_events(dialect),
        new_pictures=_insert(dialect, pictures, ignore=True),
        new_picture_uses=_returning(
            _insert(dialect, picture_uses, ignore=True), u.kind, u.device, u.camera, u.event_id, u.sha256
        ),
        thumb_ok=_thumb_ok(dialect),
        insert_device_messages=_insert(dialect, device_messages),
        new_devices=_insert(dialect, devices, ("device", "broker", "first_seen_us"), ignore=True),
        new_cameras=_insert(dialect, cameras, ("device", "camera"), ignore=True),
        insert_rejects=_insert(dialect, rejects),
        insert_gaps=_insert(dialect, seq_gaps),
        device_seen=update(devices).where(devices.c.device == bindparam("k_device")),
        camera_update=update(cameras).where(
            and_(cameras.c.device == bindparam("k_device"), cameras.c.camera == bindparam("k_camera"))
        ),
    )


# -- look-ups of a batch's keys (one statement per CHUNK keys) -------------------------------


def events_by_keys(keys: Sequence[tuple[str, str]]) -> Select[Any]:
    return select(events).where(tuple_(events.c.device, events.c.event_id).in_(keys))


def thumbs_present(keys: Sequence[tuple[str, str, str]]) -> Select[Any]:
    """Which (device, event_id, sha256) thumbnails have come."""
    u = picture_uses.c
    return select(u.device, u.event_id, u.sha256).where(
        and_(u.kind == "thumbnail", tuple_(u.device, u.event_id, u.sha256).in_(keys))
    )


def dedupe_seen(keys: Sequence[str]) -> Select[Any]:
    return select(device_messages.c.dedupe).where(device_messages.c.dedupe.in_(keys))


def device_rows(names: Sequence[str]) -> Select[Any]:
    return select(devices.c.device, devices.c.status, devices.c.max_seq).where(devices.c.device.in_(names))
