"""The fleet page's view of each pole: its troubles, worst first, and poles in trouble first.

Built on `edge_agent.station.fleet.state.fleet()` (state, stats, gaps, cameras) plus the cameras' health
history (frozen, covered, blurred, moved: active until the pole says cleared) and the maintenance
switch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from edge_agent.station.fleet.state import fleet
from edge_agent.station.store.schema import device_messages
from edge_agent.station.store.web_tables import maintenance
from edge_agent.station.web.i18n import N_

HEALTH_LOOKBACK_US = 30 * 86400 * 1_000_000
OUTBOX_BACKLOG = 100  # messages waiting on the pole
CPU_HOT_C = 75.0
DISK_LOW_MB = 500.0
FPS_SHORT = 0.8  # processed below 80 % of the camera's rate
CAMERA_TEXT = {
    "frozen": N_("camera frozen"),
    "covered": N_("camera covered"),
    "blurred": N_("camera blurred"),
    "moved": N_("camera moved"),
}


@dataclass(frozen=True)
class Trouble:
    rank: int  # 0 worst
    code: str  # stable, for tests and CSS
    text: str  # an English msgid; the template translates it
    value: str = ""


@dataclass
class PoleView:
    device: str
    state: str
    since: str | None
    stats_age_s: float | None
    last_event: str | None
    cameras: list[dict[str, Any]]
    troubles: list[Trouble] = field(default_factory=list)
    maintenance_by: str | None = None
    alerted: bool = False
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def snapshot_url(self) -> str | None:
        for c in self.cameras[:1]:
            if c["snapshot_sha256"]:
                return f"/poles/{self.device}/{c['camera']}/snapshot.jpg?v={c['snapshot_sha256'][:12]}"
        return None

    @property
    def stats_age_text(self) -> str:
        return "—" if self.stats_age_s is None else f"{self.stats_age_s:.0f} s"

    @property
    def sort_key(self) -> tuple[int, int, str]:
        worst = min((t.rank for t in self.troubles), default=99)
        return (0 if self.troubles else 1, worst, self.device)


def _camera_alerts(conn: Connection, now_us: int) -> dict[tuple[str, str], dict[str, str]]:
    """(device, camera) → {kind: detail} of the health alerts still active."""
    active: dict[tuple[str, str], dict[str, str]] = {}
    rows = conn.execute(
        select(device_messages.c.device, device_messages.c.camera, device_messages.c.raw)
        .where(
            device_messages.c.kind == "health", device_messages.c.received_us > now_us - HEALTH_LOOKBACK_US
        )
        .order_by(device_messages.c.id)
    )
    for device, camera, raw in rows:
        try:
            body = json.loads(raw)
            kind, on = str(body["kind"]), bool(body["active"])
        except (ValueError, KeyError, TypeError):
            continue
        kinds = active.setdefault((device, camera), {})
        if on:
            kinds[kind] = str(body.get("detail", ""))
        else:
            kinds.pop(kind, None)
    return active


def _stat_troubles(s: dict[str, Any]) -> list[Trouble]:
    out = []

    def num(key: str) -> float | None:
        v = s.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    if s.get("camera_ok") is False:
        out.append(Trouble(1, "camera-lost", N_("camera lost")))
    depth = num("outbox_depth")
    if depth is not None and depth >= OUTBOX_BACKLOG:
        out.append(Trouble(3, "outbox", N_("outbox backing up"), f"{depth:.0f}"))
    if s.get("clock_synced") is False:
        out.append(Trouble(4, "clock", N_("clock not synchronised")))
    temp = num("temperature_c")
    if temp is not None and temp >= CPU_HOT_C:
        out.append(Trouble(3, "hot", N_("CPU hot"), f"{temp:.0f} °C"))
    disk = num("disk_free_mb")
    if disk is not None and disk < DISK_LOW_MB:
        out.append(Trouble(3, "disk", N_("disk low"), f"{disk:.0f} MB"))
    fps_in, fps = num("fps_in"), num("fps_processed")
    if fps_in and fps is not None and fps < FPS_SHORT * fps_in:
        out.append(
            Trouble(4, "fps", N_("frames per second below the camera's rate"), f"{fps:.1f}/{fps_in:.1f}")
        )
    return out


def pole_views(conn: Connection, now_us: int, stale_after_s: float) -> list[PoleView]:
    muted = {r.device: r.by for r in conn.execute(select(maintenance.c.device, maintenance.c.by))}
    alerts = _camera_alerts(conn, now_us)
    out = []
    for p in fleet(conn, now_us, stale_after_s):
        stats = p["stats"] if isinstance(p["stats"], dict) else {}
        v = PoleView(
            device=p["device"],
            state=p["state"],
            since=p["since"],
            stats_age_s=p["stats_age_s"],
            last_event=p["last_event_received"],
            cameras=p["cameras"],
            maintenance_by=muted.get(p["device"]),
            alerted=p["alerted"],
            stats=stats,
        )
        if p["state"] == "offline":
            v.troubles.append(Trouble(0, "offline", N_("offline")))
        elif p["state"] == "silent":
            v.troubles.append(Trouble(0, "silent", N_("silent: no stats")))
        for cam in p["cameras"]:
            for kind, detail in sorted(alerts.get((p["device"], cam["camera"]), {}).items()):
                v.troubles.append(
                    Trouble(
                        1, kind, CAMERA_TEXT.get(kind, N_("camera problem")), f"{cam['camera']}: {detail}"
                    )
                )
        if p["state"] != "offline":
            v.troubles.extend(_stat_troubles(stats))
        if p["seq_gaps"]:
            v.troubles.append(Trouble(2, "gaps", N_("messages lost (seq gaps)"), str(p["seq_missing"])))
        v.troubles.sort(key=lambda t: t.rank)
        out.append(v)
    out.sort(key=lambda v: v.sort_key)
    return out
