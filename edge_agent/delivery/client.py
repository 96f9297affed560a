"""The paho client a `Delivery` drives: MQTT 5, TLS, password, backoff, last will; message properties."""

from __future__ import annotations

import ssl
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config import Settings
from edge_agent.contract import Message, Topics

MAX_INFLIGHT = 100
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def message_properties(message: Message) -> Properties | None:
    """A message's MQTT 5 PUBLISH properties: its content type and user properties."""
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = message.content_type
    if message.properties:
        props.UserProperty = list(message.properties.items())
    return props


def build_client(settings: Settings, topics: Topics) -> tuple[mqtt.Client, str, int]:
    """The configured (not yet connected) client, and the broker's host and port."""
    cfg = settings.mqtt
    assert cfg.url is not None
    url = urlparse(cfg.url)
    host, port = url.hostname or "localhost", url.port or DEFAULT_PORTS[url.scheme]
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"edge-agent-{settings.device_id}",
        protocol=mqtt.MQTTv5,
    )
    client.suppress_exceptions = True
    client.max_inflight_messages_set(MAX_INFLIGHT)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(round(max(cfg.reconnect_min_s, 1)), round(max(cfg.reconnect_max_s, 1)))
    if cfg.username:
        password = cfg.password.get_secret_value() if cfg.password else None
        client.username_pw_set(cfg.username, password)
    if url.scheme == "mqtts":
        client.tls_set(
            ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
            certfile=str(cfg.certfile) if cfg.certfile else None,
            keyfile=str(cfg.keyfile) if cfg.keyfile else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    will = Properties(PacketTypes.WILLMESSAGE)
    will.WillDelayInterval = cfg.will_delay_s
    will.ContentType = "text/plain"
    client.will_set(topics.status, b"offline", qos=1, retain=True, properties=will)
    return client, host, port
