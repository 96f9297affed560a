"""Frame sources: the Pi camera, a live stream or USB camera, or a video file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.config import CameraConfig
from edge_agent.sources.base import Frame, Source, SourceError, small_gray

if TYPE_CHECKING:
    from edge_agent.sources.opencv import FileSource

__all__ = ["Frame", "Source", "SourceError", "open_camera", "open_file", "small_gray"]


def open_file(path: Path, motion_height: int, start: datetime | None = None) -> FileSource:
    from edge_agent.sources.opencv import FileSource

    return FileSource(path, motion_height, start=start)


def open_camera(cfg: CameraConfig, motion_height: int) -> Source:
    """The source named by `camera.source`: picamera2, a URL, a USB device, or a file."""
    spec = cfg.source
    timing = (cfg.reopen_min_s, cfg.reopen_max_s, cfg.read_timeout_s)
    if spec == "picamera2":
        from edge_agent.sources.picamera import open_picamera

        return open_picamera(cfg.width, cfg.height, cfg.fps, motion_height, *timing)
    if "://" in spec or spec.startswith(("usb:", "/dev/video")):
        from edge_agent.sources.opencv import open_stream

        return open_stream(spec, cfg.width, cfg.height, cfg.fps, motion_height, *timing)
    return open_file(Path(spec), motion_height)
