"""The ingest path's statements, built once per dialect and run once per batch.

A batch of messages costs a fixed handful of statements whatever its size: multi-row inserts
(`executemany`, which SQLAlchemy turns into multi-row VALUES with RETURNING, and psycopg runs in
one pipeline), `INSERT … ON CONFLICT DO NOTHING RETURNING <key>` to learn which rows were new,
and `IN` look-ups of the batch's keys. The statements here are compiled once and cached by
SQLAlchemy; the look-ups take their key lists as expanding parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from edge_agent.station.db.schema import (
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
class Statements:
    new_event_messages: Any  # executemany; RETURNING the (device, seq) of the rows that were new
    insert_events: Any
    update_events: Any  # by k_id
    new_pictures: Any
    new_picture_uses: Any  # executemany; RETURNING the keys of the uses that were new
    thumb_ok: Any  # by k_device, k_event, k_sha
    insert_device_messages: Any
    new_devices: Any
    new_cameras: Any
    device_seen: Any  # by k_device; one executemany per set of columns
    camera_update: Any  # by k_device, k_camera
    insert_rejects: Any
    insert_gaps: Any


def build(dialect: str) -> Statements:
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    u = picture_uses.c
    return Statements(
        new_event_messages=ins(event_messages)
        .on_conflict_do_nothing()
        .returning(event_messages.c.device, event_messages.c.seq),
        insert_events=insert(events),
        update_events=update(events).where(events.c.id == bindparam("k_id")),
        new_pictures=ins(pictures).on_conflict_do_nothing(),
        new_picture_uses=ins(picture_uses)
        .on_conflict_do_nothing()
        .returning(u.kind, u.device, u.camera, u.event_id, u.sha256),
        thumb_ok=update(events)
        .where(
            and_(
                events.c.device == bindparam("k_device"),
                events.c.event_id == bindparam("k_event"),
                events.c.thumb_sha256 == bindparam("k_sha"),
            )
        )
        .values(thumb_status="ok"),
        insert_device_messages=insert(device_messages),
        new_devices=ins(devices).on_conflict_do_nothing(),
        new_cameras=ins(cameras).on_conflict_do_nothing(),
        device_seen=update(devices).where(devices.c.device == bindparam("k_device")),
        camera_update=update(cameras).where(
            and_(cameras.c.device == bindparam("k_device"), cameras.c.camera == bindparam("k_camera"))
        ),
        insert_rejects=insert(rejects),
        insert_gaps=insert(seq_gaps),
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
