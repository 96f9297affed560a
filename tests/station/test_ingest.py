"""Ingest against a real mosquitto, on both backends: a wrong thumbnail is flagged, hostile payloads
are rejected with a reason while good messages keep flowing, two brokers feed one archive, and a
pole's will raises a delayed offline alert on the station's topic."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine, func, select

from edge_agent.station.config import StationSettings, load
from edge_agent.station.fleet.offline import OfflineAlerts
from edge_agent.station.fleet.state import fleet
from edge_agent.station.ingest.archive import Archive
from edge_agent.station.ingest.subscriber import Ingest
from edge_agent.station.store.engine import connect
from edge_agent.station.store.ops import now_us, read_counters
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import event_messages, events, rejects
from tests.broker import mosquitto_binary
from tests.station.factory import event, jpeg, thumbnail
from tests.station.shipped_broker import STATION_PASSWORD, STATION_USER, ShippedBroker


def settings_for(tmp_path: Path, db_url: str, *brokers: ShippedBroker) -> StationSettings:
    return load(
        None,
        overrides={
            "state_dir": str(tmp_path / "state"),
            "database": {"url": db_url},
            "brokers": [
                {"name": f"b{i}", "url": b.url(), "username": STATION_USER, "password": STATION_PASSWORD}
                for i, b in enumerate(brokers)
            ],
        },
    )


@pytest.fixture
def running(db_url: str, tmp_path: Path, shipped_broker: ShippedBroker) -> Iterator[tuple[Ingest, Engine]]:
    s = settings_for(tmp_path, db_url, shipped_broker)
    engine = connect(db_url)
    ingest = Ingest(s, Archive(engine), PictureStore(s.pictures_dir))
    ingest.start()
    assert all(c.connected.wait(10) for c in ingest.clients)
    time.sleep(0.3)
    yield ingest, engine
    ingest.stop()
    engine.dispose()


def pole(broker: ShippedBroker, name: str = "pole1", will: bool = False) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{name}", protocol=mqtt.MQTTv5)
    c.username_pw_set(name, broker.passwords[name])
    if will:
        c.will_set(f"edge/{name}/status", b"offline", qos=1, retain=True)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c


def send(c: mqtt.Client, *msgs: tuple[str, bytes]) -> None:
    for topic, payload in msgs:
        c.publish(topic, payload, qos=1).wait_for_publish(10)


def until(fn: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


def n_rows(engine: Engine, table: object) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def test_wrong_sha256_thumbnail_is_flagged_never_shown_as_good(
    running: tuple[Ingest, Engine], shipped_broker: ShippedBroker
) -> None:
    ingest, engine = running
    c = pole(shipped_broker)
    try:
        good, sent, named = jpeg(1), jpeg(2), jpeg(3)
        send(c, thumbnail("pole1", 1, good), event("pole1", 1, thumb=good))
        send(c, thumbnail("pole1", 2, sent), event("pole1", 2, thumb=named))
        assert until(lambda: n_rows(engine, events) == 2)
        ingest.archive.flag_thumbnails(now_us() + 1)
        with engine.connect() as conn:
            status = dict(conn.execute(select(events.c.event_id, events.c.thumb_status)).all())
        assert status == {"pole1-cam0-000001": "ok", "pole1-cam0-000002": "mismatch"}
    finally:
        c.loop_stop()
        c.disconnect()


def test_hostile_payloads_are_counted_and_good_messages_still_flow(
    running: tuple[Ingest, Engine], shipped_broker: ShippedBroker
) -> None:
    ingest, engine = running
    c = pole(shipped_broker)
    try:
        send(
            c,
            ("edge/pole1/cam0/events", b"\x00\xff garbage"),
            ("edge/pole1/cam0/events", json.dumps({"id": 1, "seq": [], "label": None}).encode()),
            ("edge/pole1/cam0/events", b"{" * 300_000),
            ("edge/pole1/cam0/thumbnails/../../etc", jpeg(9)),
            ("edge/pole1/stats", b"\xde\xad"),
            event("pole1", 1),
        )
        assert until(lambda: n_rows(engine, event_messages) == 1)
        assert until(lambda: n_rows(engine, rejects) == 4)
        with engine.connect() as conn:
            counted = read_counters(conn)
        assert sum(v for k, v in counted.items() if k.startswith("rejected")) == 4
        assert ingest._writer.is_alive()
    finally:
        c.loop_stop()
        c.disconnect()


def test_two_brokers_feed_one_archive(db_url: str, tmp_path: Path, shipped_broker: ShippedBroker) -> None:
    broker = shipped_broker
    second = ShippedBroker(tmp_path / "broker2", mosquitto_binary())
    second.directory.mkdir()
    second.configure()
    second.start()
    s = settings_for(tmp_path, db_url, broker, second)
    engine = connect(db_url)
    ingest = Ingest(s, Archive(engine), PictureStore(s.pictures_dir))
    ingest.start()
    a, b = pole(broker, "pole1"), pole(second, "pole2")
    try:
        assert all(cl.connected.wait(10) for cl in ingest.clients)
        time.sleep(0.3)
        send(a, event("pole1", 1))
        send(b, event("pole2", 1))
        assert until(lambda: n_rows(engine, event_messages) == 2)
        with engine.connect() as conn:
            got = sorted(conn.execute(select(event_messages.c.device, event_messages.c.broker)).all())
        assert got == [("pole1", "b0"), ("pole2", "b1")]
    finally:
        for cl in (a, b):
            cl.loop_stop()
            cl.disconnect()
        ingest.stop()
        engine.dispose()
        second.stop()


def test_a_pole_gone_offline_raises_one_delayed_alert_and_a_clear(
    running: tuple[Ingest, Engine], shipped_broker: ShippedBroker
) -> None:
    ingest, engine = running
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alert-watch", protocol=mqtt.MQTTv5)
    sub.username_pw_set(STATION_USER, STATION_PASSWORD)
    seen: list[mqtt.MQTTMessage] = []
    sub.on_message = lambda _c, _u, m: seen.append(m)
    sub.connect("127.0.0.1", shipped_broker.port)
    sub.subscribe("station/alerts/#", qos=1)
    sub.loop_start()
    c = pole(shipped_broker, will=True)
    try:
        send(c, ("edge/pole1/status", b"online"), ("edge/pole1/stats", b'{"cpu_percent": 20}'))
        assert until(lambda: n_rows(engine, event_messages) == 0 and _state(engine) == "online")
        c._sock.close()  # type: ignore[union-attr]  # the link dies: the broker sends the will
        assert until(lambda: _state(engine) == "offline")
        alerts = OfflineAlerts(engine, stale_after_s=180, alert_after_s=60, topic="station/alerts")

        def publish(topic: str, payload: bytes) -> bool:
            return ingest.clients[0].client.publish(topic, payload, qos=1, retain=True).rc == 0

        assert alerts.check(now_us(), publish) == []  # a blip: too early for an alert
        sent = alerts.check(now_us() + 61_000_000, publish)
        assert [a["alert"] for a in sent] == ["offline"]
        assert alerts.check(now_us() + 120_000_000, publish) == []  # once
        assert until(lambda: len(seen) == 1, 10)
        assert json.loads(seen[0].payload) == {**sent[0]}
        c2 = pole(shipped_broker)
        send(c2, ("edge/pole1/status", b"online"))
        assert until(lambda: _state(engine) == "online")
        assert [a["active"] for a in alerts.check(now_us(), publish)] == [False]
        c2.loop_stop()
        c2.disconnect()
    finally:
        sub.loop_stop()
        sub.disconnect()
        c.loop_stop()


def _state(engine: Engine) -> str | None:
    with engine.connect() as conn:
        poles = fleet(conn, now_us(), 180)
    return poles[0]["state"] if poles else None
