"""Fleet state per pole: online, offline or silent, and since when.

A pole is `offline` when its status says so (the pole's last will, sent by the broker when the
connection drops), `silent` when its stats stopped coming for `stale_after_s` though no will came
(a hung pole, a broker that lost the will), `online` otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from edge_agent.station.query.search import to_iso
from edge_agent.station.store.schema import cameras, devices, seq_gaps


def _json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _state(r: Any, now_us: int, stale_us: int) -> tuple[str, int | None]:
    if r.status == "offline":
        return "offline", r.status_us
    if r.stats_us is not None and now_us - r.stats_us > stale_us:
        return "silent", r.stats_us
    if r.status == "online":
        return "online", r.status_us
    return "unknown", r.first_seen_us


DOWN = ("offline", "silent")


def overdue(pole: dict[str, Any], down_since_us: int | None, now_us: int, alert_after_s: float) -> bool:
    """Whether a pole is down (offline or silent) and has been since `down_since_us` for
    `alert_after_s`: the one rule for telling anyone (a Wi-Fi blip tells no one). The MQTT
    alert (`offline`) and the alert messages (`notify.watch`) both ask it."""
    return (
        pole["state"] in DOWN
        and down_since_us is not None
        and now_us - down_since_us >= int(alert_after_s * 1e6)
    )


def known(conn: Connection, device: str) -> bool:
    """Whether `device` has sent this station anything."""
    return conn.execute(select(devices.c.device).where(devices.c.device == device)).first() is not None


def fleet(conn: Connection, now_us: int, stale_after_s: float) -> list[dict[str, Any]]:
    stale_us = int(stale_after_s * 1e6)
    gaps: dict[str, tuple[int, int]] = {
        d: (int(n), int(missing or 0))
        for d, n, missing in conn.execute(
            select(
                seq_gaps.c.device,
                func.count(),
                func.sum(seq_gaps.c.last_seq - seq_gaps.c.first_seq + 1),
            ).group_by(seq_gaps.c.device)
        )
    }
    cams: dict[str, list[dict[str, Any]]] = {}
    for c in conn.execute(select(cameras).order_by(cameras.c.device, cameras.c.camera)):
        cams.setdefault(c.device, []).append(
            {
                "camera": c.camera,
                "health": _json(c.health),
                "health_at": to_iso(c.health_us),
                "motion": c.motion,
                "last_event_received": to_iso(c.last_event_us),
                "snapshot_sha256": c.snapshot_sha256,
            }
        )
    out = []
    for r in conn.execute(select(devices).order_by(devices.c.device)):
        state, since = _state(r, now_us, stale_us)
        n_gaps, missing = gaps.get(r.device, (0, 0))
        out.append(
            {
                "device": r.device,
                "broker": r.broker,
                "state": state,
                "since": to_iso(since),
                "stats": _json(r.stats),
                "stats_age_s": None if r.stats_us is None else round((now_us - r.stats_us) / 1e6, 1),
                "last_event_received": to_iso(r.last_event_us),
                "last_seq": r.max_seq,
                "seq_gaps": n_gaps,
                "seq_missing": missing,
                "alerted": r.alerted_us is not None,
                "cameras": cams.get(r.device, []),
            }
        )
    return out
