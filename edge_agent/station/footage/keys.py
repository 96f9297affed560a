"""A pole's footage at a glance, and accepting its new key after a reinstall.

`summary(conn, device)` is what the pole page shows: the pinned key, a new key it offered (not
trusted), and per camera the chains the station knows — records, the last one's time, the last
signed head and how it stands, broken links and badly signed heads. `accept_key(conn, device)`
pins the key the pole offered (an admin's decision, written to the audit trail by the caller) and
checks again, with it, the heads that were judged before it was known or against the old key.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from edge_agent.contract.footage import check_head, parse_head, parse_record
from edge_agent.station.footage.requests import ClipError
from edge_agent.station.store.footage_tables import footage_heads, footage_segments, pole_keys
from edge_agent.station.store.ops import now_us


def summary(conn: Connection, device: str) -> dict[str, Any]:
    k = conn.execute(select(pole_keys).where(pole_keys.c.device == device)).first()
    s, h = footage_segments.c, footage_heads.c
    chains = []
    rows = conn.execute(
        select(s.camera, s.chain, func.count(), func.min(s.start_us), func.max(s.end_us))
        .where(s.device == device)
        .group_by(s.camera, s.chain)
        .order_by(func.max(s.end_us).desc())
    ).all()
    for camera, chain, n, first, last in rows:
        where = and_(s.device == device, s.camera == camera, s.chain == chain)
        broken = conn.execute(select(func.count()).where(where, s.link == "broken")).scalar()
        hw = and_(h.device == device, h.camera == camera, h.chain == chain)
        last_head = conn.execute(
            select(h.idx, h.status, h.problem).where(hw).order_by(h.idx.desc()).limit(1)
        ).first()
        bad = conn.execute(select(func.count()).where(hw, h.status == "bad")).scalar()
        chains.append(
            {
                "camera": camera,
                "chain": chain,
                "records": int(n),
                "first_us": first,
                "last_us": last,
                "broken": int(broken or 0),
                "bad_heads": int(bad or 0),
                "last_head": None
                if last_head is None
                else {"index": last_head.idx, "status": last_head.status},
            }
        )
    return {
        "key": None if k is None else k.fingerprint,
        "pinned_us": None if k is None else k.pinned_us,
        "offered": None if k is None else k.offered_fingerprint,
        "offered_us": None if k is None else k.offered_us,
        "chains": chains,
    }


def accept_key(conn: Connection, device: str) -> tuple[str, int]:
    """Pin the key `device` offered; (its fingerprint, heads judged again)."""
    k = conn.execute(select(pole_keys).where(pole_keys.c.device == device)).first()
    if k is None or k.offered_public_key is None:
        raise ClipError(f"{device} has offered no new key: there is nothing to accept")
    conn.execute(
        update(pole_keys)
        .where(pole_keys.c.device == device)
        .values(
            fingerprint=k.offered_fingerprint,
            public_key=k.offered_public_key,
            pinned_us=now_us(),
            offered_fingerprint=None,
            offered_public_key=None,
            offered_us=None,
        )
    )
    key = base64.b64decode(k.offered_public_key)
    h, s = footage_heads.c, footage_segments.c
    again = 0
    for row in conn.execute(
        select(footage_heads).where(h.device == device, h.status.in_(("bad", "no key")))
    ).all():
        head = parse_head(row.raw)
        raw = conn.execute(
            select(s.raw).where(
                s.device == device, s.camera == row.camera, s.chain == row.chain, s.idx == row.idx
            )
        ).scalar()
        problems = check_head(head, key, parse_record(raw) if raw is not None else None)
        status = "bad" if problems else ("ok" if raw is not None else "waiting")
        conn.execute(
            update(footage_heads)
            .where(h.device == device, h.camera == row.camera, h.chain == row.chain, h.idx == row.idx)
            .values(status=status, problem="; ".join(problems))
        )
        again += 1
    return str(k.offered_fingerprint), again
