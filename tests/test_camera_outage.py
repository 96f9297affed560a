"""A network camera that goes away is not a hung agent (issue: the watchdog killed a healthy
agent every ~190 s while its camera was down, and the camera stayed "lost" after a stall).

The service runs on a real video behind a scripted camera (up, down, stalled), with a real
broker and a real $NOTIFY_SOCKET: READY comes at once, WATCHDOG=1 keeps coming while the camera
is down and stops when a thread really dies, the camera's state is reported (STATUS=, stats,
`health` camera_lost active/cleared) without its password, and open tracks end while the camera
is gone.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge_agent import config
from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.service import Service
from edge_agent.agent.sink import ListSink
from edge_agent.contract import Kind
from edge_agent.sources import open_file
from edge_agent.sources.base import Frame, Source, SourceError, SourceStats
from edge_agent.sources.live import LiveSource
from tests.broker import USERS, Broker, Subscriber
from tests.conftest import shared
from tests.paced_camera import PacedCamera

PASSWORD = "Cam-s3cret-9876"
URL = f"rtsp://admin:{PASSWORD}@10.0.0.9:554/stream1"


class ScriptedCamera(PacedCamera):
    """Real frames of a video at ~25 fps, scripted by the test: `down` (cannot be opened, like
    an unplugged camera), `stalled` (the stream stays open but sends nothing)."""

    def __init__(self, video: Path) -> None:
        super().__init__(video)
        self.down = threading.Event()
        self.stalled = threading.Event()

    def open(self) -> None:
        if self.down.is_set():
            raise SourceError(f"camera {URL} cannot be opened (unplugged, wrong URL, or busy)")

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        while self.stalled.is_set() and not self.down.is_set():
            time.sleep(0.05)
        if self.down.is_set():
            return None
        return super().grab()


def live(camera: ScriptedCamera, read_timeout_s: float = 1.0) -> LiveSource:
    return LiveSource(URL, camera, reopen_min_s=0.2, reopen_max_s=0.5, read_timeout_s=read_timeout_s)


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")  # 4 s: pings every 2 s, a hang shows after 3 s
    yield sock
    sock.close()


def listen(sock: socket.socket, seconds: float) -> list[str]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def settings_for(tmp_path: Path, broker: Broker | None) -> config.Settings:
    overrides: dict[str, object] = {
        "device_id": "pole1",
        "state_dir": str(tmp_path / "state"),
        "camera": {"source": URL, "read_timeout_s": 1.0},
        "health": {"stats_interval_s": 5},
    }
    if broker is not None:
        overrides["mqtt"] = {"url": broker.url(), "username": "pole1", "password": USERS["pole1"]}
    return config.load(None, overrides=overrides)


def test_camera_down_is_reported_not_killed_and_comes_back(
    broker: Broker, notify: socket.socket, tmp_path: Path
) -> None:
    camera = ScriptedCamera(shared("pets09_s2l1_vtest/vtest.avi"))
    camera.down.set()  # down from the start: READY must not wait for a frame
    sub = Subscriber(broker, ["edge/pole1/#"])
    service = Service(settings_for(tmp_path, broker), None, source=live(camera))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        down = listen(notify, 9.0)
        assert down[0] == "READY=1", down[:3]
        assert down.count("WATCHDOG=1") >= 3, "a camera that is down must not starve the watchdog"
        statuses = [m for m in down if m.startswith("STATUS=")]
        assert any("camera lost" in m and "cannot be opened" in m for m in statuses), statuses
        assert sub.wait_for(lambda: bool(sub.on("health")), 10)
        lost = json.loads(sub.on("health")[0].payload)
        assert (lost["kind"], lost["active"]) == ("camera_lost", True)

        camera.down.clear()
        assert sub.wait_for(lambda: service.source.stats.connected, 10), "the camera must be found again"
        assert sub.wait_for(lambda: len(sub.on("health")) >= 2, 10)
        back = json.loads(sub.on("health")[-1].payload)
        assert (back["kind"], back["active"]) == ("camera_lost", False)
        assert any(m == "STATUS=camera ok; broker connected" or "camera ok" in m for m in listen(notify, 3))
        stats = [json.loads(m.payload) for m in sub.on("stats")]
        assert stats and any(s["camera_ok"] is False for s in stats)
        everything = "\n".join([*down, *(m.payload.decode("utf-8", "replace") for m in sub.messages)])
        assert PASSWORD not in everything
        assert thread.is_alive()
    finally:
        service.stop()
        thread.join(30)
        sub.close()


class HangingSource(Source):
    """Real frames, then a hang inside the pipeline's thread (no idle ticks): a hung agent."""

    live = True

    def __init__(self, video: Path, frames: int) -> None:
        self.name, self.stats = "hanging", SourceStats(connected=True)
        self._inner, self._frames, self._release = open_file(video, 120), frames, threading.Event()

    def frames(self) -> Iterator[Frame]:
        for i, frame in enumerate(self._inner.frames()):
            if i == self._frames:
                break
            yield frame
        self._release.wait(30)

    def close(self) -> None:
        self._release.set()


def test_a_hung_pipeline_starves_the_watchdog(notify: socket.socket, tmp_path: Path) -> None:
    source = HangingSource(shared("pets09_s2l1_vtest/vtest.avi"), frames=30)
    service = Service(settings_for(tmp_path, None), None, source=source)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        first = listen(notify, 3.0)
        assert first[0] == "READY=1" and "WATCHDOG=1" in first
        listen(notify, 3.0)  # the hang is noticed after 3 s
        later = listen(notify, 4.0)
        assert "WATCHDOG=1" not in later, "a pipeline that shows no sign of life must not be pinged for"
        assert any("NOT HEALTHY" in m for m in later)
    finally:
        service.stop()
        thread.join(30)


def test_a_dead_mqtt_thread_starves_the_watchdog(
    broker: Broker, notify: socket.socket, tmp_path: Path
) -> None:
    camera = ScriptedCamera(shared("pets09_s2l1_vtest/vtest.avi"))
    service = Service(settings_for(tmp_path, broker), None, source=live(camera))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert "WATCHDOG=1" in listen(notify, 3.0)
        assert service.delivery is not None
        service.delivery.client.loop_stop()  # paho's network thread ends
        listen(notify, 3.0)
        assert "WATCHDOG=1" not in listen(notify, 4.0)
        assert "delivery or MQTT thread" in service.liveness()
    finally:
        service.stop()
        thread.join(30)


def test_a_stall_on_the_same_stream_clears_when_frames_resume(tmp_path: Path) -> None:
    camera = ScriptedCamera(shared("pets09_s2l1_vtest/vtest.avi"))
    source = live(camera, read_timeout_s=1.0)
    frames = source.frames()
    next(frames)
    camera.stalled.set()
    got: list[Frame] = []
    thread = threading.Thread(target=lambda: got.extend(f for f, _ in zip(frames, range(5), strict=False)))
    thread.start()
    time.sleep(2.5)
    assert not source.stats.connected and "no frame for 1 s" in source.stats.last_error
    assert source.stats.reopens == 0
    camera.stalled.clear()
    thread.join(10)
    assert len(got) == 5 and source.stats.connected and source.stats.last_error == ""
    source.close()


def test_tracks_end_while_the_camera_is_gone(tmp_path: Path) -> None:
    camera = ScriptedCamera(shared("pets09_s2l1_vtest/vtest.avi"))
    settings = settings_for(tmp_path, None)
    source = live(camera)
    sink = ListSink()
    pipeline = Pipeline(settings, source, [sink])
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(m.kind is Kind.EVENT for m in sink.messages):
            time.sleep(0.2)
        time.sleep(2.0)
        camera.down.set()  # people in view, then the camera goes away for good
        time.sleep(0.3)  # a grab already under way may still deliver its frame
        served = camera.served
        time.sleep(settings.tracker.max_unseen_s + 3.0)
        events = [json.loads(m.payload) for m in sink.messages if m.kind is Kind.EVENT]
        started = {e["id"] for e in events if e["type"] == "start"}
        ended = {e["id"] for e in events if e["type"] == "end"}
        assert started and started == ended, "every track must end while the camera is gone"
        assert camera.served == served, "the end events came without any new frame"
        assert not pipeline.tracker.tracks
    finally:
        pipeline.stop()
        thread.join(30)
