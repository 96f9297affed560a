"""The station's own troubles, and the daily digest.

- `station_disk`: the disk holding the archive below `retention.disk_min_free_percent` free
  (retention is already deleting the oldest pictures): told once, again after it recovered;
- `ingest_stalled`: no message from any pole for `notify.stall_after_s` — the broker down, its
  password changed, a network cut at the ward post: told once per stall, with whether the
  station's broker connection is up;
- `digest`: at each subscription's `digest_at` (ward time), the last 24 h of its poles: which are
  down, which cameras are in trouble, events and alarms per pole.

Flags live in `notify_cursors` beside the watcher's positions, written in the same transaction.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from edge_agent.station.config import StationSettings
from edge_agent.station.fleet.state import fleet
from edge_agent.station.notify.notice import Notice
from edge_agent.station.notify.watch import cursor, duration, set_cursor
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.schema import device_messages, devices, events

DAY_US = 86_400_000_000
DIGEST_WINDOW_MIN = 60


class StationWatcher:
    def __init__(
        self, settings: StationSettings, zone: tzinfo, broker_up: Callable[[], bool] = lambda: True
    ) -> None:
        self.settings = settings
        self.zone = zone
        self.broker_up = broker_up

    def collect(self, conn: Connection, now_us: int) -> tuple[list[Notice], list[tuple[str, Notice]]]:
        """(notices for every subscription of their kind, (subscription, digest) pairs)."""
        out = [n for n in (self._disk(conn, now_us), self._stall(conn, now_us)) if n is not None]
        return out, self._digests(conn, now_us)

    def _disk(self, conn: Connection, now_us: int, path: Path | None = None) -> Notice | None:
        where = path or self.settings.state_dir
        try:
            usage = shutil.disk_usage(where)
        except OSError:
            return None
        free = 100.0 * usage.free / usage.total if usage.total else 100.0
        low = free < self.settings.retention.disk_min_free_percent
        since = cursor(conn, "disk_low_since")
        if low and not since:
            set_cursor(conn, "disk_low_since", now_us)
            facts = {"free_percent": f"{free:.1f}", "free_gb": f"{usage.free / 1e9:.1f}", "path": str(where)}
            return Notice("station_disk", f"disk:{now_us}", "", "", now_us, facts | {"time": to_iso(now_us)})
        if not low and since and free >= self.settings.retention.disk_min_free_percent + 2:
            set_cursor(conn, "disk_low_since", 0)  # recovered (with a margin against flapping)
        return None

    def _stall(self, conn: Connection, now_us: int) -> Notice | None:
        last = conn.execute(
            select(
                func.max(devices.c.stats_us), func.max(devices.c.status_us), func.max(devices.c.last_event_us)
            )
        ).one()
        heard = max((int(v) for v in last if v is not None), default=None)
        if heard is None:
            return None  # no pole yet: nothing has stalled
        quiet = now_us - heard
        stalled = cursor(conn, "stalled_since")
        if quiet >= self.settings.notify.stall_after_s * 1e6 and not stalled:
            set_cursor(conn, "stalled_since", heard)
            facts = {
                "quiet_for": duration(quiet / 1e6),
                "last_heard": to_iso(heard),
                "broker": "connected" if self.broker_up() else "NOT connected",
                "time": to_iso(now_us),
            }
            return Notice("ingest_stalled", f"stall:{heard}", "", "", now_us, facts, group=False)
        if stalled and heard > stalled:
            set_cursor(conn, "stalled_since", 0)
        return None

    def _digests(self, conn: Connection, now_us: int) -> list[tuple[str, Notice]]:
        n = self.settings.notify
        local = datetime.fromtimestamp(now_us / 1e6, UTC).astimezone(self.zone)
        today = int(local.strftime("%Y%m%d"))
        out: list[tuple[str, Notice]] = []
        minute = local.hour * 60 + local.minute
        for sub in n.subscriptions:
            if sub.digest_at is None:
                continue
            hh, mm = (int(x) for x in sub.digest_at.split(":"))
            if not 0 <= minute - (hh * 60 + mm) < DIGEST_WINDOW_MIN:
                continue  # its hour (a station restarted within it still sends it, once)
            name = f"digest:{sub.name}"[:64]
            if cursor(conn, name) >= today:
                continue
            set_cursor(conn, name, today)
            facts = self.digest_facts(conn, now_us, n.poles_of(sub))
            facts |= {"day": local.strftime("%Y-%m-%d"), "time": to_iso(now_us)}
            out.append(
                (sub.name, Notice("digest", f"digest:{sub.name}:{today}", "", "", now_us, facts, group=False))
            )
        return out

    def digest_facts(self, conn: Connection, now_us: int, poles: set[str] | None) -> dict[str, Any]:
        since = now_us - DAY_US
        state = [
            p
            for p in fleet(conn, now_us, self.settings.fleet.stale_after_s)
            if poles is None or p["device"] in poles
        ]
        down = [p["device"] for p in state if p["state"] in ("offline", "silent")]
        cams = [
            f"{p['device']}/{c['camera']}: {(c['health'] or {}).get('kind', '?')}"
            for p in state
            for c in p["cameras"]
            if isinstance(c["health"], dict) and c["health"].get("active")
        ]
        per_pole: dict[str, list[int]] = {p["device"]: [0, 0] for p in state}
        for device, count in conn.execute(
            select(events.c.device, func.count())
            .where(events.c.first_received_us >= since)
            .group_by(events.c.device)
        ):
            if device in per_pole:
                per_pole[device][0] = int(count)
        for device, count in conn.execute(
            select(device_messages.c.device, func.count())
            .where(device_messages.c.kind == "alarm", device_messages.c.received_us >= since)
            .group_by(device_messages.c.device)
        ):
            if device in per_pole:
                per_pole[device][1] = int(count)
        return {"poles": len(state), "down": down, "cameras": cams, "per_pole": per_pole}
