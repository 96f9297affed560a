"""Frame and Source: what every camera or file source delivers, and the errors it raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np


class SourceError(RuntimeError):
    """A source could not be opened or read: the message names it and says what to do."""


@dataclass(slots=True)
class Frame:
    """One picture from the camera.

    `image` is the full BGR frame (the `main` stream: detection, thumbnails); `gray` is a small
    grayscale image of the same scene (the `lores` stream: motion). `mono_ns` is
    `time.monotonic_ns()` at capture (for durations and rates), `wall` the UTC wall-clock time
    (for the event's timestamps; on a replay it is derived from the file's start time).
    """

    index: int
    mono_ns: int
    wall: datetime
    image: np.ndarray
    gray: np.ndarray

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(slots=True)
class SourceStats:
    frames_read: int = 0
    frames_dropped: int = 0
    reopens: int = 0
    connected: bool = False
    last_error: str = ""
    extra: dict[str, float] = field(default_factory=dict)


class Source(ABC):
    """A stream of frames. `frames()` yields until the source ends (file) or `close()` is called.

    A live source keeps only the newest frame (older ones are counted in `stats.frames_dropped`)
    and reopens the device with backoff when it dies; a file source yields every frame in order.
    """

    name: str
    live: bool
    stats: SourceStats
    # Called about once a second from inside `frames()` while a live source waits for a frame
    # (the pipeline ends tracks, applies a reload and shows it is alive meanwhile).
    on_idle: Callable[[], None] | None = None

    @abstractmethod
    def frames(self) -> Iterator[Frame]: ...

    def alive(self) -> bool:
        """Whether the source's own threads (if any) still run."""
        return True

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def small_gray(image: np.ndarray, height: int) -> np.ndarray:
    """A small grayscale copy of a BGR image, `height` rows tall (aspect kept), for motion.

    Cheap on large frames: sample a grid twice the target size (nearest), average it 2×2 down
    (area), then convert the few thousand pixels left to gray — about 0.25 ms for 1280×720
    where one INTER_AREA resize of the whole frame costs 4 ms. (A single bilinear resize is
    0.1 ms faster but its aliasing cost vtest.avi one more split event.)
    """
    h, w = image.shape[:2]
    if h <= height:
        small = image
    else:
        width = max(1, round(w * height / h))
        if h > 2 * height:
            image = cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_NEAREST)
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        return np.ascontiguousarray(small)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
