"""Sources on real video: every frame from a file, the crashing file refused, live drop/reopen."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import CameraConfig
from edge_agent.sources import SourceError, open_camera, open_file, opencv, small_gray
from edge_agent.sources.live import LiveSource
from edge_agent.sources.opencv import CaptureGrabber
from tests.conftest import agent_command, shared

CRASHER = "edge_cases/bgslibrary_demo_48x48_CRASHES_OPENCV_FFMPEG.avi"


def test_file_source_feeds_every_frame_with_video_time() -> None:
    video = shared("intel_car_detection/car-detection.mp4")
    start = datetime(2026, 11, 22, 21, 10, tzinfo=UTC)
    source = open_file(video, motion_height=120, start=start)
    frames = list(source.frames())
    assert len(frames) == 377
    assert [f.index for f in frames] == list(range(377))
    assert frames[0].wall == start
    # 12.5 fps: frame 25 is exactly two seconds in, on both clocks
    assert frames[25].wall == start + timedelta(seconds=2)
    assert frames[25].mono_ns == 2_000_000_000
    assert frames[0].image.shape == (432, 768, 3)
    assert frames[0].gray.shape == (120, 213) and frames[0].gray.dtype == np.uint8


def test_file_start_defaults_to_modification_time() -> None:
    video = shared("intel_car_detection/car-detection.mp4")
    source = open_file(video, motion_height=120)
    assert source.start == datetime.fromtimestamp(video.stat().st_mtime, UTC)


def decoder_crashes_on(video: Path) -> bool:
    """Whether this OpenCV build's FFmpeg kills the process reading `video` (a child tries).
    The shared crasher kills OpenCV 4.14 and 5.0; 4.11 (Bookworm's pin in uv.lock) reads it."""
    code = "import cv2, sys; cap = cv2.VideoCapture(sys.argv[1]); [cap.read() for _ in range(3)]"
    proc = subprocess.run([sys.executable, "-c", code, str(video)], capture_output=True, timeout=60)
    return proc.returncode < 0


def test_crashing_file_is_refused_with_its_name() -> None:
    video = shared(CRASHER)
    if not decoder_crashes_on(video):  # this build reads it: it is a video like any other
        assert open_file(video, motion_height=120).info.frame_count > 0
        return
    with pytest.raises(SourceError) as err:
        open_file(video, motion_height=120)
    assert str(video) in str(err.value)
    assert "crashes the video decoder" in str(err.value)


def test_a_decoder_that_dies_is_reported_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path on every OpenCV build: the probe's child dies by a signal (SIGABRT)."""
    video = shared("intel_car_detection/car-detection.mp4")
    monkeypatch.setattr(opencv, "_PROBE_CODE", "import os; os.abort()")
    with pytest.raises(SourceError) as err:
        open_file(video, motion_height=120)
    assert str(video) in str(err.value)
    assert "crashes the video decoder (FFmpeg died with SIGABRT)" in str(err.value)


def test_missing_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        open_file(tmp_path / "absent.mp4", 120)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match=str(junk)):
        open_file(junk, 120)


def test_replay_of_crashing_file_exits_cleanly(tmp_path: Path) -> None:
    video = shared(CRASHER)
    proc = subprocess.run(
        agent_command("replay", video, "--out", tmp_path / "o"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    if decoder_crashes_on(video):
        assert proc.returncode == 3
        assert "crashes the video decoder" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "o" / "events.jsonl").is_file()


def test_small_gray_keeps_aspect_and_height() -> None:
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:, 640:] = 255
    g = small_gray(img, 120)
    assert g.shape == (120, 213)
    assert g[:, :100].max() == 0 and g[:, 120:].min() == 255


def test_live_source_keeps_newest_counts_drops_and_reopens() -> None:
    """A stream that ends is reopened with backoff; a slow consumer sees drops, not a queue."""
    video = shared("intel_car_detection/car-detection.mp4")
    grabber = CaptureGrabber(str(video), 768, 432, 12.5, 120)
    source = LiveSource("test", grabber, reopen_min_s=0.05, reopen_max_s=0.2, read_timeout_s=5)
    try:
        got = []
        deadline = time.monotonic() + 60
        while source.stats.reopens < 1 and time.monotonic() < deadline:
            frame = source.next_frame(5)
            if frame is not None:
                got.append(frame.index)
            time.sleep(0.02)  # a consumer slower than the decoder
        assert source.stats.reopens >= 1
        assert source.stats.frames_dropped > 0
        assert got == sorted(got) and len(set(got)) == len(got)
        assert source.stats.frames_read >= 377
    finally:
        source.close()


def test_dead_camera_is_reported_not_fatal() -> None:
    cfg = CameraConfig(
        source="rtsp://127.0.0.1:9/none", reopen_min_s=0.05, reopen_max_s=0.1, read_timeout_s=1
    )
    source = open_camera(cfg, 120)
    try:
        assert isinstance(source, LiveSource)
        assert source.next_frame(1.5) is None
        assert not source.stats.connected
        assert "connection refused" in source.stats.last_error  # FFmpeg's own reason, in words
    finally:
        source.close()
