"""OpenCV sources: a video file (every frame, in order) and a live stream (RTSP/HTTP URL or USB).

Some damaged files kill the whole process inside FFmpeg on the first read (SIGABRT, no Python
exception). A file is therefore probed first in a child process; when the child dies, the file
is refused with a message naming it, and the agent lives on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from edge_agent.sources.base import Frame, Source, SourceError, SourceStats, small_gray
from edge_agent.sources.diagnose import Diagnosis, failure

PROBE_TIMEOUT_S = 60.0
PROBE_FRAMES = 3

_PROBE_CODE = """
import json, sys
import cv2
cap = cv2.VideoCapture(sys.argv[1])
if not cap.isOpened():
    print(json.dumps({"ok": False, "why": "OpenCV cannot open it (unknown format or codec)"}))
    sys.exit(0)
n = 0
shape = None
for _ in range(int(sys.argv[2])):
    ok, img = cap.read()
    if not ok:
        break
    n += 1
    shape = img.shape
print(json.dumps({"ok": n > 0, "why": "no frame could be decoded", "frames": n,
                  "fps": cap.get(cv2.CAP_PROP_FPS), "count": cap.get(cv2.CAP_PROP_FRAME_COUNT),
                  "shape": shape}))
"""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int  # the container's claim; the decoded count may differ
    width: int
    height: int


def probe(path: Path, timeout_s: float = PROBE_TIMEOUT_S) -> VideoInfo:
    """Open and decode the first frames of `path` in a child process; SourceError if that fails."""
    if not path.exists():
        raise SourceError(f"video file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a video file: {path}")
    if not os.access(path, os.R_OK):
        raise SourceError(f"video file cannot be read (permission denied): {path}")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE, str(path), str(PROBE_FRAMES)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"video file {path}: decoding hung for {timeout_s:.0f} s; file refused") from None
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        raise SourceError(
            f"video file {path} crashes the video decoder (FFmpeg died with {sig}); "
            "the file is damaged or in a format this OpenCV build cannot read: re-encode it "
            "(e.g. ffmpeg -i in.avi -c:v libx264 out.mp4) and try again"
        )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SourceError(f"video file {path}: the decoder probe failed ({tail[0]})") from None
    if not result["ok"]:
        raise SourceError(f"video file {path}: {result['why']}")
    h, w = result["shape"][:2]
    fps = result["fps"] if result["fps"] and 0 < result["fps"] < 1000 else 10.0
    return VideoInfo(path, float(fps), int(result["count"] or 0), int(w), int(h))


class FileSource(Source):
    """Every frame of a video file, in order, as fast as the consumer takes them.

    Times are the video's own: `wall` = `start` + position in the video, and `mono_ns` counts
    from 0 at the same rate, so that a replay running 20× real time still sees a 2-second gap
    as 2 seconds.
    """

    live = False

    def __init__(
        self,
        path: Path,
        motion_height: int,
        start: datetime | None = None,
        fps: float | None = None,
        limit: int | None = None,
    ) -> None:
        self.info = probe(path)
        self.limit = limit
        self.name = str(path)
        self.fps = fps or self.info.fps
        self.stats = SourceStats()
        self._motion_height = motion_height
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        self.start = (start or mtime).astimezone(UTC)
        self._cap: cv2.VideoCapture | None = None
        self._stop = threading.Event()

    def frames(self) -> Iterator[Frame]:
        self._cap = cv2.VideoCapture(str(self.info.path))
        if not self._cap.isOpened():
            raise SourceError(f"video file {self.info.path}: OpenCV cannot open it")
        self.stats.connected = True
        period_ns = 1e9 / self.fps
        index = 0
        try:
            while not self._stop.is_set() and (self.limit is None or index < self.limit):
                ok, image = self._cap.read()
                if not ok or image is None:
                    break
                offset_ns = round(index * period_ns)
                yield Frame(
                    index=index,
                    mono_ns=offset_ns,
                    wall=self.start + timedelta(microseconds=offset_ns / 1000),
                    image=image,
                    gray=small_gray(image, self._motion_height),
                )
                self.stats.frames_read += 1
                index += 1
        finally:
            self._release()

    def close(self) -> None:
        """Stop reading. Safe from another thread: the reading thread releases the capture
        itself (releasing it under a running `read()` crashes inside FFmpeg)."""
        self._stop.set()
        self.stats.connected = False

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.stats.connected = False


class CaptureGrabber:
    """One OpenCV VideoCapture (RTSP/HTTP URL or USB device) for a LiveSource."""

    def __init__(self, spec: str, width: int, height: int, fps: float, motion_height: int) -> None:
        self.spec = spec
        self._size = (width, height)
        self._fps = fps
        self._motion_height = motion_height
        self._cap: cv2.VideoCapture | None = None
        self._diagnosis = Diagnosis(spec) if "://" in spec else None

    def _target(self) -> tuple[str | int, int]:
        if self.spec.startswith("usb:"):
            return int(self.spec[4:]), cv2.CAP_V4L2
        if self.spec.startswith("/dev/video"):
            return self.spec, cv2.CAP_V4L2
        return self.spec, cv2.CAP_FFMPEG

    def open(self) -> None:
        target, api = self._target()
        cap = cv2.VideoCapture(target, api)
        if not cap.isOpened():
            cap.release()
            raise SourceError(failure(self.spec, self._diagnosis))
        if api == cv2.CAP_V4L2:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
            cap.set(cv2.CAP_PROP_FPS, self._fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return image, small_gray(image, self._motion_height)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
