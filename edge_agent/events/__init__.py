"""Stage 5, events: one event per object pass — start, a few updates, end — with its thumbnail.

`EventBuilder.process(frame, tracker_output) -> list[Message]` (`builder`); the best thumbnail and
the snapshot (`thumbnails`), zones and counting lines (`zones`), line-crossing counts (`counts`)
and alarm rules (`alarms`); alarms on motion alone, at night, when the detector names nothing
(`MotionAlarm.process(frame, motion_result, tracks)`, `motion_alarm`), whose events
`EventBuilder.motion` publishes.
"""

from __future__ import annotations

from edge_agent.events.builder import EventBuilder
from edge_agent.events.motion_alarm import MotionAlarm

__all__ = ["EventBuilder", "MotionAlarm"]
