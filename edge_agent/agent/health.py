"""The `stats` message: how the pole is doing, for the technicians watching the fleet.

Rates are over the last interval (not since start), so a camera that just froze shows 0 fps.
What the process reads itself: CPU % (from /proc/self/stat), CPU temperature (thermal zone),
memory, free disk of the state directory, clock state, uptime.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent import __version__, clock
from edge_agent.contract import Kind, Message

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Counters:
    """What the pipeline counts, as the stats builder needs it."""

    frames_in: int
    frames_processed: int
    frames_dropped: int
    inferences: int
    inference_ms_total: float
    camera_ok: bool
    motion: bool
    profile: str = "day"  # the detector's profile: "day", or "night" (an infrared picture)


def cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def temperature_c() -> float | None:
    try:
        return round(int(THERMAL.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def memory() -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                out["available_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


class StatsBuilder:
    def __init__(self, topic: str, state_dir: Path, model: str) -> None:
        self.topic = topic
        self.state_dir = state_dir
        self.model = model
        self.started = time.monotonic()
        self._last: tuple[float, float, Counters] | None = None

    def build(self, counters: Counters, delivery: dict[str, Any], advance: bool = True) -> dict[str, Any]:
        """The stats body; rates over the time since the last periodic one. `advance=False`
        (an on-demand `cmd/stats`) leaves the periodic window alone."""
        now, cpu = time.monotonic(), cpu_seconds()
        prev = self._last or (self.started, 0.0, Counters(0, 0, 0, 0, 0.0, True, False))
        if advance:
            self._last = (now, cpu, counters)
        dt = max(now - prev[0], 1e-6)
        before = prev[2]
        inferences = counters.inferences - before.inferences
        try:
            disk_free_mb = round(shutil.disk_usage(self.state_dir).free / 2**20, 1)
        except OSError:
            disk_free_mb = None
        return {
            "fps_in": round((counters.frames_in - before.frames_in) / dt, 2),
            "fps_processed": round((counters.frames_processed - before.frames_processed) / dt, 2),
            "frames_dropped": counters.frames_dropped,
            "inferences_per_s": round(inferences / dt, 2),
            "inference_ms": round((counters.inference_ms_total - before.inference_ms_total) / inferences, 1)
            if inferences
            else None,
            "cpu_percent": round(100.0 * (cpu - prev[1]) / dt, 1),
            "temperature_c": temperature_c(),
            "memory": memory(),
            "disk_free_mb": disk_free_mb,
            "camera_ok": counters.camera_ok,
            "motion": counters.motion,
            "profile": counters.profile,
            "clock_synced": clock.synced(),
            "uptime_s": round(now - self.started),
            "version": __version__,
            "model": self.model,
            **delivery,
        }

    def message(self, counters: Counters, delivery: dict[str, Any]) -> Message:
        return self.message_from(self.build(counters, delivery))

    def message_from(self, body: dict[str, Any]) -> Message:
        return Message(self.topic, json.dumps(body).encode(), Kind.STATS, retain=True)
