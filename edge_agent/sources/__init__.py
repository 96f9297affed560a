"""Frame sources: the Pi camera, a live stream or USB camera, or a video file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.config import CameraConfig
from edge_agent.sources.base import Frame, Source, SourceError, small_gray
from edge_agent.sources.live import Grabber, LiveSource

if TYPE_CHECKING:
    from edge_agent.sources.opencv import FileSource
    from edge_agent.sources.picamera import Record

__all__ = ["Frame", "Source", "SourceError", "open_camera", "open_file", "small_gray"]


def open_file(
    path: Path, motion_height: int, start: datetime | None = None, limit: int | None = None
) -> FileSource:
    """Every frame of a video file (the first `limit` only, when given)."""
    from edge_agent.sources.opencv import FileSource

    return FileSource(path, motion_height, start=start, limit=limit)


def open_camera(cfg: CameraConfig, motion_height: int, record: Record | None = None) -> Source:
    """The source named by `camera.source`: picamera2, a URL, a USB device, or a file.

    `record`: (sink, bitrate, keyframe period) to encode the Pi camera's main stream into; the
    other sources are recorded from their own stream, so it is not used for them.
    """
    spec = cfg.source
    grabber: Grabber
    if spec == "picamera2":
        from edge_agent.sources.picamera import PicameraGrabber

        grabber = PicameraGrabber(
            cfg.width, cfg.height, cfg.fps, motion_height, read_timeout_s=cfg.read_timeout_s, record=record
        )
    elif "://" in spec or spec.startswith(("usb:", "/dev/video")):
        from edge_agent.sources.opencv import CaptureGrabber

        grabber = CaptureGrabber(spec, cfg.width, cfg.height, cfg.fps, motion_height)
    else:
        return open_file(Path(spec), motion_height)
    return LiveSource(spec, grabber, cfg.reopen_min_s, cfg.reopen_max_s, cfg.read_timeout_s)
