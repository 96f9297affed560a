"""One outgoing MQTT message: what every stage hands on and what the outbox stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What a message is, for the outbox's drop order (thumbnails and snapshots go first)."""

    EVENT = "event"
    THUMBNAIL = "thumbnail"
    SNAPSHOT = "snapshot"
    STATUS = "status"
    STATS = "stats"
    MOTION = "motion"
    ALARM = "alarm"
    COUNTS = "counts"
    HEALTH = "health"
    REPLY = "reply"
    DISCOVERY = "discovery"
    FOOTAGE = "footage"  # a segment record or a signed head of a camera's footage chain


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    kind: Kind
    qos: int = 1
    retain: bool = False
    content_type: str = "application/json"
    # Extra MQTT 5 user properties (for example the schema version).
    properties: dict[str, str] = field(default_factory=dict)
    # The event's `seq` (events only): the outbox records it in the transaction that stores it.
    seq: int | None = None
