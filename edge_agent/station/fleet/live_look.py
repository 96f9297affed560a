"""Live look ("xem trực tiếp"): while someone watches a pole live on its page, the station asks
the pole for a snapshot every `every_s` (the pole's `snapshot` command); when nobody watches,
nothing is asked. Shared by every viewer: ten people watching one pole ask it once a second,
not ten times. Each snapshot arrives as any snapshot does (retained, through the pole's outbox,
archived by ingest), so the page shows what the station has, never a picture from elsewhere."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_POLES = 4096  # a bound on what is remembered, whatever names the pages are asked for


class LiveLook:
    def __init__(
        self, ask: Callable[[str], bool], every_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`ask(device)` sends the pole its snapshot command; False when no broker took it."""
        self.ask = ask
        self.every_s = every_s
        self.clock = clock
        self._asked: dict[str, float] = {}
        self._lock = threading.Lock()
        self.sent = 0

    def watch(self, device: str) -> bool:
        """Someone is watching `device` now: ask it for a picture if the last ask is older than
        `every_s`. Returns whether it was asked this time."""
        now = self.clock()
        with self._lock:
            if now - self._asked.get(device, -1e18) < self.every_s:
                return False
            if len(self._asked) >= MAX_POLES:
                self._asked.clear()
            self._asked[device] = now
        asked = self.ask(device)
        if asked:
            self.sent += 1
        return asked
