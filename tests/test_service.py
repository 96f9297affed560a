"""The live service on a real video file and a real broker: commands, stats, systemd notify."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.agent.notify import Notifier
from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.service import Service
from edge_agent.agent.sink import ListSink
from edge_agent.sources import open_file
from edge_agent.sources.base import Frame, Source, SourceStats
from tests.broker import USERS, Broker, Subscriber
from tests.conftest import shared


def write_config(path: Path, b: Broker, video: Path, state: Path, extra: str = "") -> Path:
    path.write_text(
        f'device_id = "pole1"\nstate_dir = "{state}"\n[camera]\nsource = "{video}"\n'
        f'[mqtt]\nurl = "{b.url()}"\nusername = "pole1"\npassword = "{USERS["pole1"]}"\n'
        f"[health]\nstats_interval_s = 5\n{extra}"
    )
    return path


def test_service_answers_commands_and_publishes_stats(broker: Broker, tmp_path: Path) -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    cfg_path = write_config(tmp_path / "config.toml", broker, video, tmp_path / "state")
    sub = Subscriber(broker, ["edge/pole1/#"])
    service = Service(config.load(cfg_path), cfg_path)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert sub.wait_for(lambda: service.delivery is not None and service.delivery.connected, 10)
        assert sub.wait_for(lambda: bool(sub.on("stats")), 15), "no stats message"
        stats = json.loads(sub.on("stats")[-1].payload)
        for key in (
            "fps_in",
            "fps_processed",
            "frames_dropped",
            "cpu_percent",
            "memory",
            "disk_free_mb",
            "outbox_depth",
            "outbox_dropped",
            "clock_synced",
            "uptime_s",
            "version",
            "model",
        ):
            assert key in stats, key
        assert stats["model"].startswith("nanodet-g")

        sub.client.publish("edge/pole1/cmd/snapshot", b"{}", qos=1)
        assert sub.wait_for(lambda: bool(sub.on("snapshot/reply")), 10)
        assert json.loads(sub.on("snapshot/reply")[0].payload)["ok"] is True

        cfg_path.write_text(cfg_path.read_text() + "[camera.nope]\n")  # an invalid file
        sub.client.publish("edge/pole1/cmd/reload", b"", qos=1)
        assert sub.wait_for(lambda: bool(sub.on("reload/reply")), 10)
        reply = json.loads(sub.on("reload/reply")[0].payload)
        assert reply["ok"] is False and any("camera" in p for p in reply["problems"])
        assert thread.is_alive(), "an invalid reload must not stop the agent"

        write_config(cfg_path, broker, video, tmp_path / "state", "[events]\nmin_update_interval_s = 9\n")
        sub.client.publish("edge/pole1/cmd/reload", b"{}", qos=1)
        assert sub.wait_for(lambda: len(sub.on("reload/reply")) == 2, 10)
        reply = json.loads(sub.on("reload/reply")[1].payload)
        assert reply["ok"] is True and reply["restart_needed_for"] == []
        assert sub.wait_for(lambda: service.pipeline.settings.events.min_update_interval_s == 9, 10)
        assert "broker connected" in service.status_line()
    finally:
        service.stop()
        thread.join(30)
        sub.close()


class StallingSource(Source):
    """Real frames from a video, then nothing: a camera that hangs."""

    live = True

    def __init__(self, video: Path, frames: int) -> None:
        self.name = "stalling"
        self.stats = SourceStats()
        self._inner = open_file(video, 120)
        self._frames = frames
        self._closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        for i, frame in enumerate(self._inner.frames()):
            if i == self._frames:
                break
            yield frame
        self._closed.wait(30)  # the hang

    def close(self) -> None:
        self._closed.set()


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s: pings at most every 0.1 s
    yield sock
    sock.close()


def received(sock: socket.socket, seconds: float) -> list[tuple[float, str]]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append((time.monotonic(), sock.recv(4096).decode()))
        except TimeoutError:
            continue
    return out


def test_watchdog_pings_while_frames_flow_and_stops_when_the_camera_stalls(
    notify_socket: socket.socket, tmp_path: Path
) -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    settings = config.load(None, overrides={"device_id": "pole1", "state_dir": str(tmp_path / "state")})
    source = StallingSource(video, frames=60)
    pipeline = Pipeline(settings, source, [ListSink()], Notifier())
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        messages = received(notify_socket, 8.0)
        texts = [m for _, m in messages]
        assert texts[0] == "READY=1"
        pings = [t for t, m in messages if m == "WATCHDOG=1"]
        assert len(pings) >= 2, "WATCHDOG=1 must be sent while frames are processed"
        assert pipeline.stats.frames_processed == 60
        later = received(notify_socket, 1.0)
        assert "WATCHDOG=1" not in [m for _, m in later], "no ping may come while the camera hangs"
    finally:
        source.close()
        thread.join(30)


def test_notifier_is_silent_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled
    n.ready()  # no socket, no error
