"""Small messages the pipeline itself produces: motion ON/OFF and camera-health alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Protocol

from edge_agent.contract import Kind, Message, Topics, iso_ms
from edge_agent.sources import Frame


class Alert(Protocol):
    kind: str
    active: bool
    detail: str


class MotionSwitch:
    """The retained `motion` topic: ON at the first motion, OFF after `off_delay_s` without any.

    The delay keeps a slow walker from flapping the switch between frames.
    """

    def __init__(self, topics: Topics, off_delay_s: float) -> None:
        self.topics = topics
        self.off_delay_ns = int(off_delay_s * 1e9)
        self.on = False
        self._last_motion_ns = 0

    def update(self, frame: Frame, motion: bool) -> list[Message]:
        if motion:
            self._last_motion_ns = frame.mono_ns
            if not self.on:
                self.on = True
                return [self._message(b"ON")]
        elif self.on and frame.mono_ns - self._last_motion_ns >= self.off_delay_ns:
            self.on = False
            return [self._message(b"OFF")]
        return []

    def _message(self, payload: bytes) -> Message:
        return Message(self.topics.motion, payload, Kind.MOTION, retain=True, content_type="text/plain")


def health_message(topics: Topics, frame: Frame, alert: Alert) -> Message:
    body = {
        "kind": alert.kind,
        "active": alert.active,
        "detail": alert.detail,
        "time": iso_ms(frame.wall),
        "camera": topics.camera,
    }
    return Message(topics.health, json.dumps(body).encode(), Kind.HEALTH)


def camera_message(topics: Topics, active: bool, detail: str) -> Message:
    """`health` kind `camera_lost`: active when the camera stops delivering, cleared when back.

    Sent by the service's supervisor (no frame to take a time from: the wall clock now).
    """
    body = {
        "kind": "camera_lost",
        "active": active,
        "detail": detail,
        "time": iso_ms(datetime.now(UTC)),
        "camera": topics.camera,
    }
    return Message(topics.health, json.dumps(body).encode(), Kind.HEALTH)
