"""A one-line progress bar on stderr for replays (plain lines every 10 % when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REFRESH_S = 0.2


class Progress:
    def __init__(self, total: int, label: str = "replay", stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self._last_decile = -1
        self.done = 0

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if self.tty:
            if now - self._last >= REFRESH_S:
                self._last = now
                self.stream.write("\r" + self._line(now, note))
                self.stream.flush()
        elif self.total:
            decile = 10 * done // self.total
            if self._last_decile < decile < 10:
                self._last_decile = decile
                self.stream.write(self._line(now, note) + "\n")

    def close(self, note: str = "") -> None:
        line = self._line(time.monotonic(), note)
        self.stream.write(("\r" + line if self.tty else line) + "\n")
        self.stream.flush()

    def _line(self, now: float, note: str) -> str:
        elapsed = max(now - self.start, 1e-6)
        fps = self.done / elapsed
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * round(frac * WIDTH) + "-" * (WIDTH - round(frac * WIDTH))
            head = f"{self.label} [{bar}] {self.done}/{self.total} {100 * frac:3.0f}%"
        else:
            head = f"{self.label} {self.done} frames"
        return f"{head}  {fps:6.1f} fps  {note}".rstrip()
