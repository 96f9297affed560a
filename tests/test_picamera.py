"""The Pi camera source against a stand-in that behaves as picamera2's source shows (no Pi here).

The stand-in (tests/picamera2_standin.py) blocks, times out, cancels, adjusts sizes and strides,
grants or refuses a full-range colour space, and fails the way picamera2 does; these tests check
that a hang leads to a reopen, a failed configure or start closes the camera, a covered lens
reads dark, and every failure reaches the technician as one sentence naming the cause.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.config import MotionConfig
from edge_agent.motion.camera_health import CameraHealth
from edge_agent.sources import Frame, SourceError
from edge_agent.sources.live import LiveSource
from edge_agent.sources.picamera import PicameraGrabber, full_range, lores_size, y_plane
from tests.picamera2_standin import Rig, libcamera_module, picamera2_module


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """A Pi camera behind picamera2 and libcamera stand-ins injected as the real module names."""
    rig = Rig()
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_module(rig))
    monkeypatch.setitem(sys.modules, "libcamera", libcamera_module())
    yield rig


def grabber(read_timeout_s: float = 5.0) -> PicameraGrabber:
    return PicameraGrabber(1280, 720, 10, 120, read_timeout_s=read_timeout_s)


# -- frames ------------------------------------------------------------------------------------


def test_lores_is_cut_by_the_size_and_stride_picamera2_reports(rig: Rig) -> None:
    g = grabber()
    g.open()
    try:
        got = g.grab()
        assert got is not None
        image, gray = got
        assert image.shape == (720, 1280, 3)
        # asked 214 wide; libcamera settled on 208 wide, rows padded to 256 bytes
        assert g.lores is not None and (g.lores.width, g.lores.stride) == (208, 256)
        assert gray.shape == (120, 208) and gray.flags.c_contiguous
        assert int(gray.min()) == int(gray.max()) == 128, "no padding byte leaks into the picture"
    finally:
        g.close()


@pytest.mark.parametrize("grants_sycc", [True, False], ids=["sycc-granted", "limited-range"])
def test_a_black_lores_frame_reads_as_dark(rig: Rig, grants_sycc: bool) -> None:
    rig.grants_sycc, rig.scene = grants_sycc, 0  # lens covered
    g = grabber()
    g.open()
    try:
        cam = rig.opened[0]
        assert cam.asked_colour_space.name == "sYCC", "full range is asked for"
        got = g.grab()
        assert got is not None
        gray = got[1]
        cfg = MotionConfig(dark_s=1.0)
        assert float(gray.mean()) < cfg.dark_level
        health = CameraHealth(cfg)  # the real check, fed what the Pi camera delivers
        alerts = []
        for t in (0, 2_000_000_000):
            frame = Frame(0, t, datetime.now(UTC), got[0], gray)
            alerts += health.update(frame, gray, None, float(gray.mean()))
        assert [(a.kind, a.active) for a in alerts] == [("covered", True)]
    finally:
        g.close()


def test_limited_range_white_is_stretched_to_full_white(rig: Rig) -> None:
    rig.grants_sycc, rig.scene = False, 255
    g = grabber()
    g.open()
    try:
        got = g.grab()
        assert got is not None and int(got[1].min()) == 255
    finally:
        g.close()
    assert full_range(np.array([0, 16, 126, 235, 255], np.uint8)).tolist() == [0, 0, 128, 255, 255]


# -- a camera that stops delivering --------------------------------------------------------------


def test_a_timed_out_capture_cancels_and_closes_without_blocking(rig: Rig) -> None:
    rig.frames_per_open = [0]  # "Camera frontend has timed out!" from the first frame on
    g = grabber(read_timeout_s=0.05)
    g.open()
    assert g.grab() is None
    cam = rig.opened[0]
    assert cam.flushes >= 1 and cam.closes == 1 and not rig.acquired
    g.close()  # the live source closes again after a None: harmless
    assert cam.closes == 1


def test_a_hang_leads_to_a_reopen_and_frames_again(rig: Rig) -> None:
    rig.frames_per_open = [3, None]  # three frames, then the frontend times out; reopen works
    source = LiveSource("picamera2", grabber(read_timeout_s=0.05), 0.01, 0.02, read_timeout_s=5)
    try:
        deadline = time.monotonic() + 20  # a guard against a hang, not a timing assertion
        while time.monotonic() < deadline and (source.stats.reopens < 1 or len(rig.opened) < 2):
            source.next_frame(0.2)
        assert source.stats.reopens >= 1 and len(rig.opened) >= 2
        assert source.next_frame(5) is not None, "frames again from the reopened camera"
        first = rig.opened[0]
        assert first.flushes >= 1 and first.closes == 1
    finally:
        source.close()


def test_interrupt_releases_a_capture_that_is_waiting(rig: Rig) -> None:
    rig.frames_per_open = [0]
    g = grabber(read_timeout_s=60)
    g.open()
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(g.grab()))
    t.start()
    while not rig.opened[0]._jobs and t.is_alive():
        time.sleep(0.01)
    g.interrupt()
    t.join(10)
    assert not t.is_alive() and result == [None]
    assert rig.opened[0].closes == 1


# -- failures while opening ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["configure", "start"])
def test_a_failed_configure_or_start_closes_the_camera(rig: Rig, stage: str) -> None:
    error = RuntimeError("Failed to start camera: Input/output error")
    if stage == "configure":
        rig.configure_error = RuntimeError("Configuration failed: {...}")
    else:
        rig.start_error = error
    g = grabber()
    with pytest.raises(SourceError, match=r"cannot be started: RuntimeError: (Configuration|Failed)"):
        g.open()
    assert rig.opened[0].closes == 1 and not rig.acquired
    rig.configure_error = rig.start_error = None
    g.open()  # not "busy": the failed attempt let go of the camera
    assert g.grab() is not None
    g.close()


def test_no_camera_is_a_clear_error(rig: Rig) -> None:
    rig.cameras = 0
    with pytest.raises(SourceError, match="no Pi camera found") as info:
        grabber().open()
    assert "IndexError" not in str(info.value)


@pytest.mark.parametrize("chain_with_from", [True, False], ids=["0.3.35+", "0.3.20-0.3.34"])
def test_a_camera_held_by_another_process_is_a_clear_error(rig: Rig, chain_with_from: bool) -> None:
    rig.held_elsewhere, rig.chain_with_from = True, chain_with_from
    with pytest.raises(SourceError, match="in use by another process") as info:
        grabber().open()
    assert "__init__ sequence" not in str(info.value)


def test_a_too_old_picamera2_is_refused_by_name(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_module(rig, with_cancel=False))
    with pytest.raises(SourceError, match=r"0\.3\.20 or newer"):
        grabber().open()


def test_picamera_missing_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="python3-picamera2"):
        grabber().open()


def _broken_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    pkg = tmp_path / "picamera2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(body)
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))


SIMPLEJPEG = (
    "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility. "
    "Expected 96 from C header, got 88 from PyObject')\n"
)


def test_an_import_value_error_is_a_camera_error_naming_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_package(tmp_path, monkeypatch, SIMPLEJPEG)
    with pytest.raises(SourceError, match=r"cannot be imported \(ValueError: numpy.dtype size") as info:
        grabber().open()
    assert "numpy<2" in str(info.value)


def test_an_import_value_error_leaves_the_capture_thread_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_package(tmp_path, monkeypatch, SIMPLEJPEG)
    source = LiveSource("picamera2", grabber(), 0.01, 0.02, read_timeout_s=5)
    try:
        deadline = time.monotonic() + 20  # a guard for a busy machine, not a timing assertion
        while "numpy" not in source.stats.last_error and time.monotonic() < deadline:
            assert source.next_frame(0.1) is None
        assert "numpy" in source.stats.last_error and not source.stats.connected
        assert source._thread.is_alive(), "it keeps retrying instead of dying"
    finally:
        source.close()


def test_a_module_picamera2_needs_is_named_not_picamera2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_package(tmp_path, monkeypatch, "import videodev2_not_here\n")
    with pytest.raises(SourceError, match="videodev2_not_here") as info:
        grabber().open()
    assert "module is missing" not in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.integers(64, 4096).map(lambda v: v - v % 2),
    height=st.integers(64, 4096).map(lambda v: v - v % 2),
    motion_height=st.integers(48, 480),
)
def test_any_configured_size_gives_frames_or_one_clear_error(
    rig: Rig, width: int, height: int, motion_height: int
) -> None:
    rig.opened.clear()
    g = PicameraGrabber(width, height, 10, motion_height, read_timeout_s=1)
    try:
        g.open()
    except SourceError as exc:
        assert "cannot be started" in str(exc) and not rig.acquired
        return
    try:
        got = g.grab()
        assert got is not None and g.lores is not None
        assert got[1].shape == (g.lores.height, g.lores.width)
    finally:
        g.close()
    assert not rig.acquired


# -- moved from test_sources.py ------------------------------------------------------------------


def test_lores_geometry() -> None:
    assert lores_size(1280, 720, 120) == (214, 120)
    yuv = np.arange(180 * 256, dtype=np.uint8).reshape(180, 256)
    assert y_plane(yuv, 214, 120).shape == (120, 214)


def test_importing_edge_agent_does_not_import_picamera2() -> None:
    code = (
        "import sys, edge_agent, edge_agent.cli, edge_agent.agent.pipeline, edge_agent.sources; "
        "import edge_agent.sources.picamera; "
        "print('picamera2' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
