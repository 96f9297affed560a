"""The replay path end to end on real video, the real model and the real stages."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import cv2
import pytest

from edge_agent.contract.schema import Event
from tests.conftest import agent_command, shared


@pytest.fixture(scope="module")
def vtest_replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    out = tmp_path_factory.mktemp("replay")
    proc = subprocess.run(
        agent_command("replay", video, "--out", out, "--start", "2026-11-22T21:10:00Z"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return out, proc


@pytest.mark.slow
def test_replay_writes_valid_events_thumbnails_and_summary(
    vtest_replay: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, proc = vtest_replay
    assert proc.returncode == 0, proc.stderr
    assert "795/795" in proc.stderr  # the progress bar reached the end
    lines = (out / "events.jsonl").read_text().splitlines()
    events = [Event.model_validate_json(line) for line in lines]
    assert events, "no events from a clip full of pedestrians"
    assert {e.label for e in events} >= {"person"}
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    starts = [e for e in events if e.type == "start"]
    ends = {e.id for e in events if e.type == "end"}
    assert {e.id for e in starts} == ends, "every event that started must end"
    last: dict[str, Event] = {}
    for e in events:
        assert e.device and e.camera == "cam0"
        assert all(0.0 <= v <= 1.0 for v in e.box)
        assert e.start.year == 2026 and e.start.month == 11
        last[e.id] = e
    # A better thumbnail may be published again on the same topic during the event; the folder
    # keeps the latest, which the event's last message (its end) describes.
    for e in last.values():
        assert e.type == "end" and e.thumbnail is not None
        jpg = out / "thumbnails" / f"{e.id}.jpg"
        data = jpg.read_bytes()
        assert hashlib.sha256(data).hexdigest() == e.thumbnail.sha256
        img = cv2.imread(str(jpg))
        assert img is not None and img.shape[:2] == (e.thumbnail.height, e.thumbnail.width)
        assert min(img.shape[:2]) >= 240
    assert all(e.thumbnail is not None for e in starts)
    summary = cv2.imread(str(out / "summary.png"))
    assert summary is not None and summary.shape[0] > 200


@pytest.mark.slow
def test_replay_events_are_within_the_clip_time(
    vtest_replay: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, proc = vtest_replay
    assert proc.returncode == 0, proc.stderr
    for line in (out / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        # 795 frames at 10 fps from 21:10:00: every time lies inside 21:10:00 .. 21:11:20
        assert "2026-11-22T21:10:00.000Z" <= e["start"] <= "2026-11-22T21:11:20.000Z"
        assert e["start"].endswith("Z") and len(e["start"]) == 24


def test_replay_of_missing_video_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        agent_command("replay", tmp_path / "nope.mp4", "--out", tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    assert "video file not found" in proc.stderr and "Traceback" not in proc.stderr
