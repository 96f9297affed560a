"""The live service on a real video file and a real broker: commands, stats, systemd notify."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.agent.notify import Notifier
from edge_agent.agent.service import Service
from tests.broker import USERS, Broker, Subscriber
from tests.conftest import shared
from tests.paced_camera import paced_source


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
    # the video at a camera's pace, looping: a file would end when a fast CPU got through it
    service = Service(config.load(cfg_path), cfg_path, source=paced_source(video))
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


def test_notifier_is_silent_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled
    n.ready()  # no socket, no error
