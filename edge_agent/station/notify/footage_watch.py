"""Stored footage rows → notices: a pole signing with a key the station has not pinned, and a
chain of proof that breaks (a record that does not link to the one before it, a head the pole's
key did not sign). Each is told once, read forward by cursors on the station's receive times.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from edge_agent.station.notify.notice import Notice
from edge_agent.station.notify.watch import BATCH, cursor, set_cursor
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.footage_tables import footage_heads, footage_segments, pole_keys


def footage_notices(conn: Connection) -> list[Notice]:
    return [*_keys(conn), *_broken(conn)]


def _keys(conn: Connection) -> list[Notice]:
    start = cursor(conn, "pole_keys_offered")
    k = pole_keys.c
    rows = conn.execute(
        select(k.device, k.fingerprint, k.offered_fingerprint, k.offered_us)
        .where(k.offered_us > start)
        .order_by(k.offered_us)
        .limit(BATCH)
    ).all()
    if rows:
        set_cursor(conn, "pole_keys_offered", int(rows[-1].offered_us))
    return [
        Notice(
            "pole_key_changed",
            f"key:{r.device}:{r.offered_fingerprint}",
            r.device,
            "",
            int(r.offered_us),
            {"pinned": r.fingerprint, "offered": r.offered_fingerprint, "time": to_iso(r.offered_us)},
            group=False,
        )
        for r in rows
    ]


def _broken(conn: Connection) -> list[Notice]:
    out: list[Notice] = []
    s, h = footage_segments.c, footage_heads.c
    start = cursor(conn, "footage_broken")
    top = start
    links = conn.execute(
        select(s.device, s.camera, s.chain, s.idx, s.name, s.received_us)
        .where(s.received_us > start, s.link == "broken")
        .order_by(s.received_us)
        .limit(BATCH)
    ).all()
    for r in links:
        detail = (
            f"record {r.idx} ({r.name}) of chain {r.chain} does not link to the record before it: "
            "a record was altered, removed or put in"
        )
        out.append(_notice(f"link:{r.device}:{r.camera}:{r.chain}:{r.idx}", r, detail))
        top = max(top, int(r.received_us))
    heads = conn.execute(
        select(h.device, h.camera, h.chain, h.idx, h.problem, h.received_us)
        .where(h.received_us > start, h.status == "bad")
        .order_by(h.received_us)
        .limit(BATCH)
    ).all()
    for r in heads:
        out.append(_notice(f"head:{r.device}:{r.camera}:{r.chain}:{r.idx}", r, str(r.problem)[:300]))
        top = max(top, int(r.received_us))
    if top != start:
        set_cursor(conn, "footage_broken", top)
    return out


def _notice(source: str, r: object, detail: str) -> Notice:
    at = int(r.received_us)  # type: ignore[attr-defined]
    device, camera = r.device, r.camera  # type: ignore[attr-defined]
    return Notice("footage_broken", source, device, camera, at, {"detail": detail, "time": to_iso(at)})
