"""Retention of footage at the station: segment copies by age and under the disk watermark, chain
records by age, never what a held case needs.

A segment copy is held while a clip of an event in a held case names it; every other copy goes
after `footage.keep_days` (by when it came), oldest first, and first of all when the disk is under
its watermark (footage is the bulk). Its row stays, `expired`, so a request says "deleted by the
station's retention" instead of losing the segment. The chain records and heads (small, but one
every few seconds per camera) go after `footage.records_days`, except the runs a held clip's
bag needs (from its first segment to the first signed head after its last).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, exists, not_, or_, select, update

from edge_agent.station.store.footage_files import FootageFiles, SegmentKey
from edge_agent.station.store.footage_tables import (
    clip_requests,
    clip_segments,
    footage_files,
    footage_heads,
    footage_segments,
)
from edge_agent.station.store.ops import bump
from edge_agent.station.store.schema import case_events, cases

FINAL = ("verified", "mismatch")


@dataclass
class FootageDeleted:
    segments: int = 0
    bytes: int = 0
    records: int = 0


def _held_file() -> object:
    """Condition: this footage_files row is named by a clip of an event in a held case."""
    f, c, r = footage_files.c, clip_segments.c, clip_requests.c
    return exists(
        select(c.request_id)
        .join(clip_requests, r.id == c.request_id)
        .join(case_events, and_(case_events.c.device == r.device, case_events.c.event_id == r.event_id))
        .join(cases, cases.c.id == case_events.c.case_id)
        .where(
            and_(
                cases.c.held.is_(True),
                r.device == f.device,
                r.camera == f.camera,
                c.chain == f.chain,
                c.idx == f.idx,
            )
        )
    )


class FootageRetention:
    def __init__(self, engine: Engine, files: FootageFiles) -> None:
        self.engine = engine
        self.files = files

    def segments_before(self, cutoff_us: int | None, limit: int = 500) -> FootageDeleted:
        """Delete the oldest unheld segment copies that came before `cutoff_us` (None: any)."""
        out = FootageDeleted()
        f = footage_files.c
        where = and_(f.state.in_(FINAL), not_(_held_file()))  # type: ignore[arg-type]
        if cutoff_us is not None:
            where = and_(where, f.updated_us < cutoff_us)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(f.device, f.camera, f.chain, f.idx).where(where).order_by(f.updated_us).limit(limit)
            ).all()
            for row in rows:
                conn.execute(
                    update(footage_files)
                    .where(and_(f.device == row.device, f.camera == row.camera, f.chain == row.chain))
                    .where(f.idx == row.idx)
                    .values(state="expired", reason="deleted by the station's retention", have_bytes=0)
                )
            out.segments = len(rows)
        for row in rows:  # the rows committed first: a crash leaves a file too many, never a lie
            out.bytes += self.files.remove(SegmentKey(row.device, row.camera, row.chain, row.idx))
        if out.segments:
            with self.engine.begin() as conn:
                bump(
                    conn, {"retention: footage segments": out.segments, "retention: footage bytes": out.bytes}
                )
        return out

    def records_before(self, cutoff_us: int) -> int:
        """Delete chain records and heads that came before `cutoff_us`, except the runs the clips
        whose copies are still here need for their bags."""
        with self.engine.begin() as conn:
            runs = _needed_runs(conn)
            total = 0
            for table in (footage_segments, footage_heads):
                c = table.c
                keep = [
                    and_(c.device == d, c.camera == cam, c.chain == ch, c.idx >= lo, c.idx <= hi)
                    for d, cam, ch, lo, hi in runs
                ]
                where = c.received_us < cutoff_us
                if keep:
                    where = and_(where, not_(or_(*keep)))
                total += conn.execute(delete(table).where(where)).rowcount or 0
            bump(conn, {"retention: footage records": total})
        return total


def _needed_runs(conn: Connection) -> list[tuple[str, str, str, int, int]]:
    """(device, camera, chain, first, last) of the records that clips with copies here (or coming)
    need for their bags: a held case's clips keep their copies, so their runs stay too."""
    r, c, f = clip_requests.c, clip_segments.c, footage_files.c
    held = (
        select(r.device, r.camera, c.chain, c.idx)
        .join(clip_segments, c.request_id == r.id)
        .join(
            footage_files,
            and_(f.device == r.device, f.camera == r.camera, f.chain == c.chain, f.idx == c.idx),
        )
        .where(f.state.in_(("verified", "mismatch", "wanted", "arriving")))
    )
    spans: dict[tuple[str, str, str], list[int]] = {}
    for device, camera, chain, idx in conn.execute(held):
        span = spans.setdefault((device, camera, chain), [idx, idx])
        span[0], span[1] = min(span[0], idx), max(span[1], idx)
    out = []
    h = footage_heads.c
    for (device, camera, chain), (lo, hi) in spans.items():
        head = conn.execute(
            select(h.idx)
            .where(and_(h.device == device, h.camera == camera, h.chain == chain, h.idx >= hi))
            .order_by(h.idx)
            .limit(1)
        ).scalar()
        out.append((device, camera, chain, lo, hi if head is None else int(head)))
    return out
