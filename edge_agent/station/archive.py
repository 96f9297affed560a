"""Store classified messages in one transaction: rows, dedupe, seq gaps, thumbnail checks.

The caller has already written every picture file durably (`PictureStore.put`); after `store()`
returns, the whole batch is committed and may be acknowledged to the broker.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, and_, insert, select, update

from edge_agent.contract import Event
from edge_agent.station.db.ops import bump, insert_ignore
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
from edge_agent.station.gaps import record_seq
from edge_agent.station.inbox import DeviceRecord, EventRecord, PictureRecord, Record, Reject

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


def us(t: object) -> int:
    from datetime import datetime

    assert isinstance(t, datetime)
    return int(t.timestamp() * 1_000_000)


def _tags(values: list[str]) -> str:
    return "," + ",".join(sorted(set(values))) + "," if values else ""


def _merge_tags(old: str, new: list[str]) -> str:
    return _tags([v for v in old.strip(",").split(",") if v] + new)


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(self, batch: list[Received]) -> BatchResult:
        result = BatchResult()
        with self.engine.begin() as conn:
            for item in batch:
                self._one(conn, item, result)
            bump(conn, result.counts)
        return result

    def _one(self, conn: Connection, item: Received, result: BatchResult) -> None:
        rec = item.record
        if isinstance(rec, Reject):
            self._reject(conn, item, rec)
            result.rejected += 1
            result.counts[f"rejected: {rec.reason.split(':')[0]}"] += 1
            return
        self._touch_device(conn, rec.device, item)
        if isinstance(rec, EventRecord):
            new = self._event(conn, item, rec)
        elif isinstance(rec, PictureRecord):
            new = self._picture(conn, item, rec)
        else:
            new = self._device_message(conn, item, rec)
        if new:
            result.stored += 1
            result.counts["stored"] += 1
        else:
            result.duplicates += 1
            result.counts["duplicates"] += 1

    # -- rejects -----------------------------------------------------------------------------

    def _reject(self, conn: Connection, item: Received, rec: Reject) -> None:
        import hashlib

        conn.execute(
            insert(rejects).values(
                received_us=item.received_us,
                broker=item.broker,
                topic=rec.topic[:1024],
                reason=rec.reason[:1024],
                size=len(rec.payload),
                sha256=hashlib.sha256(rec.payload).hexdigest(),
                head=rec.payload[:HEAD_BYTES],
            )
        )

    # -- devices -----------------------------------------------------------------------------

    def _touch_device(self, conn: Connection, device: str, item: Received) -> None:
        insert_ignore(
            conn, devices, {"device": device, "broker": item.broker, "first_seen_us": item.received_us}
        )

    def _touch_camera(self, conn: Connection, device: str, camera: str) -> None:
        insert_ignore(conn, cameras, {"device": device, "camera": camera})

    def _device_message(self, conn: Connection, item: Received, rec: DeviceRecord) -> bool:
        if (
            rec.dedupe is not None
            and conn.execute(
                select(device_messages.c.id).where(device_messages.c.dedupe == rec.dedupe)
            ).first()
        ):
            return False
        if rec.kind != "motion":
            conn.execute(
                insert(device_messages).values(
                    device=rec.device,
                    camera=rec.camera,
                    kind=rec.kind,
                    received_us=item.received_us,
                    broker=item.broker,
                    dedupe=rec.dedupe,
                    raw=rec.raw,
                )
            )
        dev = devices.c.device == rec.device
        if rec.kind == "status":
            status = rec.raw.decode()
            old = conn.execute(select(devices.c.status).where(dev)).scalar()
            if old != status:
                conn.execute(update(devices).where(dev).values(status=status, status_us=item.received_us))
        elif rec.kind == "stats":
            conn.execute(update(devices).where(dev).values(stats=rec.raw, stats_us=item.received_us))
        elif rec.kind in ("health", "motion"):
            self._touch_camera(conn, rec.device, rec.camera)
            cam = and_(cameras.c.device == rec.device, cameras.c.camera == rec.camera)
            values = (
                {"health": rec.raw, "health_us": item.received_us}
                if rec.kind == "health"
                else {"motion": rec.raw.decode()}
            )
            conn.execute(update(cameras).where(cam).values(**values))
        return True

    # -- pictures ----------------------------------------------------------------------------

    def _picture(self, conn: Connection, item: Received, rec: PictureRecord) -> bool:
        if not insert_ignore(
            conn,
            pictures,
            {
                "sha256": rec.sha256,
                "size": len(rec.data),
                "first_received_us": item.received_us,
                "last_used_us": item.received_us,
            },
        ):
            conn.execute(
                update(pictures).where(pictures.c.sha256 == rec.sha256).values(last_used_us=item.received_us)
            )
        new = insert_ignore(
            conn,
            picture_uses,
            {
                "kind": rec.kind,
                "device": rec.device,
                "camera": rec.camera,
                "event_id": rec.event_id,
                "sha256": rec.sha256,
                "received_us": item.received_us,
                "broker": item.broker,
            },
        )
        self._touch_camera(conn, rec.device, rec.camera)
        if rec.kind == "snapshot":
            conn.execute(
                update(cameras)
                .where(and_(cameras.c.device == rec.device, cameras.c.camera == rec.camera))
                .values(snapshot_sha256=rec.sha256)
            )
        else:
            conn.execute(
                update(events)
                .where(
                    and_(
                        events.c.device == rec.device,
                        events.c.event_id == rec.event_id,
                        events.c.thumb_sha256 == rec.sha256,
                    )
                )
                .values(thumb_status="ok")
            )
        return new

    # -- events ------------------------------------------------------------------------------

    def _event(self, conn: Connection, item: Received, rec: EventRecord) -> bool:
        e = rec.event
        thumb = e.thumbnail.sha256 if e.thumbnail else None
        pole = e.end if e.type == "end" and e.end is not None else e.start
        if not insert_ignore(
            conn,
            event_messages,
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
        ):
            return False
        record_seq(conn, e.device, e.seq, item.received_us)
        self._touch_camera(conn, e.device, e.camera)
        conn.execute(
            update(cameras)
            .where(and_(cameras.c.device == e.device, cameras.c.camera == e.camera))
            .values(last_event_us=item.received_us)
        )
        conn.execute(
            update(devices).where(devices.c.device == e.device).values(last_event_us=item.received_us)
        )
        self._event_row(conn, item, e, thumb)
        return True

    def _thumb_status(self, conn: Connection, e: Event, thumb: str | None) -> str:
        if thumb is None:
            return "none"
        have = conn.execute(
            select(picture_uses.c.id).where(
                and_(
                    picture_uses.c.kind == "thumbnail",
                    picture_uses.c.device == e.device,
                    picture_uses.c.event_id == e.id,
                    picture_uses.c.sha256 == thumb,
                )
            )
        ).first()
        return "ok" if have else "pending"

    def _event_row(self, conn: Connection, item: Received, e: Event, thumb: str | None) -> None:
        key = and_(events.c.device == e.device, events.c.event_id == e.id)
        row = conn.execute(select(events).where(key)).first()
        lines = [c.line for c in e.crossings]
        score = max(e.score, e.top_score or 0.0)
        if row is None:
            conn.execute(
                insert(events).values(
                    device=e.device,
                    camera=e.camera,
                    event_id=e.id,
                    label=e.label,
                    start_us=us(e.start),
                    end_us=us(e.end) if e.end else None,
                    last_type=e.type,
                    last_seq=e.seq,
                    score=score,
                    stationary=e.stationary,
                    zones=_tags(e.zones),
                    lines=_tags(lines),
                    clock_synced=e.clock.synced,
                    thumb_sha256=thumb,
                    thumb_status=self._thumb_status(conn, e, thumb),
                    first_received_us=item.received_us,
                    last_received_us=item.received_us,
                    messages=1,
                )
            )
            return
        values: dict[str, object] = {
            "score": max(row.score, score),
            "zones": _merge_tags(row.zones, e.zones),
            "lines": _merge_tags(row.lines, lines),
            "clock_synced": row.clock_synced and e.clock.synced,
            "last_received_us": max(row.last_received_us, item.received_us),
            "messages": row.messages + 1,
        }
        if e.seq > row.last_seq:  # the newest message describes the event; a late one does not
            values.update(
                label=e.label,
                last_type=e.type,
                last_seq=e.seq,
                stationary=e.stationary,
                end_us=us(e.end) if e.end else row.end_us,
                thumb_sha256=thumb,
                thumb_status=self._thumb_status(conn, e, thumb),
            )
        conn.execute(update(events).where(key).values(**values))

    # -- sweeps ------------------------------------------------------------------------------

    def flag_thumbnails(self, older_than_us: int) -> int:
        """Events whose named thumbnail has not come: `mismatch` if a picture came under the
        event's thumbnail topic that no message of the event names (its bytes do not hash to the
        sha256 the event names), else `missing`."""
        flagged = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(events.c.id, events.c.device, events.c.event_id).where(
                    and_(events.c.thumb_status == "pending", events.c.last_received_us < older_than_us)
                )
            ).all()
            for r in rows:
                named = select(event_messages.c.thumb_sha256).where(
                    and_(event_messages.c.device == r.device, event_messages.c.event_id == r.event_id)
                )
                other = conn.execute(
                    select(picture_uses.c.id).where(
                        and_(
                            picture_uses.c.kind == "thumbnail",
                            picture_uses.c.device == r.device,
                            picture_uses.c.event_id == r.event_id,
                            picture_uses.c.sha256.not_in(
                                named.where(event_messages.c.thumb_sha256.is_not(None))
                            ),
                        )
                    )
                ).first()
                status = "mismatch" if other else "missing"
                conn.execute(update(events).where(events.c.id == r.id).values(thumb_status=status))
                flagged += 1
            bump(conn, {"thumbnails flagged": flagged})
        return flagged
