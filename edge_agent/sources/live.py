"""A live source: a capture thread that keeps only the newest frame and reopens a dead camera.

The device-specific part is a `Grabber` (OpenCV capture, picamera2): `open()`, `grab()` →
(BGR image, small gray image) or None when the stream broke, `close()`. This class owns the
thread, the newest-frame slot, the dropped-frame count and the reopen backoff, so each device
only says how to read one picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from edge_agent.sources.base import Frame, Source, SourceError, SourceStats

log = logging.getLogger(__name__)


class Grabber(Protocol):
    def open(self) -> None:
        """Open the device; raise SourceError with a clear message when it cannot."""

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The next (BGR image, small gray image), or None when the stream broke."""

    def close(self) -> None: ...


class LiveSource(Source):
    live = True

    def __init__(
        self,
        name: str,
        grabber: Grabber,
        reopen_min_s: float,
        reopen_max_s: float,
        read_timeout_s: float,
    ) -> None:
        self.name = name
        self.stats = SourceStats()
        self._grabber = grabber
        self._reopen_min_s = reopen_min_s
        self._reopen_max_s = reopen_max_s
        self._read_timeout_s = read_timeout_s
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self._index = 0
        self._thread = threading.Thread(target=self._capture, name=f"capture:{name}", daemon=True)
        self._started = False

    # -- capture thread ------------------------------------------------------------------

    def _capture(self) -> None:
        backoff = self._reopen_min_s
        while not self._stop.is_set():
            try:
                self._grabber.open()
            except SourceError as exc:
                self._lost(str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._reopen_max_s)
                continue
            self.stats.connected = True
            self.stats.last_error = ""
            log.info("camera %s open", self.name)
            while not self._stop.is_set():
                got = self._grabber.grab()
                if got is None:
                    break
                backoff = self._reopen_min_s
                self._offer(*got)
            self._grabber.close()
            if self._stop.is_set():
                break
            self._lost("the stream stopped delivering frames")
            self.stats.reopens += 1
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._reopen_max_s)

    def _lost(self, why: str) -> None:
        if self.stats.connected or self.stats.last_error != why:
            log.warning("camera %s lost: %s; reopening with backoff", self.name, why)
        self.stats.connected = False
        self.stats.last_error = why

    def _offer(self, image: np.ndarray, gray: np.ndarray) -> None:
        frame = Frame(
            index=self._index,
            mono_ns=time.monotonic_ns(),
            wall=datetime.now(UTC),
            image=image,
            gray=gray,
        )
        self._index += 1
        with self._cond:
            if self._latest is not None:
                self.stats.frames_dropped += 1
            self._latest = frame
            self.stats.frames_read += 1
            self._cond.notify()

    # -- consumer side -------------------------------------------------------------------

    def next_frame(self, timeout_s: float) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout_s`; None when none came."""
        if not self._started:
            self._started = True
            self._thread.start()
        with self._cond:
            if self._latest is None:
                self._cond.wait(timeout_s)
            frame, self._latest = self._latest, None
        return frame

    def frames(self) -> Iterator[Frame]:
        """Yields frames until close(); a gap longer than read_timeout_s is logged, not fatal."""
        while not self._stop.is_set():
            frame = self.next_frame(self._read_timeout_s)
            if frame is None:
                if not self._stop.is_set():
                    self._lost(f"no frame for {self._read_timeout_s:.0f} s")
                continue
            yield frame

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._started:
            self._thread.join(timeout=5)
