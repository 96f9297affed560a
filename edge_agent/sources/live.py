"""A live source: a capture thread that keeps only the newest frame and reopens a dead camera.

The device-specific part is a `Grabber` (OpenCV capture, picamera2): `open()`, `grab()` →
(BGR image, small gray image) or None when the stream broke, `close()`. This class owns the
thread, the newest-frame slot, the dropped-frame count and the reopen backoff, so each device
only says how to read one picture.

The camera's state is `stats.connected` / `stats.last_error`: lost when the device cannot be
opened, stops delivering, or sends nothing for `read_timeout_s`; back as soon as a frame arrives
again (also on the same stream, without a reopen). Every message naming the camera passes
through `redact`, so the password in an RTSP URL never reaches a log or a status line.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from edge_agent.contract import redact
from edge_agent.sources.base import Frame, Source, SourceError, SourceStats

log = logging.getLogger(__name__)

IDLE_TICK_S = 1.0  # how often on_idle runs while no frame comes
MAX_BACKOFF_S = 15.0  # a camera that comes back is found within this long (config caps it too)


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
                delivered = self._session()
            except SourceError as exc:
                self._lost(str(exc))
                delivered = False
            except Exception as exc:  # a driver's surprise must not end capture for good
                log.exception("camera %s: unexpected error", redact(self.name))
                self._lost(f"unexpected error: {type(exc).__name__}: {exc}")
                delivered = False
            finally:
                with contextlib.suppress(Exception):
                    self._grabber.close()
            if self._stop.is_set():
                break
            if delivered:
                backoff = self._reopen_min_s
                self._lost("the stream stopped delivering frames")
                self.stats.reopens += 1
            self._stop.wait(min(backoff, MAX_BACKOFF_S))
            backoff = min(backoff * 2, self._reopen_max_s, MAX_BACKOFF_S)

    def _session(self) -> bool:
        """Open the device and read until it breaks; whether it delivered any frame."""
        self._grabber.open()
        log.info("camera %s open", redact(self.name))
        delivered = False
        while not self._stop.is_set():
            got = self._grabber.grab()
            if got is None:
                break
            delivered = True
            self._offer(*got)
        return delivered

    def _lost(self, why: str) -> None:
        why = redact(why)
        if self.stats.connected or self.stats.last_error != why:
            log.warning("camera %s lost: %s; reopening with backoff", redact(self.name), why)
        self.stats.connected = False
        self.stats.last_error = why

    def _back(self) -> None:
        if not self.stats.connected:
            if self.stats.last_error:
                log.info("camera %s delivers frames again", redact(self.name))
            self.stats.connected = True
            self.stats.last_error = ""

    def _offer(self, image: np.ndarray, gray: np.ndarray) -> None:
        frame = Frame(
            index=self._index,
            mono_ns=time.monotonic_ns(),
            wall=datetime.now(UTC),
            image=image,
            gray=gray,
        )
        self._index += 1
        self._back()
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
        """Yields frames until close(); a gap longer than read_timeout_s marks the camera lost.

        While no frame comes, `on_idle` runs about every second.
        """
        last = time.monotonic()
        while not self._stop.is_set():
            frame = self.next_frame(min(IDLE_TICK_S, self._read_timeout_s))
            if frame is None:
                if self._stop.is_set():
                    break
                if time.monotonic() - last >= self._read_timeout_s and self.stats.connected:
                    self._lost(f"no frame for {self._read_timeout_s:g} s")
                if self.on_idle is not None:
                    self.on_idle()
                continue
            last = time.monotonic()
            yield frame

    def alive(self) -> bool:
        return not self._started or self._thread.is_alive() or self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        interrupt = getattr(self._grabber, "interrupt", None)  # a capture waiting on the device
        if interrupt is not None:
            with contextlib.suppress(Exception):
                interrupt()
        with self._cond:
            self._cond.notify_all()
        if self._started:
            self._thread.join(timeout=5)
