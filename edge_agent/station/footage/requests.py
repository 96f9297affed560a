"""Clip requests: what someone asked for, the segments that cover it, and where it stands.

`ask_range(conn, device, camera, from_us, to_us, by)` finds the segments the pole's chain records
say cover that time (from every chain of that camera), records the request and marks each
segment `wanted` unless the station has it already; `ask_event` does the same for an event with
the configured margins. A request that nothing covers is kept too, with the reason in a sentence
(the pole sent no footage records at all — recording is off there —, or none for that time: the
pole keeps only what its retention keeps). `status(conn, id)` says where a request stands from
its segments' states: `waiting` (for the pole; offline: kept and sent when it is back),
`uploading` n of m, `done`, `partial` or `unavailable` with each reason — never a silent "no
recording found" — and names the stretches of the range no segment covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from edge_agent.station.store.footage_tables import (
    clip_requests,
    clip_segments,
    footage_files,
    footage_segments,
)
from edge_agent.station.store.ops import insert_ignore, now_us
from edge_agent.station.store.schema import devices, events

GAP_US = 1_500_000  # more than this between one segment's end and the next one's start: a hole
OPEN_EVENT_US = 60_000_000  # an event not ended yet: its clip covers its first minute
SETTLE_US = 300_000_000  # records of a time may still come this long after it was asked for


def iso(t_us: int) -> str:
    """A time for a sentence: UTC, to the second."""
    return datetime.fromtimestamp(t_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ClipError(ValueError):
    """A request that cannot be made (unknown event, a range the wrong way round), in a sentence."""


@dataclass
class SegmentState:
    chain: str
    idx: int
    name: str
    start_us: int | None  # None: the record is gone (retention), only its copy's state is left
    end_us: int | None
    bytes: int | None
    have_bytes: int
    state: str
    reason: str


@dataclass
class ClipStatus:
    id: int
    device: str
    camera: str
    event_id: str | None
    from_us: int
    to_us: int
    requested_by: str
    requested_us: int
    state: str  # waiting | uploading | done | partial | unavailable
    detail: str
    segments: list[SegmentState] = field(default_factory=list)
    holes: list[tuple[int, int]] = field(default_factory=list)  # (from, to) no segment covers

    @property
    def verified(self) -> int:
        return sum(s.state == "verified" for s in self.segments)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.segments:
            out[s.state] = out.get(s.state, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "device": self.device,
            "camera": self.camera,
            "event_id": self.event_id,
            "from_us": self.from_us,
            "to_us": self.to_us,
            "requested_by": self.requested_by,
            "requested_us": self.requested_us,
            "state": self.state,
            "detail": self.detail,
            "segments": len(self.segments),
            "verified": self.verified,
            "counts": self.counts(),
            "bytes": sum(s.bytes or 0 for s in self.segments),
            "have_bytes": sum(s.have_bytes for s in self.segments),
            "holes": [list(h) for h in self.holes],
            "problems": [
                f"segment {s.idx} ({s.name}): {s.reason}"
                for s in self.segments
                if s.state in ("unavailable", "mismatch", "expired") or (s.reason and s.state == "wanted")
            ],
        }


def _nothing_there(conn: Connection, device: str, camera: str) -> str:
    s = footage_segments.c
    first, last = conn.execute(
        select(func.min(s.start_us), func.max(s.end_us)).where(and_(s.device == device, s.camera == camera))
    ).one()
    if first is None:
        return (
            f"{device}/{camera} has sent no footage records: recording is off on that pole, or its "
            "camera cannot be recorded (the pole's check-config says why)"
        )
    return (
        f"no segment of {device}/{camera} covers this time: the pole keeps only what its retention "
        f"keeps (recording.retain); its records span {iso(first)} to {iso(last)}"
    )


def ask_range(
    conn: Connection,
    device: str,
    camera: str,
    from_us: int,
    to_us: int,
    by: str,
    event_id: str | None = None,
    now: int | None = None,
) -> int:
    """Record a request for [from_us, to_us] of one camera; its id."""
    if to_us <= from_us:
        raise ClipError("the clip's end must come after its start")
    if to_us - from_us > 6 * 3600 * 1_000_000:
        raise ClipError("a clip is at most 6 hours; ask for several")
    now = now_us() if now is None else now
    request_id = conn.execute(
        clip_requests.insert()
        .values(
            device=device,
            camera=camera,
            event_id=event_id,
            from_us=from_us,
            to_us=to_us,
            requested_by=by[:128],
            requested_us=now,
            detail="",
            closed_us=None,
        )
        .returning(clip_requests.c.id)
    ).scalar_one()
    cover(conn, int(request_id), now)
    return int(request_id)


def cover(conn: Connection, request_id: int, now: int) -> int:
    """Add to a request the segments that cover it and it does not name yet (a pole publishes a
    segment's record once its retention kept it, seconds after the event); how many it gained."""
    r = conn.execute(select(clip_requests).where(clip_requests.c.id == request_id)).one()
    s, c, f = footage_segments.c, clip_segments.c, footage_files.c
    named = select(c.idx).where(and_(c.request_id == request_id, c.chain == s.chain))
    covering = conn.execute(
        select(s.chain, s.idx, s.name)
        .where(and_(s.device == r.device, s.camera == r.camera, s.start_us < r.to_us, s.end_us > r.from_us))
        .where(s.idx.not_in(named))
        .order_by(s.start_us, s.idx)
    ).all()
    for chain, idx, name in covering:
        conn.execute(clip_segments.insert().values(request_id=request_id, chain=chain, idx=idx))
        row = {"device": r.device, "camera": r.camera, "chain": chain, "idx": idx, "name": name}
        fresh = {"state": "wanted", "have_bytes": 0, "reason": "", "updated_us": now}
        if not insert_ignore(conn, footage_files, row | fresh):  # asked before: what the pole
            conn.execute(  # could not send then is asked for again
                update(footage_files)
                .where(and_(f.device == r.device, f.camera == r.camera, f.chain == chain, f.idx == idx))
                .where(f.state == "unavailable")
                .values(state="wanted", reason="", have_bytes=0, asked_us=None, updated_us=now)
            )
    if covering and r.closed_us is not None:
        conn.execute(update(clip_requests).where(clip_requests.c.id == request_id).values(closed_us=None))
    return len(covering)


def settled(conn: Connection, device: str, camera: str, to_us: int, requested_us: int, now: int) -> bool:
    """Whether no record for a range can come any more: the pole's records already reach past its
    end (they come in order), or it was asked for `SETTLE_US` ago."""
    s = footage_segments.c
    last = conn.execute(
        select(func.max(s.end_us)).where(and_(s.device == device, s.camera == camera))
    ).scalar()
    return (last is not None and last >= to_us + SETTLE_US) or now - requested_us >= SETTLE_US


def ask_event(conn: Connection, device: str, event_id: str, by: str, pre_s: float, post_s: float) -> int:
    """A request for an event's clip: from `pre_s` before it to `post_s` after it (an event still
    going on: after its first minute). Times are the pole's, as its footage records are."""
    e = events.c
    row = conn.execute(
        select(e.camera, e.start_us, e.end_us).where(and_(e.device == device, e.event_id == event_id))
    ).first()
    if row is None:
        raise ClipError(f"no event {event_id} of {device} in the archive")
    end = row.end_us if row.end_us is not None else row.start_us + OPEN_EVENT_US
    start = row.start_us - int(pre_s * 1e6)
    return ask_range(
        conn, device, row.camera, start, max(end, row.start_us) + int(post_s * 1e6), by, event_id
    )


def _holes(segs: list[SegmentState], from_us: int, to_us: int) -> list[tuple[int, int]]:
    holes: list[tuple[int, int]] = []
    at = from_us
    for s in sorted((s for s in segs if s.start_us is not None), key=lambda s: s.start_us or 0):
        assert s.start_us is not None and s.end_us is not None
        if s.start_us - at > GAP_US:
            holes.append((at, s.start_us))
        at = max(at, s.end_us)
    if to_us - at > GAP_US:
        holes.append((at, to_us))
    return holes


def status(conn: Connection, request_id: int) -> ClipStatus | None:
    r = conn.execute(select(clip_requests).where(clip_requests.c.id == request_id)).first()
    if r is None:
        return None
    c, f, s = clip_segments.c, footage_files.c, footage_segments.c
    rows = conn.execute(  # a record may be gone by retention (its copy expired): outer join
        select(c.chain, c.idx, f.name, s.start_us, s.end_us, s.bytes, f.have_bytes, f.state, f.reason)
        .select_from(
            clip_segments.join(
                footage_files,
                and_(f.device == r.device, f.camera == r.camera, f.chain == c.chain, f.idx == c.idx),
            ).outerjoin(
                footage_segments,
                and_(s.device == r.device, s.camera == r.camera, s.chain == c.chain, s.idx == c.idx),
            )
        )
        .where(c.request_id == request_id)
        .order_by(c.chain, c.idx)
    ).all()
    segs = [SegmentState(*row) for row in rows]
    segs.sort(key=lambda x: (x.start_us is None, x.start_us or 0, x.idx))
    out = ClipStatus(
        r.id, r.device, r.camera, r.event_id, r.from_us, r.to_us, r.requested_by, r.requested_us, "", r.detail
    )
    out.segments, out.holes = segs, _holes(segs, r.from_us, r.to_us)
    out.state, why = _state(conn, r.device, segs)
    if not segs:
        why = _nothing_there(conn, r.device, r.camera)
        if not settled(conn, r.device, r.camera, r.to_us, r.requested_us, now_us()):
            out.state, why = "waiting", f"waiting for the pole's footage records of that time ({why})"
    out.detail = r.detail or why
    return out


def _state(conn: Connection, device: str, segs: list[SegmentState]) -> tuple[str, str]:
    if not segs:
        return "unavailable", ""
    n = len(segs)
    kinds = ("verified", "arriving", "unavailable", "mismatch", "expired")
    counts = {k: sum(x.state == k for x in segs) for k in kinds}
    if counts["verified"] == n:
        return "done", ""
    if counts["verified"] + counts["unavailable"] + counts["mismatch"] + counts["expired"] == n:
        state = "partial" if counts["verified"] else "unavailable"
        return state, f"{counts['verified']} of {n} segments came and match the pole's records"
    if counts["verified"] or counts["arriving"]:
        return "uploading", f"{counts['verified']} of {n} segments in"
    pole = conn.execute(
        select(devices.c.status, devices.c.status_us).where(devices.c.device == device)
    ).first()
    if pole is None or pole.status != "online":
        return "waiting", "the pole is offline: the request is kept and sent when it is back"
    return "waiting", "asked the pole; waiting for its first bytes"


def requests_for(
    conn: Connection, device: str | None = None, event_id: str | None = None, limit: int = 50
) -> list[ClipStatus]:
    q = select(clip_requests.c.id).order_by(clip_requests.c.id.desc()).limit(limit)
    if device is not None:
        q = q.where(clip_requests.c.device == device)
    if event_id is not None:
        q = q.where(clip_requests.c.event_id == event_id)
    out = [status(conn, rid) for rid in conn.execute(q).scalars()]
    return [s for s in out if s is not None]
