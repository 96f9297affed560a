"""Delivery against a real mosquitto: topics, properties, ACL, passwords, TLS."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.agent.replay import replay
from edge_agent.contract.message import Kind, Message
from edge_agent.delivery.mqtt import Delivery
from tests.broker import USERS, Broker, Subscriber
from tests.conftest import shared


def settings_for(
    b: Broker,
    tmp_path: Path,
    device: str = "pole1",
    user: str | None = None,
    password: str | None = None,
    tls: bool = False,
    ca: bool = True,
) -> config.Settings:
    user = user or device
    mqtt: dict[str, object] = {
        "url": b.url(tls),
        "username": user,
        "password": password or USERS.get(user, "x"),
        "reconnect_min_s": 1,
        "reconnect_max_s": 2,
        "will_delay_s": 0,
    }
    if tls and ca:
        mqtt["ca_file"] = str(b.ca)
    return config.load(
        None,
        overrides={
            "device_id": device,
            "state_dir": str(tmp_path / "state"),
            "mqtt": mqtt,
            "outbox": {"flush_interval_s": 0.2},
        },
    )


def event_message(topic: str, i: int) -> Message:
    body = json.dumps({"id": f"pole1-cam0-{i:06d}", "seq": i}).encode()
    return Message(topic, body, Kind.EVENT, properties={"schema": "edge-agent/event/1"})


def test_replay_events_arrive_with_topics_properties_and_payloads(broker: Broker, tmp_path: Path) -> None:
    video = shared("intel_car_detection/car-detection.mp4")
    sub = Subscriber(broker, ["edge/#"])
    try:
        result = replay(settings_for(broker, tmp_path), video, tmp_path / "out")
        assert result.undelivered == 0
        assert sub.wait_for(lambda: len(sub.on("events")) >= result.event_messages, 10)
        events = sub.on("events")
        assert all(m.topic == "edge/pole1/cam0/events" for m in events)
        for m in events:
            assert m.properties.ContentType == "application/json"
            assert ("schema", "edge-agent/event/1") in m.properties.UserProperty
        bodies = [json.loads(m.payload) for m in events]
        lines = (tmp_path / "out" / "events.jsonl").read_text().splitlines()
        assert [b["id"] for b in bodies] == [json.loads(line)["id"] for line in lines]
        thumbs = {m.topic.rsplit("/", 1)[-1]: m for m in sub.on("thumbnails")}
        last = {b["id"]: b for b in bodies}
        for event_id, body in last.items():
            thumb = thumbs[event_id]
            assert thumb.properties.ContentType == "image/jpeg"
            assert hashlib.sha256(thumb.payload).hexdigest() == body["thumbnail"]["sha256"]
        status = sub.on("status")
        assert status and status[0].payload == b"online"
        assert sub.on("snapshot") and sub.on("motion")
    finally:
        sub.close()


def test_device_cannot_publish_to_another_devices_topics(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pole2's credentials, pole1's topics: the broker's PUBACK says 135; we log, count, drop."""
    sub = Subscriber(broker, ["edge/#"])
    s = settings_for(broker, tmp_path, device="pole1", user="pole2")
    delivery = Delivery(s).start()
    try:
        with caplog.at_level(logging.ERROR):
            for i in range(1, 6):
                delivery.publish(event_message(delivery.topics.events, i))
            assert delivery.drain(10) == 0  # not retried forever
        assert delivery.stats.rejected.get(135) == 5
        assert "reason 135" in caplog.text and "ACL" in caplog.text
        time.sleep(0.5)
        assert not sub.on("events")
    finally:
        delivery.close()
        sub.close()


def test_wrong_password_is_refused_and_never_taken_for_connected(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings_for(broker, tmp_path, password="wrong")
    with caplog.at_level(logging.WARNING):
        delivery = Delivery(s).start()
        try:
            delivery.publish(event_message(delivery.topics.events, 1))
            deadline = time.monotonic() + 10
            while delivery.stats.refused < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert delivery.stats.refused >= 2, "refusals must be retried with backoff"
            assert not delivery.connected
            assert delivery.depth == 1  # kept for when the password is fixed
        finally:
            delivery.close()
    assert "refused the connection" in caplog.text
    assert "Bad user name or password" in caplog.text or "Not authorized" in caplog.text


def test_tls_with_the_ca_delivers(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker, ["edge/pole1/#"])
    delivery = Delivery(settings_for(broker, tmp_path, tls=True)).start()
    try:
        delivery.publish(event_message(delivery.topics.events, 1))
        assert delivery.drain(10) == 0
        assert delivery.connected
        assert sub.wait_for(lambda: len(sub.on("events")) == 1, 5)
    finally:
        delivery.close()
        sub.close()


def test_tls_without_the_ca_never_connects_and_says_why(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        delivery = Delivery(settings_for(broker, tmp_path, tls=True, ca=False)).start()
        try:
            delivery.publish(event_message(delivery.topics.events, 1))
            assert delivery.drain(3) == 1
            assert not delivery.connected and delivery.stats.connects == 0
        finally:
            delivery.close()
    assert "TLS certificate is not trusted" in caplog.text and "mqtt.ca_file" in caplog.text


def test_commands_get_json_replies_and_bad_ones_do_not_crash(broker: Broker, tmp_path: Path) -> None:
    from edge_agent.delivery.commands import Commands

    commands = Commands()
    commands.add("stats", lambda args: {"depth": 0})
    sub = Subscriber(broker, ["edge/pole1/cmd/+/reply"])
    delivery = Delivery(settings_for(broker, tmp_path), on_command=commands).start()
    try:
        deadline = time.monotonic() + 10
        while not delivery.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        for name, payload in (("stats", b"{}"), ("nope", b""), ("stats", b"not json"), ("stats", b"[1]")):
            sub.client.publish(f"edge/pole1/cmd/{name}", payload, qos=1)
        assert sub.wait_for(lambda: len(sub.messages) >= 4, 10)
        replies = [json.loads(m.payload) for m in sub.messages]
        assert replies[0] == {"ok": True, "command": "stats", "depth": 0}
        assert replies[1]["ok"] is False and "unknown command" in replies[1]["error"]
        assert replies[2]["ok"] is False and "not valid JSON" in replies[2]["error"]
        assert replies[3]["ok"] is False and "JSON object" in replies[3]["error"]
    finally:
        delivery.close()
        sub.close()


def test_home_assistant_discovery_is_sent_and_resent_when_it_comes_online(
    broker: Broker, tmp_path: Path
) -> None:
    s = settings_for(broker, tmp_path)
    s = config.load(
        None,
        overrides={
            **s.model_dump(mode="json", exclude={"mqtt"}),
            "mqtt": {**s.mqtt.model_dump(mode="json"), "password": USERS["pole1"]},
            "homeassistant": {"enabled": True},
        },
    )
    sub = Subscriber(broker, ["homeassistant/device/+/config"])
    delivery = Delivery(s).start()
    try:
        assert sub.wait_for(lambda: len(sub.messages) == 1, 10)
        msg = sub.messages[0]
        assert msg.topic == "homeassistant/device/pole1/config"
        body = json.loads(msg.payload)
        assert body["availability_topic"] == "edge/pole1/status"
        comps = body["components"]
        assert (
            comps["motion"]["p"] == "binary_sensor"
            and comps["motion"]["state_topic"] == "edge/pole1/cam0/motion"
        )
        assert comps["snapshot"]["p"] == "image"
        assert comps["temperature_c"]["state_topic"] == "edge/pole1/stats"
        sub.client.publish("homeassistant/status", b"online", qos=1)
        assert sub.wait_for(lambda: len(sub.messages) == 2, 10), "re-sent when Home Assistant restarts"
        assert delivery.stats.rejected == {}
    finally:
        delivery.close()
        sub.close()
