"""The MQTT contract, version 1: what a pole publishes and what the ward station reads.

Topic names (`topics`), the JSON payloads as pydantic models (`schema`) and one outgoing message
(`message`). Both halves import it and nothing else of each other, so it imports nothing of the
rest of the project and nothing heavy (no OpenCV, numpy, onnxruntime or paho): a server that never
sees a frame can depend on it.
"""

from __future__ import annotations

from edge_agent.contract.message import Kind, Message
from edge_agent.contract.redact import redact, redact_secret
from edge_agent.contract.schema import (
    EVENT_SCHEMA,
    Alarm,
    ClockState,
    Counts,
    Crossing,
    Event,
    ThumbnailRef,
    iso_ms,
)
from edge_agent.contract.topics import Topics

__all__ = [
    "EVENT_SCHEMA",
    "Alarm",
    "ClockState",
    "Counts",
    "Crossing",
    "Event",
    "Kind",
    "Message",
    "ThumbnailRef",
    "Topics",
    "iso_ms",
    "redact",
    "redact_secret",
]
