"""Fleet state per pole (online, offline or silent, and since when) and the delayed offline alert.

A pole is `offline` when its status says so (the pole's last will, sent by the broker when the
connection drops), `silent` when its stats stopped coming for `stale_after_s` though no will came
(a hung pole, a broker that lost the will), `online` otherwise. An alert goes out only once a pole
has been offline or silent for `alert_after_s`, so a Wi-Fi blip raises nothing; it is cleared
when the pole is back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from edge_agent.station.db.schema import cameras, devices, seq_gaps
from edge_agent.station.search import to_iso

log = logging.getLogger("edge_agent.station.fleet")


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


class OfflineAlerts:
    """Publishes `<alert_topic>/<device>` (retained): an alert once late enough, a clear when back."""

    def __init__(self, engine: Engine, stale_after_s: float, alert_after_s: float, topic: str) -> None:
        self.engine = engine
        self.stale_after_s = stale_after_s
        self.alert_after_us = int(alert_after_s * 1e6)
        self.topic = topic

    def check(self, now_us: int, publish: Callable[[str, bytes], bool]) -> list[dict[str, Any]]:
        sent = []
        with self.engine.begin() as conn:
            for pole in fleet(conn, now_us, self.stale_after_s):
                down = pole["state"] in ("offline", "silent")
                row = conn.execute(
                    select(devices.c.alerted_us, devices.c.status_us, devices.c.stats_us).where(
                        devices.c.device == pole["device"]
                    )
                ).one()
                since_us = row.status_us if pole["state"] == "offline" else row.stats_us
                if (
                    down
                    and row.alerted_us is None
                    and since_us is not None
                    and now_us - since_us >= self.alert_after_us
                ):
                    body = {
                        "device": pole["device"],
                        "alert": pole["state"],
                        "since": pole["since"],
                        "active": True,
                    }
                    new: int | None = now_us
                elif not down and row.alerted_us is not None:
                    body = {
                        "device": pole["device"],
                        "alert": pole["state"],
                        "since": pole["since"],
                        "active": False,
                    }
                    new = None
                else:
                    continue
                if publish(f"{self.topic}/{pole['device']}", json.dumps(body).encode()):
                    conn.execute(
                        update(devices).where(devices.c.device == pole["device"]).values(alerted_us=new)
                    )
                    sent.append(body)
                    log.warning(
                        "pole %s: %s since %s (%s)",
                        pole["device"],
                        pole["state"],
                        pole["since"],
                        "alert" if body["active"] else "cleared",
                    )
        return sent
