"""Store classified messages in one transaction: rows, dedupe, seq gaps, thumbnail checks.

The caller has already written every picture file durably (`PictureStore.put` + `sync`); after
`store()` returns, the whole batch is committed and may be acknowledged to the broker.

A batch costs a fixed handful of statements whatever its size (set-based: multi-row inserts,
`ON CONFLICT DO NOTHING RETURNING` for the dedupe, `IN` look-ups of the batch's keys), so the
same result as storing its messages one by one in the order they came, at a fraction of the
round trips. One writer (the ingest thread) owns the fleet rows, so it keeps what it knows of
them in memory, updated only once a batch has committed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from edge_agent.contract import Event
from edge_agent.station.ingest.arrivals import Arrivals
from edge_agent.station.ingest.eventrows import Thumb, store_events, us
from edge_agent.station.ingest.footage import Footage, FootageNews
from edge_agent.station.ingest.gaps import record_seqs
from edge_agent.station.ingest.inbox import (
    ChunkRecord,
    ClipNoticeRecord,
    DeviceRecord,
    EventRecord,
    FootageRecord,
    PictureRecord,
    Record,
    Reject,
)
from edge_agent.station.ingest.thumbcheck import flag_thumbnails
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.ops import bump
from edge_agent.station.store.statements import build, chunks, dedupe_seen, device_rows

HEAD_BYTES = 512

__all__ = ["Archive", "BatchResult", "Received", "us"]


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

    def add(self, new: bool) -> None:
        if new:
            self.stored += 1
        else:
            self.duplicates += 1
        self.counts["stored" if new else "duplicates"] += 1


@dataclass
class _Fleet:
    """What this batch does to the fleet rows, written once at its end, kept only if it commits."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # new device -> its row
    cameras: set[tuple[str, str]] = field(default_factory=set)  # new cameras
    device_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    camera_values: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    max_seq: dict[str, int] = field(default_factory=dict)


def _by_columns(rows: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group update parameters by the columns they set (one executemany per group)."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(frozenset(r), []).append(r)
    return list(groups.values())


class Archive:
    def __init__(self, engine: Engine, footage_files: FootageFiles | None = None) -> None:
        self.engine = engine
        self.sql = build(engine.dialect.name)
        self._devices: set[str] = set()
        self._cameras: set[tuple[str, str]] = set()
        self._max_seq: dict[str, int | None] = {}
        self.footage = Footage()
        self.arrivals = Arrivals(footage_files)

    def store(self, batch: list[Received]) -> BatchResult:
        result, fleet = BatchResult(), _Fleet()
        with self.engine.begin() as conn:
            self._rejects(conn, [i for i in batch if isinstance(i.record, Reject)], result)
            kept = [i for i in batch if not isinstance(i.record, Reject)]
            for item in kept:
                self._device(item.record.device, item, fleet)  # type: ignore[union-attr]
            if fleet.devices:
                self.sql.new_devices(conn, list(fleet.devices.values()))
            came = self._pictures(conn, kept, result, fleet)
            self._device_messages(conn, kept, result, fleet)
            self._events(conn, kept, result, fleet, came)
            news = self._footage(conn, kept, result)
            self._flush(conn, fleet)
            bump(conn, result.counts)
        self.footage.committed(news)
        self._devices |= set(fleet.devices)
        self._cameras |= fleet.cameras
        self._max_seq.update(fleet.max_seq)
        return result

    def flag_thumbnails(self, older_than_us: int) -> int:
        return flag_thumbnails(self.engine, older_than_us)

    # -- rejects -----------------------------------------------------------------------------

    def _rejects(self, conn: Connection, items: list[Received], result: BatchResult) -> None:
        rows = []
        for item in items:
            rec = item.record
            assert isinstance(rec, Reject)
            rows.append(
                {
                    "received_us": item.received_us,
                    "broker": item.broker,
                    "topic": rec.topic[:1024],
                    "reason": rec.reason[:1024],
                    "size": len(rec.payload),
                    "sha256": hashlib.sha256(rec.payload).hexdigest(),
                    "head": rec.payload[:HEAD_BYTES],
                }
            )
            result.rejected += 1
            result.counts[f"rejected: {rec.reason.split(':')[0]}"] += 1
        if rows:
            self.sql.insert_rejects(conn, rows)

    # -- footage -----------------------------------------------------------------------------

    def _footage(self, conn: Connection, items: list[Received], result: BatchResult) -> FootageNews:
        records = [(i.received_us, i.broker, i.record) for i in items if isinstance(i.record, FootageRecord)]
        stats = [
            (i.received_us, i.record.device, i.record.raw)
            for i in items
            if isinstance(i.record, DeviceRecord) and i.record.kind == "stats"
        ]
        news = self.footage.store(conn, records, stats)  # type: ignore[arg-type]
        chunks = [(i.received_us, i.broker, i.record) for i in items if isinstance(i.record, ChunkRecord)]
        notices = [(i.received_us, i.record) for i in items if isinstance(i.record, ClipNoticeRecord)]
        came = self.arrivals.store(conn, chunks, notices)  # type: ignore[arg-type]
        refused = news.rejects + came.rejects
        if refused:
            self._rejects(conn, [Received(broker, at, why) for at, broker, why in refused], result)
        stored, dupes = news.stored + came.stored + len(notices), news.duplicates + came.duplicates
        result.stored += stored
        result.duplicates += dupes
        result.counts["stored"] += stored
        result.counts["duplicates"] += dupes
        result.counts.update(news.counts)
        result.counts["footage: segments verified"] += came.verified
        result.counts["footage: segments not as recorded"] += came.mismatched
        return news

    # -- the fleet ---------------------------------------------------------------------------

    def _device(self, device: str, item: Received, f: _Fleet) -> None:
        if device not in self._devices and device not in f.devices:
            f.devices[device] = {"device": device, "broker": item.broker, "first_seen_us": item.received_us}

    def _camera(self, device: str, camera: str, f: _Fleet) -> None:
        if (device, camera) not in self._cameras:
            f.cameras.add((device, camera))

    def _flush(self, conn: Connection, f: _Fleet) -> None:
        for device, top in f.max_seq.items():
            f.device_values.setdefault(device, {})["max_seq"] = top
        if f.cameras:
            self.sql.new_cameras(conn, [{"device": d, "camera": c} for d, c in sorted(f.cameras)])
        devices = ({"k_device": d, **v} for d, v in sorted(f.device_values.items()))
        for group in _by_columns(devices):
            conn.execute(self.sql.device_seen, group)
        cams = ({"k_device": d, "k_camera": c, **v} for (d, c), v in sorted(f.camera_values.items()))
        for group in _by_columns(cams):
            conn.execute(self.sql.camera_update, group)

    def _device_messages(
        self, conn: Connection, items: list[Received], result: BatchResult, f: _Fleet
    ) -> None:
        mine = [(i, i.record) for i in items if isinstance(i.record, DeviceRecord)]
        if not mine:
            return
        keys = list({r.dedupe for _, r in mine if r.dedupe is not None})
        seen: set[str] = set()
        for part in chunks(keys):
            seen |= set(conn.execute(dedupe_seen(part)).scalars())
        status_of: dict[str, str | None] = {}
        polled = sorted({r.device for _, r in mine if r.kind == "status"})
        for part in chunks(polled):
            status_of |= {r.device: r.status for r in conn.execute(device_rows(part))}
        rows = []
        for item, rec in mine:
            new = rec.dedupe is None or rec.dedupe not in seen
            result.add(new)
            if not new:
                continue
            if rec.dedupe is not None:
                seen.add(rec.dedupe)
            if rec.kind != "motion":
                rows.append(
                    {
                        "device": rec.device,
                        "camera": rec.camera,
                        "kind": rec.kind,
                        "received_us": item.received_us,
                        "broker": item.broker,
                        "dedupe": rec.dedupe,
                        "raw": rec.raw,
                    }
                )
            self._fleet_news(item, rec, status_of, f)
        if rows:
            self.sql.insert_device_messages(conn, rows)

    def _fleet_news(
        self, item: Received, rec: DeviceRecord, status_of: dict[str, str | None], f: _Fleet
    ) -> None:
        if rec.kind == "status":
            status = rec.raw.decode()
            if status_of.get(rec.device) != status:  # the time it changed: "offline since"
                status_of[rec.device] = status
                f.device_values.setdefault(rec.device, {}).update(status=status, status_us=item.received_us)
        elif rec.kind == "stats":
            f.device_values.setdefault(rec.device, {}).update(stats=rec.raw, stats_us=item.received_us)
        elif rec.kind in ("health", "motion"):
            self._camera(rec.device, rec.camera, f)
            values = f.camera_values.setdefault((rec.device, rec.camera), {})
            if rec.kind == "health":
                values.update(health=rec.raw, health_us=item.received_us)
            else:
                values["motion"] = rec.raw.decode()

    # -- pictures ----------------------------------------------------------------------------

    def _pictures(
        self, conn: Connection, items: list[Received], result: BatchResult, f: _Fleet
    ) -> set[Thumb]:
        """Store the batch's picture rows and uses; returns the thumbnails that came."""
        mine = [(i, i.record) for i in items if isinstance(i.record, PictureRecord)]
        if not mine:
            return set()
        pics: dict[str, dict[str, Any]] = {}
        uses: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        for item, rec in mine:
            pics.setdefault(
                rec.sha256,
                {
                    "sha256": rec.sha256,
                    "size": len(rec.data),
                    "first_received_us": item.received_us,
                    "last_used_us": item.received_us,
                },
            )
            uses.setdefault(
                (rec.kind, rec.device, rec.camera, rec.event_id, rec.sha256),
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
        self.sql.new_pictures(conn, sorted(pics.values(), key=lambda p: p["sha256"]))
        fresh = {tuple(r) for r in self.sql.new_picture_uses(conn, list(uses.values()))}
        came: set[Thumb] = set()
        for _, rec in mine:
            key = (rec.kind, rec.device, rec.camera, rec.event_id, rec.sha256)
            result.add(key in fresh)
            fresh.discard(key)  # the same use twice in a batch: the second is a duplicate
            self._camera(rec.device, rec.camera, f)
            if rec.kind == "snapshot":
                f.camera_values.setdefault((rec.device, rec.camera), {})["snapshot_sha256"] = rec.sha256
            else:
                came.add((rec.device, rec.event_id, rec.sha256))
        return came

    # -- events ------------------------------------------------------------------------------

    def _events(
        self, conn: Connection, items: list[Received], result: BatchResult, f: _Fleet, came: set[Thumb]
    ) -> None:
        mine = [(i, i.record) for i in items if isinstance(i.record, EventRecord)]
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        for item, rec in mine:
            e = rec.event
            thumb = e.thumbnail.sha256 if e.thumbnail else None
            pole = e.end if e.type == "end" and e.end is not None else e.start
            rows.setdefault(
                (e.device, e.seq),
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
            )
        fresh = (
            {(d, int(s)) for d, s in self.sql.new_event_messages(conn, list(rows.values()))}
            if rows
            else set()
        )
        new = []
        for item, rec in mine:
            e = rec.event
            result.add((e.device, e.seq) in fresh)
            if (e.device, e.seq) in fresh:
                fresh.discard((e.device, e.seq))
                new.append((e, item.received_us))
        written = self._event_rows(conn, new, f, came)
        thumbs = sorted(t for t in came if t[:2] not in written)  # events not in this batch
        if thumbs:
            self.sql.thumb_ok(conn, [{"k_device": d, "k_event": e, "k_sha": s} for d, e, s in thumbs])

    def _event_rows(
        self, conn: Connection, new: list[tuple[Event, int]], f: _Fleet, came: set[Thumb]
    ) -> set[tuple[str, str]]:
        if not new:
            return set()
        arrivals: dict[str, list[tuple[int, int]]] = {}
        for e, at in new:
            arrivals.setdefault(e.device, []).append((e.seq, at))
            self._camera(e.device, e.camera, f)
            f.device_values.setdefault(e.device, {})["last_event_us"] = at
            f.camera_values.setdefault((e.device, e.camera), {})["last_event_us"] = at
        unknown = sorted(d for d in arrivals if d not in self._max_seq)
        tops = {d: self._max_seq.get(d) for d in arrivals}
        for part in chunks(unknown):
            tops |= {r.device: r.max_seq for r in conn.execute(device_rows(part))}
        f.max_seq.update(record_seqs(conn, arrivals, tops, self.sql.insert_gaps))
        return store_events(conn, self.sql, new, came)
