"""Whatever a client allowed on `P/D/cmd/#` sends, delivery goes on (real mosquitto).

Each case stopped a pole for good before: a 65,500-byte command name (its reply topic is over
MQTT's limit: paho raised, the delivery thread died, the bad row blocked the outbox after every
restart), 100,000 `[` (RecursionError killed paho's thread), an 80 MB payload (memory past the
unit's MemoryMax), a retained command (re-run at every reconnect), a command during start-up
("unknown command", the handlers came after the subscription).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import config
from edge_agent.contract.message import Kind, Message
from edge_agent.delivery.commands import MAX_PAYLOAD, Commands, command_reply, valid_name
from edge_agent.delivery.mqtt import Delivery
from tests.broker import Broker, Subscriber
from tests.test_mqtt import event_message, settings_for


def commands() -> Commands:
    c = Commands()
    c.add("stats", lambda args: {"depth": 0})
    c.add("echo", lambda args: {"args": args})
    return c


def connected(delivery: Delivery) -> Delivery:
    deadline = time.monotonic() + 10
    while not delivery.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # subscribed
    assert delivery.connected
    return delivery


def still_delivers(delivery: Delivery, sub: Subscriber, seq: int) -> None:
    delivery.publish(event_message(delivery.topics.events, seq))
    assert sub.wait_for(lambda: any(json.loads(m.payload)["seq"] == seq for m in sub.on("events")), 10)
    assert delivery.alive()


def test_hostile_commands_do_not_stop_delivery(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker, ["edge/pole1/#"])
    delivery = connected(Delivery(settings_for(broker, tmp_path), on_command=commands()).start())
    try:
        viewer = sub.client
        viewer.publish("edge/pole1/cmd/" + "a" * 65_500, b"{}", qos=1)  # a name no reply topic fits
        viewer.publish("edge/pole1/cmd/Stats", b"{}", qos=1)  # not [a-z_]
        viewer.publish("edge/pole1/cmd/echo", b"[" * 100_000, qos=1)  # over our max packet size
        viewer.publish("edge/pole1/cmd/echo", b"[" * 5000, qos=1)  # over a command's size limit
        viewer.publish("edge/pole1/cmd/echo", b"[" * 4000, qos=1)  # under it, too deep for json
        viewer.publish("edge/pole1/cmd/echo", b"x" * (8 * 2**20), qos=1)  # over our max packet size
        viewer.publish("edge/pole1/cmd/echo", json.dumps({"k": "v"}).encode(), qos=1)
        assert sub.wait_for(lambda: len(sub.on("echo/reply")) >= 3, 15)
        replies = [json.loads(m.payload) for m in sub.on("echo/reply")]
        assert "at most 4096" in replies[0]["error"]
        assert "nested too deeply" in replies[1]["error"]
        assert replies[2] == {"ok": True, "command": "echo", "args": {"k": "v"}}
        time.sleep(0.5)
        assert len(sub.on("echo/reply")) == 3, "payloads over 64 kB must never reach the agent"
        assert delivery.stats.commands_refused == 2 and delivery.stats.errors == 0
        assert not [m for m in sub.messages if m.topic.endswith("/reply") and "aaaa" in m.topic]
        still_delivers(delivery, sub, 1)
    finally:
        delivery.close()
        sub.close()


def test_a_retained_command_is_never_run(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker, ["edge/pole1/cmd/+/reply"])
    sub.client.publish("edge/pole1/cmd/stats", b"{}", qos=1, retain=True).wait_for_publish(5)
    delivery = connected(Delivery(settings_for(broker, tmp_path), on_command=commands()).start())
    try:
        time.sleep(1.0)
        assert not sub.messages, "a retained command must not run at connect"
        delivery.client.reconnect()
        connected(delivery)
        time.sleep(1.0)
        assert not sub.messages, "nor at a reconnect"
    finally:
        sub.client.publish("edge/pole1/cmd/stats", b"", qos=1, retain=True).wait_for_publish(5)
        delivery.close()
        sub.close()


def test_nothing_connects_before_start(broker: Broker, tmp_path: Path) -> None:
    """The service adds its command handlers between building Delivery and start()."""
    delivery = Delivery(settings_for(broker, tmp_path), on_command=commands())
    time.sleep(1.0)
    assert not delivery.connected and delivery.stats.connects == 0
    connected(delivery.start())
    delivery.close()


def test_a_row_paho_refuses_is_dropped_not_retried_forever(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker, ["edge/pole1/#"])
    delivery = Delivery(settings_for(broker, tmp_path)).start()
    try:
        delivery.publish(Message("edge/pole1/" + "x" * 70_000, b"{}", Kind.REPLY))  # over 65,535
        delivery.publish(Message("edge/pole1/+/wild", b"{}", Kind.REPLY))
        connected(delivery)
        still_delivers(delivery, sub, 7)
        assert delivery.stats.unpublishable == 2
        assert delivery.figures()["outbox_unpublishable"] == 2
    finally:
        delivery.close()
        sub.close()


def test_close_sends_what_waits_before_offline(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker, ["edge/pole1/#"])
    delivery = connected(Delivery(settings_for(broker, tmp_path)).start())
    for i in range(1, 41):
        delivery.publish(event_message(delivery.topics.events, i))
    delivery.close()  # at once: the end events of a SIGTERM
    assert sub.wait_for(lambda: bool(sub.on("status")) and sub.on("status")[-1].payload == b"offline", 10)
    order = [m.topic.rsplit("/", 1)[-1] + ":" + m.payload.decode()[:8] for m in sub.messages]
    offline = max(i for i, t in enumerate(order) if t == "status:offline")
    assert len(sub.on("events")) == 40
    assert all(i < offline for i, m in enumerate(sub.messages) if m.topic.endswith("events"))
    sub.close()


# -- property-based: no input makes anything but a clean reply -----------------------------

NAMES = st.one_of(st.from_regex(r"[a-z_]{1,32}", fullmatch=True), st.sampled_from(["stats", "echo"]))


@settings(max_examples=300, deadline=None)
@given(name=NAMES, payload=st.one_of(st.binary(max_size=6000), st.text(max_size=3000).map(str.encode)))
def test_any_payload_gets_one_json_reply(name: str, payload: bytes) -> None:
    reply = json.loads(command_reply(commands(), name, payload))
    assert isinstance(reply, dict) and isinstance(reply["ok"], bool) and reply["command"] == name
    if len(payload) > MAX_PAYLOAD:
        assert reply["ok"] is False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.text(st.characters(blacklist_categories=["Cs"]), max_size=80),
    payload=st.binary(max_size=5000),
    retain=st.booleans(),
)
def test_any_message_on_the_command_topic_is_handled_cleanly(
    tmp_path_factory: object, suffix: str, payload: bytes, retain: bool
) -> None:
    delivery = _offline_delivery(tmp_path_factory)
    msg = mqtt.MQTTMessage(topic=("edge/pole1/cmd/" + suffix).encode())
    msg.payload, msg.retain = payload, retain
    before = delivery.outbox.depth
    delivery._on_message(delivery.client, None, msg)
    assert delivery.stats.errors == 0
    if retain or not valid_name(suffix):
        assert delivery.outbox.depth == before
    else:
        delivery.outbox.flush()
        reply = delivery.outbox.read(0, 10_000)[-1].message
        assert reply.topic == f"edge/pole1/cmd/{suffix}/reply"
        assert isinstance(json.loads(reply.payload)["ok"], bool)


_DELIVERY: list[Delivery] = []


def _offline_delivery(tmp_path_factory: object) -> Delivery:
    """One Delivery that never connects (the commands' path needs no broker)."""
    if not _DELIVERY:
        base = tmp_path_factory.mktemp("offline")  # type: ignore[attr-defined]
        _DELIVERY.append(Delivery(_settings(base), on_command=commands()))
    return _DELIVERY[0]


def _settings(base: Path) -> config.Settings:
    return config.load(
        None, overrides={"device_id": "pole1", "state_dir": str(base), "mqtt": {"url": "mqtt://127.0.0.1:9"}}
    )
