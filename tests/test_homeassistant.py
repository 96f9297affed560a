"""Home Assistant discovery checked against the rules Home Assistant's own source states.

The rules below are read from the `homeassistant` 2026.11.0 package (no Home Assistant runs
here): `components/mqtt/discovery.py` (topic, device payload, removal), `components/mqtt/schemas.py`
(device, origin, components, unique_id), `components/mqtt/{sensor,binary_sensor,image}.py` (the
keys each platform reads; unknown keys are dropped silently, so an unknown key here is a bug),
`components/sensor/const.py` and `const.py` (units, state classes, device classes).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent import config
from edge_agent.agent.health import Counters, StatsBuilder
from edge_agent.contract import Kind, Topics
from edge_agent.delivery import homeassistant as ha
from tests.broker import USERS, Broker, Subscriber

# mqtt/discovery.py TOPIC_MATCHER, after the discovery prefix
TOPIC = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
AVAILABILITY = {"availability_topic", "availability_template", "payload_available", "payload_not_available"}
AVAILABILITY |= {"availability_mode", "availability"}
DEVICE_PAYLOAD = AVAILABILITY | {"device", "origin", "components", "child_devices", "state_topic"}
DEVICE_PAYLOAD |= {"command_topic", "message_expiry_interval", "qos", "encoding"}
DEVICE = {"identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version"}
DEVICE |= {"serial_number", "sw_version", "via_device", "suggested_area", "configuration_url"}
ORIGIN = {"name", "sw_version", "support_url"}
ENTITY_COMMON = AVAILABILITY | {"qos", "encoding", "group", "device", "entity_picture", "origin"}
ENTITY_COMMON |= {"enabled_by_default", "entity_category", "icon", "json_attributes_topic"}
ENTITY_COMMON |= {"json_attributes_template", "default_entity_id", "message_expiry_interval"}
ENTITY_COMMON |= {"unique_id", "visible_by_default", "p"}
PLATFORM_KEYS = {
    "sensor": ENTITY_COMMON
    | {"state_topic", "value_template", "device_class", "expire_after", "force_update"}
    | {"last_reset_value_template", "name", "options", "suggested_display_precision"}
    | {"state_class", "unit_of_measurement"},
    "binary_sensor": ENTITY_COMMON
    | {"state_topic", "value_template", "device_class", "expire_after", "force_update"}
    | {"name", "off_delay", "payload_off", "payload_on"},
    "image": ENTITY_COMMON
    | {"content_type", "name", "url_topic", "image_topic", "image_encoding", "url_template"},
}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
INFORMATION = {"bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
INFORMATION |= {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
DEVICE_CLASS_UNITS = {"temperature": {"°C", "°F", "K"}, "data_size": INFORMATION}
DEVICE_CLASS_STATE_CLASSES = {"temperature": {"measurement"}, "data_size": STATE_CLASSES}
BINARY_DEVICE_CLASSES = {"motion", "occupancy", "problem", "connectivity"}  # the few used here


def settings(device: str = "pole1", enabled: bool = True, prefix: str = "homeassistant") -> config.Settings:
    return config.load(
        None,
        overrides={"device_id": device, "homeassistant": {"enabled": enabled, "discovery_prefix": prefix}},
    )


def topics_of(s: config.Settings) -> Topics:
    return Topics(s.mqtt.prefix, s.device_id, s.camera.id)


def check_against_home_assistant(topic: str, payload: bytes, prefix: str) -> dict[str, Any]:
    """Raise AssertionError where Home Assistant would reject or silently ignore a part."""
    assert topic.startswith(f"{prefix}/")
    match = TOPIC.fullmatch(topic.removeprefix(f"{prefix}/"))
    assert match and match["component"] == "device", f"Home Assistant ignores the topic {topic}"
    body = json.loads(payload)
    assert set(body) <= DEVICE_PAYLOAD, set(body) - DEVICE_PAYLOAD
    assert set(body["device"]) <= DEVICE and (
        body["device"].get("identifiers") or body["device"].get("connections")
    )
    assert set(body["origin"]) <= ORIGIN and isinstance(body["origin"]["name"], str)
    assert body["components"], "components or child_devices is required"
    assert body.get("qos", 0) in (0, 1, 2)
    for cid, comp in body["components"].items():
        platform = comp["p"]
        assert platform in PLATFORM_KEYS, f"{cid}: platform {platform} not checked here"
        if len(comp) == 1:
            continue  # a removal entry
        unknown = set(comp) - PLATFORM_KEYS[platform]
        assert not unknown, f"{cid}: Home Assistant drops {unknown}"
        assert isinstance(comp.get("unique_id"), str), f"{cid}: unique_id is required"
        if comp.get("entity_category") is not None:
            assert comp["entity_category"] == "diagnostic", "sensors cannot be config entities"
        if platform == "image":
            assert ("image_topic" in comp) != ("url_topic" in comp)
        if platform == "binary_sensor":
            assert comp.get("device_class") in BINARY_DEVICE_CLASSES | {None}
        if platform == "sensor":
            _check_sensor(cid, comp)
    unique = [c["unique_id"] for c in body["components"].values() if "unique_id" in c]
    assert len(unique) == len(set(unique))
    return body


def _check_sensor(cid: str, comp: dict[str, Any]) -> None:
    assert "state_topic" in comp
    state_class, unit, device_class = (
        comp.get("state_class"),
        comp.get("unit_of_measurement"),
        comp.get("device_class"),
    )
    assert state_class in STATE_CLASSES | {None}, cid
    if state_class == "measurement_angle":
        assert unit == "°"
    if unit is not None:
        assert unit.strip(), f"{cid}: a blank unit is dropped"
    if device_class is not None:
        assert device_class in DEVICE_CLASS_UNITS, f"{cid}: device class {device_class} not checked here"
        assert unit in DEVICE_CLASS_UNITS[device_class], f"{cid}: {unit} is not a {device_class} unit"
        assert state_class is None or state_class in DEVICE_CLASS_STATE_CLASSES[device_class]


def stats_payload(tmp_path: Path) -> dict[str, Any]:
    """A stats message as the agent builds it, with the delivery figures Delivery adds."""
    builder = StatsBuilder("edge/pole1/stats", tmp_path, "nanodet")
    counters = Counters(10, 9, 1, 3, 30.0, True, False)
    return json.loads(builder.message(counters, {"outbox_depth": 4}).payload)


# -- the payload -------------------------------------------------------------------------------------


def test_discovery_is_accepted_by_home_assistants_rules() -> None:
    s = settings()
    msg = ha.discovery(s, topics_of(s))
    assert msg.retain and msg.kind is Kind.DISCOVERY and msg.topic == "homeassistant/device/pole1/config"
    body = check_against_home_assistant(msg.topic, msg.payload, "homeassistant")
    assert body["availability_topic"] == "edge/pole1/status"


def test_disk_free_is_mebibytes_as_the_agent_measures_it(tmp_path: Path) -> None:
    s = settings()
    comp = ha.components(s, topics_of(s))["disk_free_mb"]
    assert comp["unit_of_measurement"] == "MiB" and comp["device_class"] == "data_size"
    measured = stats_payload(tmp_path)["disk_free_mb"]
    assert measured == pytest.approx(shutil.disk_usage(tmp_path).free / 2**20, abs=64)


def test_health_sensors_have_statistics_and_numbers_to_show(tmp_path: Path) -> None:
    s = settings()
    comps = ha.components(s, topics_of(s))
    stats = stats_payload(tmp_path)
    classes = {key: comps[key]["state_class"] for key, *_ in ha.SENSORS}
    assert classes == {
        "fps_processed": "measurement",
        "cpu_percent": "measurement",
        "temperature_c": "measurement",
        "outbox_depth": "measurement",
        "disk_free_mb": "measurement",
        "frames_dropped": "total_increasing",
    }
    for key, *_ in ha.SENSORS:
        comp = comps[key]
        assert comp["unit_of_measurement"], f"{key}: without a unit Home Assistant shows text"
        field = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", comp["value_template"])
        assert field and field[1] in stats, f"{key}: the stats message has no {field}"
        value = stats[field[1]]
        # A numeric sensor's state must parse as a number; JSON null renders "None" = unknown.
        assert value is None or isinstance(value, int | float), f"{key}: {value!r} is not a number"


def test_unique_ids_keep_the_device_id_as_it_is() -> None:
    a, b = settings("pole-17"), settings("pole_17")
    ids_a = {c["unique_id"] for c in ha.components(a, topics_of(a)).values() if "unique_id" in c}
    ids_b = {c["unique_id"] for c in ha.components(b, topics_of(b)).values() if "unique_id" in c}
    assert not ids_a & ids_b, "pole-17 and pole_17 are two devices"
    sensors = [ha.components(a, topics_of(a))[key]["unique_id"] for key, *_ in ha.SENSORS]
    assert all(a.camera.id not in uid.split(":") for uid in sensors), "health is per device, not per camera"
    assert ha.components(a, topics_of(a))["motion"]["unique_id"] == "edge-agent:pole-17:cam0:motion"


@given(
    device=st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True),
    camera=st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True),
)
def test_any_valid_device_and_camera_id_gives_an_accepted_payload(device: str, camera: str) -> None:
    s = config.load(
        None, overrides={"device_id": device, "camera": {"id": camera}, "homeassistant": {"enabled": True}}
    )
    msg = ha.discovery(s, topics_of(s))
    check_against_home_assistant(msg.topic, msg.payload, "homeassistant")


# -- removal -----------------------------------------------------------------------------------------


def test_disabled_publishes_the_empty_retained_payload_that_removes_the_device() -> None:
    s = settings(enabled=False, prefix="ha")
    [msg] = ha.discovery_messages(s, topics_of(s))
    assert (msg.topic, msg.payload, msg.retain) == ("ha/device/pole1/config", b"", True)
    assert ha.removal_messages(s) == [msg]
    enabled = settings(enabled=True, prefix="ha")
    [config_msg] = ha.discovery_messages(enabled, topics_of(enabled))
    assert config_msg.topic == msg.topic and config_msg.payload


# Every component id any released version published, with its platform. A component dropped
# from the payload must stay as a removal entry ({"p": platform}) in ha.RETIRED, or Home
# Assistant keeps its entity for good: add ids here when adding components, never remove them.
EVER_PUBLISHED = {
    "motion": "binary_sensor",
    "snapshot": "image",
    "fps_processed": "sensor",
    "cpu_percent": "sensor",
    "temperature_c": "sensor",
    "outbox_depth": "sensor",
    "disk_free_mb": "sensor",
    "frames_dropped": "sensor",
}


def test_every_component_ever_published_is_live_or_removed_by_platform() -> None:
    s = settings()
    comps = ha.components(s, topics_of(s))
    for cid, platform in EVER_PUBLISHED.items():
        assert cid in comps, f"{cid} dropped without a removal entry in RETIRED"
        assert comps[cid]["p"] == platform
    for cid, platform in ha.RETIRED.items():
        assert comps[cid] == {"p": platform}, "a removal entry holds only the platform"
    assert set(comps) - set(EVER_PUBLISHED) == set(), "add new components to EVER_PUBLISHED"


def test_a_retired_component_is_sent_as_platform_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ha, "RETIRED", {"inference_ms": "sensor"})
    s = settings()
    msg = ha.discovery(s, topics_of(s))
    body = check_against_home_assistant(msg.topic, msg.payload, "homeassistant")
    assert body["components"]["inference_ms"] == {"p": "sensor"}


def test_the_removal_clears_the_retained_config_at_a_real_broker(broker: Broker) -> None:
    s = settings()
    pole = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pole1", protocol=mqtt.MQTTv5)
    pole.username_pw_set("pole1", USERS["pole1"])
    pole.connect("127.0.0.1", broker.port)
    pole.loop_start()
    try:
        for m in [ha.discovery(s, topics_of(s)), *ha.removal_messages(s)]:
            pole.publish(m.topic, m.payload, qos=m.qos, retain=m.retain).wait_for_publish(10)
        pole.publish("edge/pole1/status", b"online", qos=1, retain=True).wait_for_publish(10)
    finally:
        pole.loop_stop()
        pole.disconnect()
    # One SUBSCRIBE: mosquitto sends the retained messages topic by topic, so a retained config
    # would come before the status marker.
    late = Subscriber(broker, ["homeassistant/device/+/config", "edge/pole1/status"], client_id="late-ha")
    try:
        assert late.wait_for(lambda: late.on("status"), 10)
        assert late.on("config") == [], "no retained device config is left for Home Assistant"
    finally:
        late.close()
