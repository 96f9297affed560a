"""Holes in a pole's `seq`: the one way to see that something was lost upstream.

A pole numbers its event messages 1, 2, 3... (continuous, kept across restarts). A message
above the highest seen opens a gap [highest+1, seq-1]; a late message inside a gap shrinks it.
The first message the station ever sees from a pole sets the baseline (no gap before it).

A batch's new messages are worked through in memory, in the order they came, against the gaps
they can touch (loaded with one statement); then the gaps filled are deleted and the new ones
inserted, one statement each, whatever the batch's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, or_, select

from edge_agent.station.store.schema import seq_gaps
from edge_agent.station.store.statements import Bulk, chunks


@dataclass(slots=True)
class _Gap:
    first: int
    last: int
    detected_us: int
    id: int | None = None  # None: opened in this batch


def _late(arrivals: Sequence[tuple[int, int]], top: int | None) -> list[int]:
    """The seqs at or below the highest seen when they came (they may fill a gap)."""
    late = []
    for seq, _ in arrivals:
        if top is None or seq > top:
            top = seq
        else:
            late.append(seq)
    return late


def _load(conn: Connection, ranges: Mapping[str, tuple[int, int]]) -> dict[str, list[_Gap]]:
    found: dict[str, list[_Gap]] = {d: [] for d in ranges}
    c = seq_gaps.c
    for part in chunks(sorted(ranges)):
        where = or_(
            *(and_(c.device == d, c.first_seq <= ranges[d][1], c.last_seq >= ranges[d][0]) for d in part)
        )
        for r in conn.execute(select(c.id, c.device, c.first_seq, c.last_seq, c.detected_us).where(where)):
            found[r.device].append(_Gap(int(r.first_seq), int(r.last_seq), int(r.detected_us), int(r.id)))
    return found


def record_seqs(
    conn: Connection,
    arrivals: Mapping[str, Sequence[tuple[int, int]]],
    tops: Mapping[str, int | None],
    insert_gaps: Bulk,
) -> dict[str, int]:
    """Open and fill gaps for each pole's new `(seq, received_us)`, in the order they came.

    `tops` holds each pole's highest seq before the batch (None: never seen). Returns the highest
    seq of each pole after it.
    """
    late = {d: _late(a, tops.get(d)) for d, a in arrivals.items()}
    gaps = _load(conn, {d: (min(s), max(s)) for d, s in late.items() if s})
    filled: list[int] = []
    opened: list[dict[str, object]] = []
    result: dict[str, int] = {}
    for device, seqs in arrivals.items():
        top = tops.get(device)
        mine = gaps.get(device, [])
        for seq, at in seqs:
            if top is None or seq > top:
                if top is not None and seq > top + 1:
                    mine.append(_Gap(top + 1, seq - 1, at))
                top = seq
                continue
            gap = next((g for g in mine if g.first <= seq <= g.last), None)
            if gap is None:
                continue
            mine.remove(gap)
            if gap.id is not None:
                filled.append(gap.id)
            for first, last in ((gap.first, seq - 1), (seq + 1, gap.last)):
                if first <= last:
                    mine.append(_Gap(first, last, gap.detected_us))
        if top is not None:
            result[device] = top
        opened += [
            {"device": device, "first_seq": g.first, "last_seq": g.last, "detected_us": g.detected_us}
            for g in mine
            if g.id is None
        ]
    for part in chunks(filled):
        conn.execute(delete(seq_gaps).where(seq_gaps.c.id.in_(part)))
    if opened:
        insert_gaps(conn, opened)
    return result


def gaps_of(conn: Connection, device: str) -> list[tuple[int, int]]:
    rows = conn.execute(
        select(seq_gaps.c.first_seq, seq_gaps.c.last_seq)
        .where(seq_gaps.c.device == device)
        .order_by(seq_gaps.c.first_seq)
    )
    return [(int(a), int(b)) for a, b in rows]
