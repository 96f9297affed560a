"""The `[notify]` section as a technician writes it: each mistake one clear line naming the
channel or subscription, no token ever printed; and the admin's commands: `notify test` says
what failed, `notify list` says why a message was not sent, `notify snooze` is audited."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.station.evidence import auditlog
from edge_agent.station.store.engine import connect
from edge_agent.station.store.ops import now_us
from tests.broker import free_port
from tests.station.notify_setup import Ward
from tests.station.receivers import HttpReceiver
from tests.station.test_cli import Ran
from tests.station.test_cli import station as station

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"
GOOD_CHANNEL = f'[[notify.channels]]\nname = "tg"\nurl = "tgram://{TOKEN}/-1001234567890"\n'


def write(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\ntime_zone = "Asia/Ho_Chi_Minh"\n{body}')
    return cfg


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[notify.channels]]\nname = "tg"\nurl = "telegram bot 123"\n', "channel 'tg': not a URL"),
        ('[[notify.channels]]\nname = "icq"\nurl = "icq://oa/123"\n', "channel 'icq': unknown scheme icq://"),
        ('[[notify.channels]]\nname = "tg"\nurl = "tgram://x"\n', "channel 'tg': tgram:// URL is incomplete"),
        (
            GOOD_CHANNEL
            + '[[notify.subscriptions]]\nname = "to3"\nchannels = ["tg"]\npoles = ["group:cho"]\n',
            "subscription 'to3' names pole group 'cho', which is not in [notify.groups]",
        ),
        (
            GOOD_CHANNEL + '[[notify.subscriptions]]\nname = "to3"\nchannels = ["sms"]\n',
            "subscription 'to3' names channel 'sms'",
        ),
        (
            GOOD_CHANNEL + '[[notify.subscriptions]]\nname = "to3"\nchannels = ["tg"]\nkinds = ["fire"]\n',
            "unknown kind 'fire'",
        ),
        (
            GOOD_CHANNEL
            + '[[notify.subscriptions]]\nname = "to3"\nchannels = ["tg"]\nquiet_hours = "10pm-6am"\n',
            "quiet_hours must be HH:MM-HH:MM",
        ),
        (
            '[notify.templates.alarm]\nvi = "Báo động {pole} {plate}"\n',
            "templates.alarm.vi: unknown field {plate}",
        ),
        ('[notify.templates.alarm]\nvi = "Báo động {pole"\n', "templates.alarm.vi:"),
    ],
)
def test_each_notify_mistake_is_one_clear_line(
    tmp_path: Path, station: Callable[..., Ran], body: str, needle: str
) -> None:
    ran = station("check-config", write(tmp_path, body))
    assert ran.returncode == 2, ran.stdout
    assert needle in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr and TOKEN not in ran.stderr and "AAEhBO" not in ran.stderr


def test_check_config_masks_the_channel_urls(tmp_path: Path, station: Callable[..., Ran]) -> None:
    url_file = tmp_path / "hook.url"
    url_file.write_text("json://hook-user:s3cret-pass@127.0.0.1:9/ward\n")
    os.chmod(url_file, 0o644)
    body = GOOD_CHANNEL + f'[[notify.channels]]\nname = "hook"\nurl_file = "{url_file}"\n'
    refused = station("check-config", write(tmp_path, body))
    assert refused.returncode == 2 and f"chmod 600 {url_file}" in refused.stderr
    os.chmod(url_file, 0o600)
    ran = station("check-config", write(tmp_path, body))
    assert ran.returncode == 0, ran.stderr
    assert "tgram://" in ran.stdout and "json://" in ran.stdout
    for secret in (TOKEN, "AAEhBOweik6ad9r", "s3cret-pass"):
        assert secret not in ran.stdout + ran.stderr


def test_notify_test_says_what_failed(tmp_path: Path, station: Callable[..., Ran]) -> None:
    hook = HttpReceiver()
    try:
        closed = free_port()
        body = (
            f'[[notify.channels]]\nname = "hook"\nurl = "json://127.0.0.1:{hook.port}/x"\n'
            f'[[notify.channels]]\nname = "gone"\nurl = "json://user:pw-secret-1@127.0.0.1:{closed}/x"\n'
        )
        cfg = write(tmp_path, body)
        ran = station("notify", "test", "--config", cfg)
        assert ran.returncode == 1
        assert "hook (json://127.0.0.1" in ran.stdout and "sent" in ran.stdout
        gone = next(line for line in ran.stdout.splitlines() if line.startswith("gone"))
        assert "FAILED" in gone and ("refused" in gone.lower() or "connection" in gone.lower()), gone
        assert "pw-secret-1" not in ran.stdout
        assert "Thử kênh hook" in hook.requests[0].json()["title"]
        one = station("notify", "test", "--channel", "hook", "--config", cfg)
        assert one.returncode == 0 and len(hook.requests) == 2
        bad = station("notify", "test", "--channel", "nope", "--config", cfg)
        assert bad.returncode == 2 and "no channel named 'nope'" in bad.stderr
    finally:
        hook.close()


def test_notify_list_and_snooze(tmp_path: Path, station: Callable[..., Ran]) -> None:
    hook = HttpReceiver()
    try:
        body = (
            f'[[notify.channels]]\nname = "hook"\nurl = "json://127.0.0.1:{hook.port}/x"\n'
            '[[notify.subscriptions]]\nname = "to3"\nchannels = ["hook"]\nkinds = ["alarm"]\n'
        )
        cfg = write(tmp_path, body)
        db = f"sqlite:///{tmp_path / 'state' / 'station.db'}"
        ward = Ward(tmp_path, db, {})
        ward.put(now_us(), "edge/pole17/status", b"online")
        ward.close()
        assert station("notify", "snooze", "pole99", "--for", "2h", "--config", cfg).returncode == 4
        assert station("notify", "snooze", "pole17", "--for", "soon", "--config", cfg).returncode == 2
        ran = station(
            "notify",
            "snooze",
            "pole17",
            "--camera",
            "cam0",
            "--for",
            "2h",
            "--note",
            "stall",
            "--user",
            "lan",
            "--config",
            cfg,
        )
        assert ran.returncode == 0 and "pole17/cam0: snoozed until" in ran.stdout and "+07:00" in ran.stdout
        from edge_agent.station import config as station_config

        ward = Ward(tmp_path, db, station_config.load(cfg).notify.model_dump(mode="python"))
        ward.settings = station_config.load(cfg)
        ward.alarm(now_us(), thumb=False)
        ward.stage.tick()
        ward.close()
        listed = station("notify", "list", "--config", cfg)
        assert listed.returncode == 0
        assert "to3: alarm · poles * · via hook" in listed.stdout
        assert "pole17/cam0 until" in listed.stdout and "by lan: stall" in listed.stdout
        assert "skipped" in listed.stdout and "snoozed by lan" in listed.stdout
        engine = connect(db)
        with engine.connect() as conn:
            assert "notify-snooze" in [r.action for r in auditlog.rows(conn)]
        engine.dispose()
    finally:
        hook.close()
