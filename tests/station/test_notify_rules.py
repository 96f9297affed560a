"""Who is told what, on both backends: grouping of storms, quiet hours, snoozes, maintenance,
pole offline / reminder / back / flapping, camera health, escalation; every skip says why."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.station.fleet.maintenance import set_maintenance
from edge_agent.station.notify.snooze import snooze
from tests.station.notify_setup import S, Ward
from tests.station.receivers import HttpReceiver

T0 = 1_796_105_600 * S  # 2026-12-01T06:13:20Z, 13:13 in Ho Chi Minh City


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    h = HttpReceiver()
    yield h
    h.close()


def config(hook: HttpReceiver, **sub: object) -> dict[str, object]:
    return {
        "channels": [{"name": "hook", "url": f"json://127.0.0.1:{hook.port}/hook"}],
        "groups": {"to3": ["pole17", "pole18"]},
        "subscriptions": [
            {
                "name": "to3",
                "channels": ["hook"],
                "kinds": [
                    "alarm",
                    "pole_offline",
                    "pole_reminder",
                    "pole_back",
                    "pole_flapping",
                    "camera_health",
                ],
                "poles": ["group:to3"],
                **sub,
            }
        ],
    }


def test_fifty_alarms_in_a_minute_are_one_message_and_a_count(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    ward = Ward(tmp_path, db_url, config(hook, group_window_s=300, max_per_hour=10))
    try:
        for i in range(50):
            ward.alarm(T0 + i * S, n=i + 1, thumb=False)
            ward.run(T0 + i * S + 6 * S)  # past the thumbnail wait
        assert len(hook.requests) == 1, [r.json()["title"] for r in hook.requests]
        states = Counter(r.state for r in ward.rows())
        assert states == {"sent": 1, "grouped": 49, "pending": 1}, states  # the summary waits
        ward.run(T0 + 307 * S)  # the window (300 s) from the first message has ended
        assert len(hook.requests) == 2
        summary = hook.requests[1].json()
        assert "49" in summary["title"] and "pole17" in summary["title"], summary
        grouped = [r for r in ward.rows() if r.state == "grouped"]
        first = "grouped with the alarm of 2026-12-01T13:13:26+07:00"
        assert all(r.reason.startswith(first) for r in grouped)
        # alarms on another pole of the group are their own thread
        ward.alarm(T0 + 308 * S, device="pole18", n=1, thumb=False)
        ward.run(T0 + 315 * S)
        assert len(hook.requests) == 3 and "pole18" in hook.requests[2].json()["title"]
    finally:
        ward.close()


def test_the_hourly_limit_holds_back_and_counts(tmp_path: Path, db_url: str, hook: HttpReceiver) -> None:
    ward = Ward(tmp_path, db_url, config(hook, group_window_s=0, max_per_hour=3))
    try:
        for i in range(8):
            ward.alarm(T0 + i * S, n=i + 1, thumb=False)
        ward.run(T0 + 20 * S)
        assert len(hook.requests) == 3
        limited = [r for r in ward.rows() if r.state == "grouped"]
        assert len(limited) == 5 and "an hour" in limited[0].reason
        hour_end = (T0 // (3600 * S) + 1) * 3600 * S
        ward.run(hour_end + S)
        assert len(hook.requests) == 4 and "5" in hook.requests[3].json()["title"]
    finally:
        ward.close()


def test_quiet_hours_snooze_and_maintenance_skip_with_their_reason(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    # T0 is 13:13 ward time: quiet 13:00-14:00 holds back everything but alarms
    ward = Ward(tmp_path, db_url, config(hook, quiet_hours="13:00-14:00", group_window_s=0))
    try:
        ward.put(T0, "edge/pole17/cam0/health", b'{"kind": "covered", "active": true, "detail": "dark"}')
        ward.alarm(T0, n=1, thumb=False)
        ward.run(T0 + 6 * S)
        rows = {r.kind: r for r in ward.rows()}
        assert rows["camera_health"].state == "skipped"
        assert rows["camera_health"].reason == "quiet hours 13:00-14:00 (Asia/Ho_Chi_Minh)"
        assert rows["alarm"].state == "sent", "alarms ring through quiet hours"

        snooze(ward.engine, "pole17", "cam0", 3600, "volunteer-lan", "market stall until Sunday")
        ward.alarm(T0 + 10 * S, n=2, thumb=False)
        ward.run(T0 + 16 * S)
        second = [r for r in ward.rows() if r.kind == "alarm"][-1]
        assert second.state == "skipped" and "pole17/cam0 snoozed by volunteer-lan until" in second.reason

        set_maintenance(ward.engine, "pole18", True, "volunteer-lan", "new bracket")
        ward.put(T0 + 20 * S, "edge/pole18/cam0/health", b'{"kind": "moved", "active": true}')
        ward.run(T0 + 4000 * S)  # after the quiet hour and the snooze
        moved = [r for r in ward.rows() if r.device == "pole18"][-1]
        assert moved.state == "skipped" and moved.reason.startswith("pole in maintenance (by volunteer-lan")
        assert len(hook.requests) == 1
    finally:
        ward.close()


def test_a_pole_down_is_told_after_alert_after_s_reminded_and_back(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    ward = Ward(tmp_path, db_url, config(hook))
    try:
        ward.put(T0, "edge/pole17/status", b"online")
        ward.put(T0, "edge/pole17/stats", b"{}")
        ward.run(T0 + S)
        ward.put(T0 + 10 * S, "edge/pole17/status", b"offline")  # the pole's will
        ward.run(T0 + 11 * S)
        ward.run(T0 + 60 * S)
        assert hook.requests == [], "not before alert_after_s (60 s)"
        ward.run(T0 + 71 * S)
        assert len(hook.requests) == 1 and "pole17" in hook.requests[0].json()["title"]
        ward.run(T0 + 3000 * S)
        assert len(hook.requests) == 1
        ward.run(T0 + 3611 * S)
        assert len(hook.requests) == 2 and "1 h 00 min" in hook.requests[1].json()["title"]
        ward.put(T0 + 3700 * S, "edge/pole17/status", b"online")
        ward.put(T0 + 3700 * S, "edge/pole17/stats", b"{}")
        ward.run(T0 + 3701 * S)
        assert len(hook.requests) == 3
        back = hook.requests[2].json()
        assert back["title"].startswith("✅") and "1 h 01 min" in back["message"]
        kinds = [r.kind for r in ward.rows()]
        assert kinds == ["pole_offline", "pole_reminder", "pole_back"]
    finally:
        ward.close()


def test_a_flapping_pole_is_said_to_flap_once(tmp_path: Path, db_url: str, hook: HttpReceiver) -> None:
    ward = Ward(tmp_path, db_url, config(hook))
    try:
        t = T0
        for _ in range(6):  # down 2 min, up 3 min, six times in half an hour
            ward.put(t, "edge/pole17/status", b"offline")
            ward.run(t + S)
            ward.run(t + 61 * S)
            ward.put(t + 120 * S, "edge/pole17/status", b"online")
            ward.put(t + 120 * S, "edge/pole17/stats", b"{}")
            ward.run(t + 121 * S)
            t += 300 * S
        titles = [r.json()["title"] for r in hook.requests]
        assert sum("chập chờn" in x for x in titles) == 1, titles
        assert len(titles) == 5, titles  # down, back, down, back, then "flapping" and quiet
    finally:
        ward.close()


def test_an_alarm_nobody_acknowledges_is_escalated(tmp_path: Path, db_url: str, hook: HttpReceiver) -> None:
    cfg = config(hook, escalate_to="officer", escalate_after_s=120)
    cfg["subscriptions"].append({"name": "officer", "channels": ["hook"], "kinds": ["alarm"]})  # type: ignore[union-attr]
    cfg["subscriptions"][1]["poles"] = ["pole99"]  # type: ignore[index]  (told only by escalation)
    ward = Ward(tmp_path, db_url, cfg)
    try:
        ward.alarm(T0, n=1, thumb=False)
        ward.run(T0 + 6 * S)
        assert len(hook.requests) == 1
        ward.run(T0 + 100 * S)
        assert len(hook.requests) == 1
        ward.run(T0 + 200 * S)
        assert len(hook.requests) == 2
        for t in range(400, 440):  # many passes: the escalation is made once and counted once
            ward.run(T0 + t * S)
        assert len(hook.requests) == 2, "escalated once"
        rows = ward.rows()
        assert [(r.subscription, r.key.endswith("|esc")) for r in rows] == [("to3", False), ("officer", True)]
        assert json.loads(rows[1].facts)["escalated_from"] == "to3"
        ward.alarm(T0 + 450 * S, device="pole99", n=5, thumb=False)
        ward.run(T0 + 456 * S)
        assert len(hook.requests) == 3, "the officer's own alarms are not held back by re-counted escalations"
    finally:
        ward.close()


def test_the_station_tells_of_its_own_stall_and_sends_a_daily_digest(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    cfg = config(hook, digest_at="07:00")
    cfg["subscriptions"][0]["kinds"].append("ingest_stalled")  # type: ignore[index]
    cfg["stall_after_s"] = 600
    ward = Ward(tmp_path, db_url, cfg)
    try:
        ward.put(T0, "edge/pole17/status", b"online")
        ward.put(T0, "edge/pole17/stats", b"{}")
        ward.put(T0, "edge/pole18/status", b"offline")
        ward.put(T0, "edge/pole17/cam0/health", b'{"kind": "covered", "active": true}')
        ward.alarm(T0, n=1, thumb=False)
        ward.run(T0 + 6 * S)
        ward.run(T0 + 500 * S)
        assert not any("không nhận được tin" in r.json()["title"] for r in hook.requests), "not yet"
        ward.run(T0 + 601 * S)
        ward.run(T0 + 700 * S)
        stalled = [r.json() for r in hook.requests if "không nhận được tin" in r.json()["title"]]
        assert len(stalled) == 1 and "kết nối broker: connected" in stalled[0]["message"]
        # T0 is 13:13 ward time: the digest comes the next morning at 07:00, once
        morning = T0 + (17 * 3600 + 47 * 60) * S
        ward.put(morning - 60 * S, "edge/pole17/stats", b"{}")
        ward.run(morning - 30 * S)
        assert not any("Tóm tắt" in r.json()["title"] for r in hook.requests)
        ward.run(morning + 5 * S)
        ward.run(morning + 65 * S)
        digests = [r.json() for r in hook.requests if "Tóm tắt" in r.json()["title"]]
        assert len(digests) == 1, digests
        body = digests[0]["message"]
        assert "Cột mất kết nối: pole18" in body and "pole17/cam0: covered" in body, body
        assert "pole17: 1 sự kiện, 1 báo động" in body, body
    finally:
        ward.close()


def test_a_nearly_full_station_disk_is_told_once(tmp_path: Path, hook: HttpReceiver) -> None:
    """A real small filesystem (tmpfs, as root) filled to 95 %: told once, not again while full."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cfg = config(hook)
        cfg["subscriptions"][0]["kinds"].append("station_disk")  # type: ignore[index]
        ward = Ward(disk, f"sqlite:///{tmp_path / 's.db'}", cfg)
        ward.run(T0)
        assert hook.requests == []
        (disk / "filler").write_bytes(b"\0" * (int(3.8 * 2**20)))
        ward.run(T0 + S)
        ward.run(T0 + 2 * S)
        told = [r.json() for r in hook.requests]
        assert len(told) == 1 and "ổ đĩa sắp đầy" in told[0]["title"], told
        assert str(disk / "state") in told[0]["message"]
        ward.close()
    finally:
        subprocess.run(["umount", str(disk)])


def test_a_new_pole_key_and_a_broken_footage_chain_are_told_once(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    from edge_agent.contract import Topics
    from edge_agent.contract.footage import canonical
    from edge_agent.recording.chain import Chain
    from edge_agent.recording.keys import PoleKey
    from tests.station.test_footage_ingest import segment

    cfg = config(hook, kinds=["pole_key_changed", "footage_broken"])
    ward = Ward(tmp_path, db_url, cfg)
    topics = Topics("edge", "pole17", "cam0")
    key, stranger = PoleKey.load_or_create(tmp_path / "k1"), PoleKey.load_or_create(tmp_path / "k2")
    for i, k in enumerate((key, stranger, stranger)):
        body = {"recording": {"key": k.fingerprint, "public_key": k.public_b64}}
        ward.put(T0 + i * S, topics.stats, json.dumps(body).encode())
    chain = Chain.open(tmp_path / "rec", "pole17", "cam0", key, 100)
    records = [json.loads(canonical(chain.append(segment(i, tmp_path)).record)) for i in range(3)]
    records[2]["prev"] = "e" * 64  # a record that does not link to the one before it
    for r in records:
        ward.put(T0 + 5 * S, topics.footage, json.dumps(r).encode())
    ward.run(T0 + 10 * S)
    ward.run(T0 + 20 * S)
    told = [r.json() for r in hook.requests]
    assert len(told) == 2, told
    titles = " | ".join(t["title"] for t in told)
    assert "ký video bằng một khoá mới" in titles and "chuỗi chứng thực bị hỏng" in titles
    text = " | ".join(t["message"] for t in told)
    assert key.fingerprint in text and stranger.fingerprint in text
    assert "record 2 (cam0-00000002.mp4)" in text and "does not link to the record before it" in text
    ward.close()
