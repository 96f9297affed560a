"""Holes in a pole's `seq`: the one way to see that something was lost upstream.

A pole numbers its event messages 1, 2, 3... (continuous, kept across restarts). A message
above the highest seen opens a gap [highest+1, seq-1]; a late message inside a gap shrinks it.
The first message the station ever sees from a pole sets the baseline (no gap before it).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert, select

from edge_agent.station.db.schema import seq_gaps


def _gap(conn: Connection, device: str, first: int, last: int, at: int) -> None:
    conn.execute(insert(seq_gaps).values(device=device, first_seq=first, last_seq=last, detected_us=at))


def record_seq(conn: Connection, device: str, seq: int, top: int | None, now_us: int) -> int:
    """Record a hole below `seq`, or fill one with a late message; returns the new highest seq."""
    if top is None or seq > top:
        if top is not None and seq > top + 1:
            _gap(conn, device, top + 1, seq - 1, now_us)
        return seq
    gap = conn.execute(
        select(seq_gaps).where(
            and_(seq_gaps.c.device == device, seq_gaps.c.first_seq <= seq, seq_gaps.c.last_seq >= seq)
        )
    ).first()
    if gap is not None:
        conn.execute(delete(seq_gaps).where(seq_gaps.c.id == gap.id))
        for first, last in ((gap.first_seq, seq - 1), (seq + 1, gap.last_seq)):
            if first <= last:
                _gap(conn, device, first, last, gap.detected_us)
    return top


def gaps_of(conn: Connection, device: str) -> list[tuple[int, int]]:
    rows = conn.execute(
        select(seq_gaps.c.first_seq, seq_gaps.c.last_seq)
        .where(seq_gaps.c.device == device)
        .order_by(seq_gaps.c.first_seq)
    )
    return [(int(a), int(b)) for a, b in rows]
