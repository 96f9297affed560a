"""No password reaches any output channel: a planted camera password and broker password are
looked for in the agent's log, its STATUS= lines, check-config's output, the reload reply, stats
and health on the broker — with the real `edge-agent run`, a real broker and an RTSP stand-in that
refuses the camera's password (so every camera message names the URL)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.broker import USERS, Broker, Subscriber
from tests.conftest import agent_command
from tests.test_camera_diagnose import RtspStandIn

CAMERA_PASSWORD = "Pl4nted-cam-pw"
BROKER_PASSWORD = USERS["pole1"]


def config_text(broker: Broker, camera_port: int, state: Path, extra: str = "") -> str:
    return (
        f'device_id = "pole1"\nstate_dir = "{state}"\n'
        f'[camera]\nsource = "rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:{camera_port}/stream1"\n'
        "read_timeout_s = 2\nreopen_min_s = 0.5\nreopen_max_s = 1\n"
        f'[mqtt]\nurl = "{broker.url()}"\nusername = "pole1"\npassword = "{BROKER_PASSWORD}"\n'
        f"[health]\nstats_interval_s = 5\n{extra}"
    )


def test_no_channel_shows_a_password(broker: Broker, tmp_path: Path) -> None:
    camera = RtspStandIn("401 Unauthorized")
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(broker, camera.port, tmp_path / "state"))
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(0.2)
    sub = Subscriber(broker, ["edge/pole1/#"])
    channels: dict[str, str] = {}
    check = subprocess.run(agent_command("check-config", cfg), capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    channels["check-config"] = check.stdout + check.stderr
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "30000000"}
    agent = subprocess.Popen(
        agent_command("run", "--config", cfg),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (sub.on("stats") and sub.on("health")):
            with contextlib.suppress(TimeoutError):
                status.append(notify.recv(4096).decode())
        assert sub.on("stats") and sub.on("health"), "the agent must report the camera's trouble"
        # a reload with a mistake that names a URL with credentials
        cfg.write_text(
            config_text(broker, camera.port, tmp_path / "state").replace(
                f'url = "{broker.url()}"', f'url = "mqtt://pole1:{BROKER_PASSWORD}@127.0.0.1:1"'
            )
        )
        sub.client.publish("edge/pole1/cmd/reload", b"{}", qos=1)
        sub.client.publish("edge/pole1/cmd/stats", b"{}", qos=1)
        assert sub.wait_for(lambda: sub.on("reload/reply") and sub.on("stats/reply"), 15)
        reply = json.loads(sub.on("reload/reply")[0].payload)
        assert reply["ok"] is False
    finally:
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=60)
        notify.close()
        camera.close()
        sub.close()
    channels["log"] = out + err
    channels["STATUS"] = "\n".join(status)
    channels["mqtt"] = "\n".join(m.payload.decode("utf-8", "replace") for m in sub.messages)
    assert "refused the user/password" in channels["log"], "the log must say why the camera failed"
    assert any(s.startswith("STATUS=") and "camera lost" in s for s in status)
    for name, text in channels.items():
        assert CAMERA_PASSWORD not in text, f"the camera password shows in {name}"
        assert BROKER_PASSWORD not in text, f"the broker password shows in {name}"
