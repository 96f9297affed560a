"""The gong end to end with real parts: mosquitto, the agent replaying the demo clip with an
alarm zone, the station as its own process → the alarm mail at a real SMTP server and the
webhook; the pole gone → the offline message after `alert_after_s`, not before; the pole back
→ the recovery message."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.broker import free_port
from tests.conftest import REPO, agent_command
from tests.station.receivers import HttpReceiver, SmtpReceiver
from tests.station.shipped_broker import STATION_PASSWORD, STATION_USER, ShippedBroker
from tests.station.test_e2e import start_station, wait_for

DEMO = REPO / "demo" / "car-detection.mp4"
ALERT_AFTER_S = 8


def replay(cfg: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command(
            "replay", DEMO, "--out", out, "--config", cfg, "--no-progress", "--drain-timeout", "60"
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_alarm_mail_webhook_offline_and_back(shipped_broker: ShippedBroker, tmp_path: Path) -> None:
    broker = shipped_broker
    smtp, hook = SmtpReceiver(), HttpReceiver()
    station_dir = tmp_path / "station"
    station_dir.mkdir()
    cfg = station_dir / "station.toml"
    cfg.write_text(
        f'station_id = "phuong7"\nstate_dir = "{station_dir / "state"}"\ntime_zone = "Asia/Ho_Chi_Minh"\n'
        f'[[brokers]]\nname = "ward"\nurl = "{broker.url()}"\nusername = "{STATION_USER}"\n'
        f'password = "{STATION_PASSWORD}"\nclient_id = "station-notify"\n'
        f"[ingest]\nthumbnail_wait_s = 5\n[http]\nport = {free_port()}\n"
        f"[fleet]\nstale_after_s = 60\nalert_after_s = {ALERT_AFTER_S}\n"
        '[notify]\nbase_url = "https://tram.phuong7.example"\n'
        f'[[notify.channels]]\nname = "mail"\nurl = "{smtp.url()}"\n'
        f'[[notify.channels]]\nname = "hook"\nurl = "json://127.0.0.1:{hook.port}/gong"\n'
        '[[notify.subscriptions]]\nname = "duty"\nchannels = ["mail", "hook"]\n'
        'kinds = ["alarm", "pole_offline", "pole_back"]\ngroup_window_s = 3600\n'
    )
    agent_cfg = tmp_path / "agent.toml"
    agent_cfg.write_text(
        f'device_id = "pole1"\nstate_dir = "{tmp_path / "agent"}"\n'
        f'[mqtt]\nurl = "{broker.url()}"\nusername = "pole1"\npassword = "{broker.passwords["pole1"]}"\n'
        "will_delay_s = 0\n[outbox]\nflush_interval_s = 0.2\n"
        '[[zones]]\nname = "road"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n'
        '[[alarms]]\nname = "any-car"\nzone = "road"\nlabels = ["car"]\nstart = "00:00"\nend = "23:59"\n'
    )
    station = start_station(cfg)
    try:
        time.sleep(4)  # subscribed
        first = replay(agent_cfg, tmp_path / "out1")
        assert first.returncode == 0, first.stderr
        ended = time.monotonic()  # the replay's end sends `offline`
        wait_for(lambda: len(smtp.messages) >= 1, 60, "the alarm mail")
        mail = smtp.messages[0]
        assert mail["Subject"].startswith("🔔 Báo động: ô tô tại cột pole1"), mail["Subject"]
        assert any(p.get_content_type() == "image/jpeg" for p in mail.iter_attachments())
        wait_for(lambda: any("Báo động" in r.json()["title"] for r in hook.requests), 30, "the alarm webhook")

        wait_for(
            lambda: any("mất kết nối" in r.json()["title"] for r in hook.requests), 60, "the offline message"
        )
        told = time.monotonic()
        assert told - ended >= ALERT_AFTER_S - 1, "not before alert_after_s"
        second = replay(agent_cfg, tmp_path / "out2")  # the pole is back
        assert second.returncode == 0, second.stderr
        wait_for(lambda: any("hoạt động lại" in r.json()["title"] for r in hook.requests), 60, "back online")
        alarms = [m for m in smtp.messages if "Báo động" in m["Subject"]]
        assert len(alarms) == 1, "the second pass's alarms are grouped (group_window_s = 3600)"
    finally:
        station.send_signal(signal.SIGTERM)
        try:
            station.wait(20)
        except subprocess.TimeoutExpired:
            station.kill()
        smtp.close()
        hook.close()
        log = station_dir / "station.log"
        if log.exists():
            text = log.read_text()
            assert "Traceback" not in text, text[-3000:]
