"""The ingest path's statements, built once per dialect and executed with parameters.

Building a statement per message (`insert(t).values(...)`) costs more CPU than running it; these
are compiled once and cached by SQLAlchemy, so a message costs a few executes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
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
)


@dataclass(frozen=True)
class Statements:
    new_event_message: Any
    event_by_key: Any
    insert_event: Any
    update_event: Any
    thumb_present: Any
    new_picture: Any
    new_picture_use: Any
    thumb_ok: Any
    insert_device_message: Any
    dedupe_seen: Any
    new_device: Any
    new_camera: Any
    device_seen: Any
    camera_update: Any
    insert_reject: Any
    max_seq: Any


def build(dialect: str) -> Statements:
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return Statements(
        new_event_message=ins(event_messages).on_conflict_do_nothing().returning(event_messages.c.id),
        event_by_key=select(events).where(
            and_(events.c.device == bindparam("k_device"), events.c.event_id == bindparam("k_event"))
        ),
        insert_event=insert(events),
        update_event=update(events).where(events.c.id == bindparam("k_id")),
        thumb_present=select(picture_uses.c.id)
        .where(
            and_(
                picture_uses.c.kind == "thumbnail",
                picture_uses.c.device == bindparam("k_device"),
                picture_uses.c.event_id == bindparam("k_event"),
                picture_uses.c.sha256 == bindparam("k_sha"),
            )
        )
        .limit(1),
        new_picture=ins(pictures).on_conflict_do_nothing().returning(pictures.c.sha256),
        new_picture_use=ins(picture_uses).on_conflict_do_nothing().returning(picture_uses.c.id),
        thumb_ok=update(events)
        .where(
            and_(
                events.c.device == bindparam("k_device"),
                events.c.event_id == bindparam("k_event"),
                events.c.thumb_sha256 == bindparam("k_sha"),
            )
        )
        .values(thumb_status="ok"),
        insert_device_message=insert(device_messages),
        dedupe_seen=select(device_messages.c.id).where(device_messages.c.dedupe == bindparam("k_dedupe")),
        new_device=ins(devices).on_conflict_do_nothing(),
        new_camera=ins(cameras).on_conflict_do_nothing(),
        device_seen=update(devices).where(devices.c.device == bindparam("k_device")),
        camera_update=update(cameras).where(
            and_(cameras.c.device == bindparam("k_device"), cameras.c.camera == bindparam("k_camera"))
        ),
        insert_reject=insert(rejects),
        max_seq=select(devices.c.max_seq).where(devices.c.device == bindparam("k_device")),
    )
