"""The `[recording]` section: the camera's own stream kept as signed segments on the pole."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge_agent.config.fields import CameraSource, FilePath
from edge_agent.config.section import Section

MB = 1_000_000
GB = 1_000_000_000


class RecordingConfig(Section):
    enabled: bool = Field(
        False,
        description="record the camera as segments: a network camera's H.264/H.265 copied without "
        "decoding, the Pi camera's main stream through its H.264 encoder",
    )
    source: CameraSource | None = Field(
        None,
        description="the stream to record (default: camera.source); the camera's main stream when "
        "camera.source is its small substream",
    )
    dir: FilePath | None = Field(
        None,
        description="folder of the segments and their chain (default: recording/ in state_dir; "
        "a USB disk keeps the SD card's wear and the outbox's space apart)",
    )
    segment_s: float = Field(
        4.0, ge=1, le=60, description="length of a segment; each is cut at the first keyframe after it"
    )
    max_bytes: int = Field(
        4 * GB, ge=50 * MB, le=100_000 * GB, description="the folder's byte budget: oldest segments go first"
    )
    min_free_bytes: int = Field(
        1 * GB,
        ge=0,
        le=100_000 * GB,
        description="free space the filesystem keeps (the outbox's card): oldest segments go below it",
    )
    retain: Literal["events", "motion", "all"] = Field(
        "events",
        description="segments kept: those overlapping an event (with pre/post capture), motion, or all",
    )
    pre_capture_s: float = Field(
        5.0, ge=0, le=60, description="seconds kept before an event starts (works without recording all)"
    )
    post_capture_s: float = Field(5.0, ge=0, le=300, description="seconds kept after an event ends")
    staging_dir: FilePath | None = Field(
        None,
        description="RAM folder where the last segments wait for the retention decision (default: "
        "systemd's RuntimeDirectory, else /dev/shm): the card is written only with what is kept",
    )
    sign_every: int = Field(
        15, ge=1, le=1000, description="sign the chain's head with the pole's key every this many segments"
    )
    bitrate: int = Field(
        4_000_000,
        ge=250_000,
        le=25_000_000,
        description="bit/s of the Pi camera's H.264 encoder (camera.source = picamera2 only; a network "
        "camera's stream is recorded as it comes)",
    )
    upload_kbps: int = Field(
        1000, ge=16, le=1_000_000, description="bandwidth cap of footage sent to the station, kbit/s"
    )

    def stream(self, camera_source: str) -> str:
        """What is recorded: `source`, or the camera's own."""
        return self.source or camera_source

    def folder(self, state_dir: Path) -> Path:
        """The recording folder: `dir`, or `recording/` in the state directory."""
        return self.dir if self.dir is not None else state_dir / "recording"


def record_problem(stream: str, camera_source: str = "picamera2") -> str | None:
    """Why this stream cannot be recorded, or None: network cameras, files and the Pi camera record."""
    if stream == "picamera2" and camera_source != "picamera2":
        return (
            'recording.source = "picamera2" records the Pi camera\'s own encoder, which runs only when '
            "camera.source is picamera2 too: leave recording.source out to record camera.source"
        )
    if stream.startswith(("usb:", "/dev/video")):
        return (
            "a USB camera is not recorded: it sends raw or MJPEG frames, not H.264, and encoding "
            "H.264 in software would take the CPU the detector needs; set recording.enabled = false"
        )
    return None
