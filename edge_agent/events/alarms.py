"""Alarm rules: "a person in zone X between 22:00 and 05:00" — the village's security gong."""

from __future__ import annotations

from datetime import datetime, time

from edge_agent.config import AlarmRule


def _hhmm(text: str) -> time:
    """A rule's "HH:MM" (checked by the config: 00:00 to 23:59) as a time of day."""
    h, m = (int(v) for v in text.split(":"))
    return time(h, m)


def in_window(rule: AlarmRule, wall: datetime) -> bool:
    """Whether `wall` (converted to the Pi's local time) lies in the rule's daily window."""
    now = wall.astimezone().time()
    start, end = _hhmm(rule.start), _hhmm(rule.end)
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # the window spans midnight


def fired(rules: list[AlarmRule], zone: str, label: str, wall: datetime) -> list[AlarmRule]:
    """The rules that an object of `label` entering `zone` at `wall` sets off."""
    return [r for r in rules if r.zone == zone and label in r.labels and in_window(r, wall)]
