"""Home Assistant MQTT device discovery (one retained message per device), off by default.

`<discovery prefix>/device/<device>/config` describes the pole as one device with: the motion
binary sensor, the latest snapshot as an image entity, and health sensors read from the stats
topic; availability follows the status topic (the last will). It is sent on every connection and
again whenever Home Assistant announces `online` on `<discovery prefix>/status`.
"""

from __future__ import annotations

import json
from typing import Any

from edge_agent import __version__
from edge_agent.config import Settings
from edge_agent.contract import Kind, Message, Topics

SENSORS = (  # key in stats, name, unit, device class
    ("fps_processed", "Frames per second", "fps", None),
    ("cpu_percent", "CPU", "%", None),
    ("temperature_c", "CPU temperature", "°C", "temperature"),
    ("outbox_depth", "Messages waiting", None, None),
    ("disk_free_mb", "Disk free", "MB", "data_size"),
    ("frames_dropped", "Dropped frames", None, None),
)


def status_topic(settings: Settings) -> str:
    return f"{settings.homeassistant.discovery_prefix}/status"


def discovery(settings: Settings, topics: Topics) -> Message:
    device, camera = settings.device_id, topics.camera
    uid = f"edge_agent_{device}_{camera}".replace("-", "_")
    components: dict[str, dict[str, Any]] = {
        "motion": {
            "p": "binary_sensor",
            "device_class": "motion",
            "name": "Motion",
            "state_topic": topics.motion,
            "payload_on": "ON",
            "payload_off": "OFF",
            "unique_id": f"{uid}_motion",
        },
        "snapshot": {
            "p": "image",
            "name": "Last event",
            "image_topic": topics.snapshot,
            "content_type": "image/jpeg",
            "unique_id": f"{uid}_snapshot",
        },
    }
    for key, name, unit, cls in SENSORS:
        comp: dict[str, Any] = {
            "p": "sensor",
            "name": name,
            "state_topic": topics.stats,
            "value_template": f"{{{{ value_json.{key} }}}}",
            "unique_id": f"{uid}_{key}",
            "entity_category": "diagnostic",
        }
        if unit:
            comp["unit_of_measurement"] = unit
        if cls:
            comp["device_class"] = cls
        components[key] = comp
    body = {
        "device": {
            "identifiers": [f"edge-agent-{device}"],
            "name": f"edge-agent {device}",
            "manufacturer": "edge-agent",
            "model": "street camera pole",
            "sw_version": __version__,
        },
        "origin": {"name": "edge-agent", "sw_version": __version__},
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "components": components,
    }
    topic = f"{settings.homeassistant.discovery_prefix}/device/{device}/config"
    return Message(topic, json.dumps(body).encode(), Kind.DISCOVERY, retain=True)
