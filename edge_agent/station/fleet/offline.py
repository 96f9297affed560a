"""The delayed offline alert: raised once a pole has been offline or silent for `alert_after_s`
(so a Wi-Fi blip raises nothing), cleared when the pole is back."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update

from edge_agent.station.fleet.state import DOWN, fleet, overdue
from edge_agent.station.store.schema import devices

log = logging.getLogger("edge_agent.station.fleet")


class OfflineAlerts:
    """Publishes `<alert_topic>/<device>` (retained): an alert once late enough, a clear when back."""

    def __init__(self, engine: Engine, stale_after_s: float, alert_after_s: float, topic: str) -> None:
        self.engine = engine
        self.stale_after_s = stale_after_s
        self.alert_after_s = alert_after_s
        self.topic = topic

    def check(self, now_us: int, publish: Callable[[str, bytes], bool]) -> list[dict[str, Any]]:
        sent = []
        with self.engine.begin() as conn:
            for pole in fleet(conn, now_us, self.stale_after_s):
                down = pole["state"] in DOWN
                row = conn.execute(
                    select(devices.c.alerted_us, devices.c.status_us, devices.c.stats_us).where(
                        devices.c.device == pole["device"]
                    )
                ).one()
                since_us = row.status_us if pole["state"] == "offline" else row.stats_us
                if row.alerted_us is None and overdue(pole, since_us, now_us, self.alert_after_s):
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
