"""Alarms on motion alone at night: what they cost and how often they ring.

The night copy of `vtest.avi` (`tests/night_clip.py`, seeds 1-8) and 10 minutes of the empty
street under the same weather: rings per entry into the gate zone, false rings, and the motion
stage's CPU per frame with and without the presence step, plus the motion alarm's own.

    python benchmarks/motion_alarm.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2

from benchmarks.common import table, write
from edge_agent.config import MotionConfig, ZoneConfig
from edge_agent.events import MotionAlarm
from edge_agent.motion import MotionDetector
from tests import night_clip
from tests.test_motion_alarm import GATE, WHOLE, entries, rule, unrung


def run(frames: list, rules: list, polygon: list, presence: bool) -> dict:
    alarm = MotionAlarm(rules, [ZoneConfig(name=rules[0].zone, polygon=polygon)])
    motion = MotionDetector(MotionConfig(), 768, 576, alarm.min_height if presence else None)
    motion_ns = alarm_ns = 0
    rings = []
    for frame in frames:
        t0 = time.thread_time_ns()
        moved = motion.process(frame)
        t1 = time.thread_time_ns()
        if presence:
            rings += [(frame.index, r.blob.box) for r in alarm.process(frame, moved, []).rings]
        alarm_ns += time.thread_time_ns() - t1
        motion_ns += t1 - t0
    n = len(frames)
    return {
        "rings": rings,
        "motion_ms": round(motion_ns / n / 1e6, 3),
        "alarm_ms": round(alarm_ns / n / 1e6, 3),
    }


def main() -> None:
    cv2.setNumThreads(1)
    rows, data = [], {"seeds": {}}
    wanted = entries(GATE)
    for seed in range(1, 9):
        frames = list(night_clip.frames(night_clip.vtest_frames(200), seed))
        off = run(frames, [rule()], GATE, presence=False)
        on = run(frames, [rule()], GATE, presence=True)
        missed = unrung(on["rings"], GATE)
        data["seeds"][seed] = {"entries": len(wanted), "missed": missed, "rings": len(on["rings"]), **on}
        data["seeds"][seed].pop("rings")
        rows.append(
            {
                "night clip seed": seed,
                "entries rung within 3 s": f"{len(wanted) - len(missed)} of {len(wanted)}",
                "rings": len(on["rings"]),
                "motion ms/frame (presence off)": off["motion_ms"],
                "motion ms/frame (on)": on["motion_ms"],
                "motion alarm ms/frame": on["alarm_ms"],
            }
        )
    empty = list(night_clip.empty_night(10, seed=11))
    quiet = run(empty, [rule("all")], WHOLE, presence=True)
    data["empty_10_min"] = {"frames": len(empty), "rings": len(quiet["rings"])}
    print(table(rows, list(rows[0])))
    print(f"\nempty street at night, 10 min ({len(empty)} frames): {len(quiet['rings'])} rings")
    print(f"\nwrote {write('motion_alarm', data)}")


if __name__ == "__main__":
    main()
