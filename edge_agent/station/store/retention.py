"""Retention: by age and by a disk watermark, pictures before events, oldest first.

Events of a held case are never deleted, nor their pictures. Every deletion is counted (the
`counters` table: `retention: events`, `retention: pictures`, `retention: bytes`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, and_, delete, exists, select, tuple_

from edge_agent.station.store.footage_retention import FootageDeleted, FootageRetention
from edge_agent.station.store.ops import bump
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import (
    case_events,
    cases,
    device_messages,
    event_messages,
    events,
    picture_uses,
    pictures,
    rejects,
)

CHUNK = 2000
DAY_US = 86_400_000_000


@dataclass
class Deleted:
    events: int = 0
    pictures: int = 0
    bytes: int = 0
    uses: int = 0  # picture uses (thumbnail versions, snapshots) removed
    files: list[str] = field(default_factory=list)


def free_percent(path: Path) -> float:
    usage = shutil.disk_usage(path)
    return 100.0 * usage.free / usage.total


def _held() -> object:
    """Condition: the event of this row (device, event_id) belongs to a case on hold."""
    return exists(
        select(case_events.c.case_id)
        .join(cases, cases.c.id == case_events.c.case_id)
        .where(
            and_(
                cases.c.held.is_(True),
                case_events.c.device == events.c.device,
                case_events.c.event_id == events.c.event_id,
            )
        )
    )


def _use_held() -> object:
    return exists(
        select(case_events.c.case_id)
        .join(cases, cases.c.id == case_events.c.case_id)
        .where(
            and_(
                cases.c.held.is_(True),
                case_events.c.device == picture_uses.c.device,
                case_events.c.event_id == picture_uses.c.event_id,
            )
        )
    )


class Retention:
    def __init__(
        self,
        engine: Engine,
        store: PictureStore,
        free: Callable[[], float] | None = None,
        footage: FootageRetention | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.free = free or (lambda: free_percent(store.root))
        self.footage = footage
        self.footage_deleted = FootageDeleted()  # what the last run deleted of footage

    def _drop_pictures(self, conn: Connection, shas: set[str], out: Deleted) -> None:
        """Delete the rows of pictures no longer used; their files go once the rows are committed."""
        for sha in shas:
            if conn.execute(select(picture_uses.c.id).where(picture_uses.c.sha256 == sha).limit(1)).first():
                continue
            size = conn.execute(select(pictures.c.size).where(pictures.c.sha256 == sha)).scalar()
            conn.execute(delete(pictures).where(pictures.c.sha256 == sha))
            out.bytes += int(size or 0)
            out.pictures += 1
            out.files.append(sha)

    def _unlink(self, out: Deleted) -> Deleted:
        for sha in out.files:
            self.store.delete(sha)
        out.files.clear()
        return out

    def pictures_before(self, cutoff_us: int, limit: int = CHUNK) -> Deleted:
        """Delete the oldest picture uses (not held) received before `cutoff_us`."""
        out = Deleted()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(picture_uses.c.id, picture_uses.c.sha256)
                .where(and_(picture_uses.c.received_us < cutoff_us, ~_use_held()))
                .order_by(picture_uses.c.received_us)
                .limit(limit)
            ).all()
            if rows:
                conn.execute(delete(picture_uses).where(picture_uses.c.id.in_([r.id for r in rows])))
                out.uses = len(rows)
                self._drop_pictures(conn, {r.sha256 for r in rows}, out)
            bump(conn, {"retention: pictures": out.pictures, "retention: bytes": out.bytes})
        return self._unlink(out)

    def events_before(self, cutoff_us: int, limit: int = CHUNK) -> Deleted:
        """Delete the oldest events (not held) received before `cutoff_us`, with their pictures.

        Age is the station's receive time: a pole's clock may be wrong, the station's is not."""
        out = Deleted()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(events.c.id, events.c.device, events.c.event_id)
                .where(and_(events.c.first_received_us < cutoff_us, ~_held()))
                .order_by(events.c.first_received_us)
                .limit(limit)
            ).all()
            if not rows:
                return out
            keys = [(r.device, r.event_id) for r in rows]
            shas = set(
                conn.execute(
                    select(picture_uses.c.sha256).where(
                        tuple_(picture_uses.c.device, picture_uses.c.event_id).in_(keys)
                    )
                ).scalars()
            )
            conn.execute(
                delete(picture_uses).where(tuple_(picture_uses.c.device, picture_uses.c.event_id).in_(keys))
            )
            conn.execute(
                delete(event_messages).where(
                    tuple_(event_messages.c.device, event_messages.c.event_id).in_(keys)
                )
            )
            conn.execute(delete(events).where(events.c.id.in_([r.id for r in rows])))
            out.events = len(rows)
            self._drop_pictures(conn, shas, out)
            bump(
                conn,
                {
                    "retention: events": out.events,
                    "retention: pictures": out.pictures,
                    "retention: bytes": out.bytes,
                },
            )
        return self._unlink(out)

    def _sweep(self, step: Callable[[int], Deleted], cutoff_us: int, total: Deleted) -> None:
        while True:
            d = step(cutoff_us)
            total.events += d.events
            total.pictures += d.pictures
            total.bytes += d.bytes
            if not d.events and not d.uses:
                return

    def run(
        self,
        now_us: int,
        events_days: float,
        pictures_days: float,
        min_free_percent: float,
        footage_days: float = 30.0,
        records_days: float = 14.0,
    ) -> Deleted:
        total = Deleted()
        self.footage_deleted = FootageDeleted()
        if self.footage is not None:
            self._footage(now_us - int(footage_days * DAY_US), min_free_percent)
            self.footage_deleted.records = self.footage.records_before(now_us - int(records_days * DAY_US))
        self._sweep(self.pictures_before, now_us - int(pictures_days * DAY_US), total)
        self._sweep(self.events_before, now_us - int(events_days * DAY_US), total)
        with self.engine.begin() as conn:
            old = now_us - int(events_days * DAY_US)
            conn.execute(delete(device_messages).where(device_messages.c.received_us < old))
            conn.execute(delete(rejects).where(rejects.c.received_us < old))
        # Below the watermark: the oldest pictures go first, then the oldest events.
        while self.free() < min_free_percent:
            d = self.pictures_before(now_us, limit=500)
            if not d.uses:
                d = self.events_before(now_us, limit=500)
                if not d.events:
                    break  # only held cases left: nothing more retention may delete
            total.events += d.events
            total.pictures += d.pictures
            total.bytes += d.bytes
        return total

    def _footage(self, cutoff_us: int, min_free_percent: float) -> None:
        """Footage copies by age, then (the bulk of the disk) under the watermark before pictures."""
        assert self.footage is not None
        for cutoff in (cutoff_us, None):
            while cutoff is not None or self.free() < min_free_percent:
                d = self.footage.segments_before(cutoff)
                self.footage_deleted.segments += d.segments
                self.footage_deleted.bytes += d.bytes
                if not d.segments:
                    break
