"""Which closed segments are kept: every one, or those near an event (or motion), like Frigate's modes.

`Retention(mode, pre_capture_s, post_capture_s)` watches the messages the pipeline publishes
(`observe`): an event's `start` / `update` opens activity and its `end` closes it (a stationary
object — a parked car — is not activity: Frigate's `active_objects`), and in `motion` mode the
retained `motion` ON / OFF too. Times are the pole's monotonic clock when the message was made,
so a clock step by NTP cannot shift them against the segments.

`decide(start_ns, end_ns, now_ns)` says for a closed segment: keep it (some activity overlaps
[start − post_capture, end + pre_capture]), drop it (nothing does, and `now` is past
end + pre_capture, so nothing still to come can), or not yet (None). Pre-capture therefore works
without recording everything: the last segments wait in RAM until they are decided.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Literal

from edge_agent.contract import Kind, Message

Mode = Literal["events", "motion", "all"]
HISTORY_S = 600.0  # closed activity older than this (plus the capture margins) is forgotten


class Retention:
    def __init__(self, mode: Mode, pre_capture_s: float, post_capture_s: float) -> None:
        self.mode = mode
        self.pre_ns = int(pre_capture_s * 1e9)
        self.post_ns = int(post_capture_s * 1e9)
        self._open_events: set[str] = set()
        self._motion = False
        self._since: int | None = None  # start of the activity going on now
        self._closed: deque[tuple[int, int]] = deque()  # (start, end) of past activity, oldest first

    @property
    def active(self) -> bool:
        return self._since is not None

    def observe(self, message: Message, now_ns: int | None = None) -> None:
        """Take note of one message the pipeline published (events, motion); others are ignored."""
        if self.mode == "all" or message.kind not in (Kind.EVENT, Kind.MOTION):
            return
        now = time.monotonic_ns() if now_ns is None else now_ns
        if message.kind is Kind.MOTION:
            if self.mode == "motion":
                self._motion = message.payload == b"ON"
        else:
            try:
                event = json.loads(message.payload)
                key, kind, parked = str(event["id"]), event["type"], bool(event.get("stationary"))
            except (ValueError, KeyError, TypeError):
                return  # the pipeline's own message: never malformed, but never fatal either
            if kind == "end" or parked:
                self._open_events.discard(key)
            else:
                self._open_events.add(key)
        self._update(now)

    def _update(self, now: int) -> None:
        busy = bool(self._open_events) or self._motion
        if busy and self._since is None:
            self._since = now
        elif not busy and self._since is not None:
            self._closed.append((self._since, now))
            self._since = None
        horizon = now - int(HISTORY_S * 1e9) - self.pre_ns - self.post_ns
        while self._closed and self._closed[0][1] < horizon:
            self._closed.popleft()

    def decide(self, start_ns: int, end_ns: int, now_ns: int | None = None) -> bool | None:
        """True: keep the segment; False: drop it; None: not known yet (ask again later)."""
        if self.mode == "all":
            return True
        now = time.monotonic_ns() if now_ns is None else now_ns
        lo, hi = start_ns - self.post_ns, end_ns + self.pre_ns
        if self._since is not None and self._since <= hi:
            return True
        if any(a <= hi and b >= lo for a, b in self._closed):
            return True
        return False if now >= hi else None

    def end_all(self, now_ns: int | None = None) -> None:
        """The pipeline stopped: whatever was going on has ended now."""
        self._open_events.clear()
        self._motion = False
        self._update(time.monotonic_ns() if now_ns is None else now_ns)
