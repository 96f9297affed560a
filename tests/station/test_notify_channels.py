"""An alarm reaches people on real receivers: an SMTP server (the mail parsed back, Vietnamese
intact, the event's thumbnail attached), a JSON webhook, ntfy's publish API and Telegram's Bot
API (Apprise's Telegram plugin pointed at a local receiver), each once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.station.store.ops import now_us
from tests.station.notify_setup import Ward
from tests.station.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    s = SmtpReceiver()
    yield s
    s.close()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    h = HttpReceiver()
    yield h
    h.close()


def notify_config(smtp: SmtpReceiver, http: HttpReceiver) -> dict[str, object]:
    return {
        "base_url": "https://tram.phuong7.example",
        "channels": [
            {"name": "mail", "url": smtp.url()},
            {"name": "hook", "url": f"json://127.0.0.1:{http.port}/hook"},
            {"name": "phone", "url": f"ntfy://127.0.0.1:{http.port}/to3-canh-bao"},
        ],
        "subscriptions": [
            {"name": "officer", "channels": ["mail", "hook"], "kinds": ["alarm"]},
            {"name": "to3", "channels": ["phone"], "kinds": ["alarm"], "poles": ["pole17"]},
        ],
    }


def test_an_alarm_is_mailed_with_its_thumbnail_and_posted_once(
    tmp_path: Path, db_url: str, smtp: SmtpReceiver, http: HttpReceiver
) -> None:
    ward = Ward(tmp_path, db_url, notify_config(smtp, http))
    try:
        picture = ward.alarm(now_us())
        for _ in range(3):  # a few passes: the first sends, the others find nothing new
            ward.stage.tick()
        assert smtp.wait(1) and http.wait(2)
        ward.stage.tick()
        assert len(smtp.messages) == 1 and len(http.requests) == 2, "each channel told once"

        mail = smtp.messages[0]
        assert mail["Subject"] == "🔔 Báo động: xe máy tại cột pole17"
        text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "vùng «gate»" in text and "21:10:20 · +07" in text, text
        assert "https://tram.phuong7.example/events/pole17/pole17-cam0-000001" in text
        assert "https://tram.phuong7.example/notify/ack/" in text
        attached = [p for p in mail.iter_attachments() if p.get_content_type() == "image/jpeg"]
        assert len(attached) == 1
        assert hashlib.sha256(attached[0].get_content()).hexdigest() == hashlib.sha256(picture).hexdigest()

        hook = next(r for r in http.requests if r.path.startswith("/hook"))
        body = hook.json()
        assert body["title"].startswith("🔔 Báo động") and "pole17" in body["message"]
        assert hook.headers.get("Idempotency-Key", "").startswith("alarm:")
        ntfy = next(r for r in http.requests if not r.path.startswith("/hook"))
        assert "to3-canh-bao" in ntfy.path
        states = {(r.subscription, r.channel): r.state for r in ward.rows()}
        assert states == {("officer", "mail"): "sent", ("officer", "hook"): "sent", ("to3", "phone"): "sent"}
    finally:
        ward.close()


def test_telegram_gets_the_bot_apis_send_photo(
    tmp_path: Path, db_url: str, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apprise.plugins.telegram import NotifyTelegram

    # Apprise's Telegram host is fixed: point it at the local receiver (the test's only patch).
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"http://127.0.0.1:{http.port}/bot")
    token, chat = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra", "-1001234567890"
    cfg = {
        "channels": [{"name": "tg", "url": f"tgram://{token}/{chat}"}],
        "subscriptions": [{"name": "to3", "channels": ["tg"], "kinds": ["alarm"]}],
    }
    ward = Ward(tmp_path, db_url, cfg)
    try:
        ward.alarm(now_us())
        ward.stage.tick()
        assert http.wait(1)
        paths = [r.path for r in http.requests]
        assert all(p.startswith(f"/bot{token}/") for p in paths), paths
        methods = {p.rsplit("/", 1)[-1] for p in paths}
        assert "sendPhoto" in methods, methods  # the thumbnail, as a photo
        photo = next(r for r in http.requests if r.path.endswith("sendPhoto"))
        assert b'name="chat_id"' in photo.body and chat.encode() in photo.body
        assert b'name="photo"' in photo.body
        rows = ward.rows()
        assert [r.state for r in rows] == ["sent"]
        assert token not in " ".join(r.reason for r in rows)
    finally:
        ward.close()
