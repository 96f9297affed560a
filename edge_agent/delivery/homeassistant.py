"""Home Assistant MQTT device discovery (one retained message per device), off by default.

`<discovery prefix>/device/<device>/config` describes the pole as one device with: the motion
binary sensor, the latest snapshot as an image entity, and health sensors read from the stats
topic; availability follows the status topic (the last will). It is sent on every connection and
again whenever Home Assistant announces `online` on `<discovery prefix>/status`.

As Home Assistant's MQTT integration reads it (checked against the `homeassistant` 2026.11
package: `mqtt/discovery.py`, `mqtt/schemas.py`, `mqtt/sensor.py`, `sensor/const.py`):

- a component whose entry holds only its platform (`{"p": "sensor"}`) is removed; a component
  merely left out of a later payload stays. So a component this agent stops publishing keeps a
  removal entry in `RETIRED` for good;
- an empty retained payload on the device topic removes the device and all its components, and
  clears the retained config at the broker: it is what `discovery_messages` sends while
  `homeassistant.enabled` is off, so that turning it off leaves no stale device behind;
- sensors with a `state_class` get long-term statistics and must send numbers (a JSON null
  renders as `None`, which Home Assistant takes as unknown); the `data_size` device class
  converts units, so bytes / 2**20 must be declared `MiB`, not `MB` (10**6 bytes);
- `unique_id` is kept as given, so it carries the device id as it is: `pole-17` and `pole_17`
  stay two devices. Installations that ran an earlier version (ids with `_` for `-`, the camera
  id in the health sensors' ids) get new entities once; the old ones can be deleted in Home
  Assistant.
"""

from __future__ import annotations

import json
from typing import Any

from edge_agent import __version__
from edge_agent.config import Settings
from edge_agent.contract import Kind, Message, Topics

# key in stats, name, unit, device class, state class
SENSORS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("fps_processed", "Frames per second", "fps", None, "measurement"),
    ("cpu_percent", "CPU", "%", None, "measurement"),
    ("temperature_c", "CPU temperature", "°C", "temperature", "measurement"),
    ("outbox_depth", "Messages waiting", "messages", None, "measurement"),
    ("disk_free_mb", "Disk free", "MiB", "data_size", "measurement"),  # bytes / 2**20
    ("frames_dropped", "Dropped frames", "frames", None, "total_increasing"),  # since start
)

# Components earlier versions published and this one does not: component id -> platform. Home
# Assistant removes one only when it comes back as {"p": platform}; keep every entry for good.
RETIRED: dict[str, str] = {}


def status_topic(settings: Settings) -> str:
    return f"{settings.homeassistant.discovery_prefix}/status"


def config_topic(settings: Settings) -> str:
    return f"{settings.homeassistant.discovery_prefix}/device/{settings.device_id}/config"


def unique_id(device: str, *parts: str) -> str:
    """`edge-agent:<device>:<part>…`: ids are [a-z0-9_-], so ':' keeps any two apart."""
    return ":".join(("edge-agent", device, *parts))


def components(settings: Settings, topics: Topics) -> dict[str, dict[str, Any]]:
    device, camera = settings.device_id, topics.camera
    comps: dict[str, dict[str, Any]] = {component: {"p": platform} for component, platform in RETIRED.items()}
    comps["motion"] = {
        "p": "binary_sensor",
        "device_class": "motion",
        "name": "Motion",
        "state_topic": topics.motion,
        "payload_on": "ON",
        "payload_off": "OFF",
        "unique_id": unique_id(device, camera, "motion"),
    }
    comps["snapshot"] = {
        "p": "image",
        "name": "Last event",
        "image_topic": topics.snapshot,
        "content_type": "image/jpeg",
        "unique_id": unique_id(device, camera, "snapshot"),
    }
    for key, name, unit, device_class, state_class in SENSORS:
        comp: dict[str, Any] = {
            "p": "sensor",
            "name": name,
            "state_topic": topics.stats,
            "value_template": f"{{{{ value_json.{key} }}}}",
            "unit_of_measurement": unit,
            "state_class": state_class,
            "unique_id": unique_id(device, key),  # device level: no camera id
            "entity_category": "diagnostic",
        }
        if device_class:
            comp["device_class"] = device_class
        comps[key] = comp
    return comps


def discovery(settings: Settings, topics: Topics) -> Message:
    """The retained device config: what Home Assistant needs to show the pole."""
    body = {
        "device": {
            "identifiers": [f"edge-agent-{settings.device_id}"],
            "name": f"edge-agent {settings.device_id}",
            "manufacturer": "edge-agent",
            "model": "street camera pole",
            "sw_version": __version__,
        },
        "origin": {"name": "edge-agent", "sw_version": __version__},
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "components": components(settings, topics),
    }
    return Message(config_topic(settings), json.dumps(body).encode(), Kind.DISCOVERY, retain=True)


def removal(settings: Settings) -> Message:
    """The empty retained payload: Home Assistant drops the device, the broker its config."""
    return Message(config_topic(settings), b"", Kind.DISCOVERY, retain=True)


def removal_messages(settings: Settings) -> list[Message]:
    return [removal(settings)]


def discovery_messages(settings: Settings, topics: Topics) -> list[Message]:
    """What to publish on every connection: the config when enabled, its removal when not."""
    if settings.homeassistant.enabled:
        return [discovery(settings, topics)]
    return removal_messages(settings)
