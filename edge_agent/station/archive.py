"""Store classified messages in one transaction: rows, dedupe, seq gaps, thumbnail checks.

The caller has already written every picture file durably (`PictureStore.put` + `sync`); after
`store()` returns, the whole batch is committed and may be acknowledged to the broker. One writer
(the ingest thread) owns the fleet rows, so it keeps what it knows of them in memory, updated
only once a batch has committed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from edge_agent.contract import Event
from edge_agent.station.db.ops import bump
from edge_agent.station.db.statements import build
from edge_agent.station.gaps import record_seq
from edge_agent.station.inbox import DeviceRecord, EventRecord, PictureRecord, Record, Reject
from edge_agent.station.thumbcheck import flag_thumbnails

HEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class Received:
    broker: str
    received_us: int
    record: Record


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class _Pending:
    """What this batch learnt about the fleet, kept only if it commits."""

    devices: set[str] = field(default_factory=set)
    cameras: set[tuple[str, str]] = field(default_factory=set)
    max_seq: dict[str, int] = field(default_factory=dict)
    device_event: dict[str, int] = field(default_factory=dict)
    camera_event: dict[tuple[str, str], int] = field(default_factory=dict)


def us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _tags(values: list[str]) -> str:
    return "," + ",".join(sorted(set(values))) + "," if values else ""


def _merge_tags(old: str, new: list[str]) -> str:
    return _tags([v for v in old.strip(",").split(",") if v] + new)


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sql = build(engine.dialect.name)
        self._devices: set[str] = set()
        self._cameras: set[tuple[str, str]] = set()
        self._max_seq: dict[str, int | None] = {}

    def store(self, batch: list[Received]) -> BatchResult:
        result, pending = BatchResult(), _Pending()
        with self.engine.begin() as conn:
            for item in batch:
                self._one(conn, item, result, pending)
            self._flush(conn, pending)
            bump(conn, result.counts)
        self._devices |= pending.devices
        self._cameras |= pending.cameras
        self._max_seq.update(pending.max_seq)
        return result

    def flag_thumbnails(self, older_than_us: int) -> int:
        return flag_thumbnails(self.engine, older_than_us)

    def _one(self, conn: Connection, item: Received, result: BatchResult, p: _Pending) -> None:
        rec = item.record
        if isinstance(rec, Reject):
            conn.execute(
                self.sql.insert_reject,
                {
                    "received_us": item.received_us,
                    "broker": item.broker,
                    "topic": rec.topic[:1024],
                    "reason": rec.reason[:1024],
                    "size": len(rec.payload),
                    "sha256": hashlib.sha256(rec.payload).hexdigest(),
                    "head": rec.payload[:HEAD_BYTES],
                },
            )
            result.rejected += 1
            result.counts[f"rejected: {rec.reason.split(':')[0]}"] += 1
            return
        self._device(conn, rec.device, item, p)
        if isinstance(rec, EventRecord):
            new = self._event(conn, item, rec, p)
        elif isinstance(rec, PictureRecord):
            new = self._picture(conn, item, rec, p)
        else:
            new = self._device_message(conn, item, rec, p)
        key = "stored" if new else "duplicates"
        result.counts[key] += 1
        if new:
            result.stored += 1
        else:
            result.duplicates += 1

    # -- the fleet ---------------------------------------------------------------------------

    def _device(self, conn: Connection, device: str, item: Received, p: _Pending) -> None:
        if device not in self._devices and device not in p.devices:
            conn.execute(
                self.sql.new_device,
                {"device": device, "broker": item.broker, "first_seen_us": item.received_us},
            )
            p.devices.add(device)

    def _camera(self, conn: Connection, device: str, camera: str, p: _Pending) -> None:
        key = (device, camera)
        if key not in self._cameras and key not in p.cameras:
            conn.execute(self.sql.new_camera, {"device": device, "camera": camera})
            p.cameras.add(key)

    def _flush(self, conn: Connection, p: _Pending) -> None:
        for device, top in p.max_seq.items():
            values: dict[str, Any] = {"k_device": device, "max_seq": top}
            if device in p.device_event:
                values["last_event_us"] = p.device_event.pop(device)
            conn.execute(self.sql.device_seen, values)
        for device, at in p.device_event.items():
            conn.execute(self.sql.device_seen, {"k_device": device, "last_event_us": at})
        for (device, camera), at in p.camera_event.items():
            conn.execute(
                self.sql.camera_update, {"k_device": device, "k_camera": camera, "last_event_us": at}
            )

    def _device_message(self, conn: Connection, item: Received, rec: DeviceRecord, p: _Pending) -> bool:
        if rec.dedupe is not None and conn.execute(self.sql.dedupe_seen, {"k_dedupe": rec.dedupe}).first():
            return False
        if rec.kind != "motion":
            conn.execute(
                self.sql.insert_device_message,
                {
                    "device": rec.device,
                    "camera": rec.camera,
                    "kind": rec.kind,
                    "received_us": item.received_us,
                    "broker": item.broker,
                    "dedupe": rec.dedupe,
                    "raw": rec.raw,
                },
            )
        if rec.kind == "status":
            from sqlalchemy import select

            from edge_agent.station.db.schema import devices

            status = rec.raw.decode()
            old = conn.execute(select(devices.c.status).where(devices.c.device == rec.device)).scalar()
            if old != status:
                conn.execute(
                    self.sql.device_seen,
                    {"k_device": rec.device, "status": status, "status_us": item.received_us},
                )
        elif rec.kind == "stats":
            conn.execute(
                self.sql.device_seen, {"k_device": rec.device, "stats": rec.raw, "stats_us": item.received_us}
            )
        elif rec.kind in ("health", "motion"):
            self._camera(conn, rec.device, rec.camera, p)
            values: dict[str, Any] = (
                {"health": rec.raw, "health_us": item.received_us}
                if rec.kind == "health"
                else {"motion": rec.raw.decode()}
            )
            conn.execute(self.sql.camera_update, {"k_device": rec.device, "k_camera": rec.camera, **values})
        return True

    # -- pictures ----------------------------------------------------------------------------

    def _picture(self, conn: Connection, item: Received, rec: PictureRecord, p: _Pending) -> bool:
        conn.execute(
            self.sql.new_picture,
            {
                "sha256": rec.sha256,
                "size": len(rec.data),
                "first_received_us": item.received_us,
                "last_used_us": item.received_us,
            },
        ).first()
        new = (
            conn.execute(
                self.sql.new_picture_use,
                {
                    "kind": rec.kind,
                    "device": rec.device,
                    "camera": rec.camera,
                    "event_id": rec.event_id,
                    "sha256": rec.sha256,
                    "received_us": item.received_us,
                    "broker": item.broker,
                },
            ).first()
            is not None
        )
        self._camera(conn, rec.device, rec.camera, p)
        if rec.kind == "snapshot":
            conn.execute(
                self.sql.camera_update,
                {"k_device": rec.device, "k_camera": rec.camera, "snapshot_sha256": rec.sha256},
            )
        else:
            conn.execute(
                self.sql.thumb_ok, {"k_device": rec.device, "k_event": rec.event_id, "k_sha": rec.sha256}
            )
        return new

    # -- events ------------------------------------------------------------------------------

    def _event(self, conn: Connection, item: Received, rec: EventRecord, p: _Pending) -> bool:
        e = rec.event
        thumb = e.thumbnail.sha256 if e.thumbnail else None
        pole = e.end if e.type == "end" and e.end is not None else e.start
        row = conn.execute(
            self.sql.new_event_message,
            {
                "device": e.device,
                "camera": e.camera,
                "seq": e.seq,
                "event_id": e.id,
                "type": e.type,
                "pole_us": us(pole),
                "received_us": item.received_us,
                "broker": item.broker,
                "thumb_sha256": thumb,
                "clock_synced": e.clock.synced,
                "raw": rec.raw,
            },
        ).first()
        if row is None:
            return False
        top = p.max_seq.get(e.device, self._max_seq.get(e.device))
        if e.device not in p.max_seq and e.device not in self._max_seq:
            top = conn.execute(self.sql.max_seq, {"k_device": e.device}).scalar()
        p.max_seq[e.device] = record_seq(conn, e.device, e.seq, top, item.received_us)
        self._camera(conn, e.device, e.camera, p)
        p.device_event[e.device] = item.received_us
        p.camera_event[(e.device, e.camera)] = item.received_us
        self._event_row(conn, item, e, thumb)
        return True

    def _thumb_status(self, conn: Connection, e: Event, thumb: str | None) -> str:
        if thumb is None:
            return "none"
        have = conn.execute(
            self.sql.thumb_present, {"k_device": e.device, "k_event": e.id, "k_sha": thumb}
        ).first()
        return "ok" if have else "pending"

    def _event_row(self, conn: Connection, item: Received, e: Event, thumb: str | None) -> None:
        row = conn.execute(self.sql.event_by_key, {"k_device": e.device, "k_event": e.id}).first()
        lines = [c.line for c in e.crossings]
        score = max(e.score, e.top_score or 0.0)
        if row is None:
            conn.execute(
                self.sql.insert_event,
                {
                    "device": e.device,
                    "camera": e.camera,
                    "event_id": e.id,
                    "label": e.label,
                    "start_us": us(e.start),
                    "end_us": us(e.end) if e.end else None,
                    "last_type": e.type,
                    "last_seq": e.seq,
                    "score": score,
                    "stationary": e.stationary,
                    "zones": _tags(e.zones),
                    "lines": _tags(lines),
                    "clock_synced": e.clock.synced,
                    "thumb_sha256": thumb,
                    "thumb_status": self._thumb_status(conn, e, thumb),
                    "first_received_us": item.received_us,
                    "last_received_us": item.received_us,
                    "messages": 1,
                },
            )
            return
        newest = e.seq > row.last_seq  # the newest message describes the event; a late one does not
        conn.execute(
            self.sql.update_event,
            {
                "k_id": row.id,
                "score": max(row.score, score),
                "zones": _merge_tags(row.zones, e.zones),
                "lines": _merge_tags(row.lines, lines),
                "clock_synced": row.clock_synced and e.clock.synced,
                "last_received_us": max(row.last_received_us, item.received_us),
                "messages": row.messages + 1,
                "label": e.label if newest else row.label,
                "last_type": e.type if newest else row.last_type,
                "last_seq": max(e.seq, row.last_seq),
                "stationary": e.stationary if newest else row.stationary,
                "end_us": (us(e.end) if e.end else row.end_us) if newest else row.end_us,
                "thumb_sha256": thumb if newest else row.thumb_sha256,
                "thumb_status": self._thumb_status(conn, e, thumb) if newest else row.thumb_status,
            },
        )
