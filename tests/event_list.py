"""The event list of a replay, as a ward would compare two poles: which objects passed, when.

`event_list(folder, fps)` reads a replay's events.jsonl into (label, start frame, end frame) per
event; `differences(expected, actual)` says, one line each, what a replay found that the
checked-in list does not have, or the reverse: counts per label must be equal and every event
must start within `SLACK_FRAMES` frames of its expected start. Used by tests/test_same_events.py
and scripts/expected_events.py (which writes the lists in tests/expected/).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

START = "2026-01-01T00:00:00Z"  # the first frame's wall time in every replay of these lists
SLACK_FRAMES = 2
EXPECTED = Path(__file__).resolve().parent / "expected"
REPO = Path(__file__).resolve().parents[1]
CLIPS = {
    # name: (path from the repository or ../shared/data, frames replayed or None for all)
    "demo": ("demo/car-detection.mp4", None),
    "vtest-200": ("pets09_s2l1_vtest/vtest.avi", 200),
}
# Replayed from a copy decoded the same on every CPU (tests/exact_clip.py): MS-MPEG4 through
# OpenCV gives x86 and arm64 other pixels. The demo clip is H.264 and gives the same events as it is.
EXACT = {"vtest-200"}


def clip_video(name: str) -> Path:
    """The file a list's replay reads (None when its data is absent)."""
    relative, frames = CLIPS[name]
    here = REPO / relative
    video = here if here.exists() else REPO.parent / "shared" / "data" / relative
    if name in EXACT and video.exists():
        from tests.exact_clip import exact_copy

        return exact_copy(video, frames)
    return video


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event_list(folder: Path, fps: float) -> list[dict[str, Any]]:
    t0 = _t(START)
    events: dict[str, dict[str, Any]] = {}
    for line in (folder / "events.jsonl").read_text().splitlines():
        m = json.loads(line)
        e = events.setdefault(m["id"], {"label": m["label"], "start_frame": None, "end_frame": None})
        e["label"] = m["label"]  # the latest label: the one the archive keeps
        e["start_frame"] = round((_t(m["start"]) - t0).total_seconds() * fps)
        if m.get("end"):
            e["end_frame"] = round((_t(m["end"]) - t0).total_seconds() * fps)
    return sorted(events.values(), key=lambda e: (e["start_frame"], e["label"]))


def differences(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    out = []
    left = list(actual)
    for e in expected:
        near = [a for a in left if a["label"] == e["label"]]
        near = [a for a in near if abs(a["start_frame"] - e["start_frame"]) <= SLACK_FRAMES]
        if near:
            left.remove(min(near, key=lambda a: abs(a["start_frame"] - e["start_frame"])))
        else:
            out.append(f"missing: a {e['label']} starting at frame {e['start_frame']}")
    out += [f"extra: a {a['label']} starting at frame {a['start_frame']}" for a in left]
    return out


def load(name: str) -> dict[str, Any]:
    return json.loads((EXPECTED / f"events-{name}.json").read_text())
