"""A stand-in live camera: the frames of a real video at a camera's pace, round and round.

A video file given as `camera.source` is read as fast as the pipeline takes it and then ends,
so a test of the live service that needs the agent to stay up (commands, reloads, outages)
must not depend on how fast this machine's CPU gets through the file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_agent.sources import Frame, open_file
from edge_agent.sources.live import LiveSource


class PacedCamera:
    """A `Grabber` serving a video's frames at about `fps`, from the start again at its end."""

    def __init__(self, video: Path, fps: float = 25.0, motion_height: int = 120) -> None:
        self.video = video
        self._period_s = 1.0 / fps
        self._motion_height = motion_height
        self._frames: Iterator[Frame] = iter(())
        self.served = 0

    def open(self) -> None:
        pass

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        frame = next(self._frames, None)
        if frame is None:
            self._frames = open_file(self.video, self._motion_height).frames()
            frame = next(self._frames)
        self.served += 1
        time.sleep(self._period_s)
        return frame.image, frame.gray

    def close(self) -> None:
        pass


def paced_source(video: Path, name: str | None = None, read_timeout_s: float = 5.0) -> LiveSource:
    """A live source over `PacedCamera(video)`, as `open_camera` would build for a URL."""
    return LiveSource(
        name or str(video),
        PacedCamera(video),
        reopen_min_s=0.2,
        reopen_max_s=0.5,
        read_timeout_s=read_timeout_s,
    )
