"""The Raspberry Pi camera through picamera2: `main` stream for detection, `lores` for motion.

picamera2 is not a pip dependency: on a Pi it comes from apt (`python3-picamera2`) into a venv
made with `--system-site-packages`, and it is imported here only, when this source is chosen.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from edge_agent.sources.base import SourceError


def lores_size(width: int, height: int, motion_height: int) -> tuple[int, int]:
    """The lores stream size: `motion_height` rows (even), the main stream's aspect, width even."""
    h = motion_height - motion_height % 2
    w = round(width * h / height)
    return w + w % 2, h


def y_plane(yuv420: np.ndarray, width: int, height: int) -> np.ndarray:
    """The luma plane of a YUV420 lores array: the first `height` rows, cut to `width` (stride)."""
    return yuv420[:height, :width]


class PicameraGrabber:
    def __init__(self, width: int, height: int, fps: float, motion_height: int) -> None:
        self._main = (width, height)
        self._lores = lores_size(width, height, motion_height)
        self._fps = fps
        self._cam: Any = None

    def open(self) -> None:
        try:
            module = importlib.import_module("picamera2")
        except ImportError:
            raise SourceError(
                "camera.source is 'picamera2' but the picamera2 module is missing: "
                "on a Raspberry Pi run 'sudo apt install python3-picamera2' and create the venv "
                "with --system-site-packages (deploy/install.sh does both)"
            ) from None
        try:
            cam = module.Picamera2()
            config = cam.create_video_configuration(
                main={"size": self._main, "format": "RGB888"},  # RGB888 is B,G,R in memory
                lores={"size": self._lores, "format": "YUV420"},
                controls={"FrameRate": self._fps},
                buffer_count=4,
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:  # picamera2 raises plain RuntimeError/IndexError when absent
            raise SourceError(
                f"the Pi camera cannot be started: {exc} (is the ribbon cable seated?)"
            ) from None
        self._cam = cam

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._cam is None:
            return None
        try:
            main, lores = self._cam.capture_arrays(["main", "lores"])[0]
        except Exception:
            return None
        gray = y_plane(lores, *self._lores)
        return np.ascontiguousarray(main[:, :, :3]), np.ascontiguousarray(gray)

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            except Exception:
                pass
            self._cam = None
