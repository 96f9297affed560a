"""One segment file: packets copied into a standalone fragmented MP4, closed, hashed and timed.

A segment is written as `{camera}-{number:08d}.mp4.part` with
`frag_keyframe+empty_moov+default_base_moof` (each file plays alone and remuxes for a browser
without the others), its timestamps shifted so it starts at 0, then fsynced and renamed to
`….mp4`. Its sha256 is read back from the closed file, so the chain names the bytes on disk.

Times: each packet is stamped with the clock when it was received. A camera (and the demuxer's
probing at connect) delivers frames in bursts, so a packet's receipt is its capture time plus
some delay that is never negative; the segment's first frame is placed at the earliest receipt
minus that packet's pts offset from the first, and the last frame at that plus the pts span. The
monotonic time goes with the wall time of the same packet, so a clock step by NTP mid-segment does
not stretch it. A power cut leaves at most one `.part` file, which `recover_partials` renames to
`….torn.mp4` at the next start (playable up to its last fragment; not in the chain).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
SEGMENT_NAME = re.compile(r"^(?P<camera>[a-z0-9_-]{1,64})-(?P<number>\d{8,})(?P<torn>\.torn)?\.mp4(\.part)?$")


@dataclass(frozen=True)
class Segment:
    """One closed segment file and what the chain records about it."""

    path: Path
    bytes: int
    sha256: str
    start: datetime
    end: datetime
    start_mono_ns: int
    end_mono_ns: int
    clock_synced: bool
    duration_s: float
    frames: int
    keyframes: int
    codec: str
    width: int
    height: int
    ended_by: str  # "length", "stop", "stream lost: …", "end of stream", "timestamps jumped back"


def segment_number(name: str, camera: str | None = None) -> int | None:
    """The number in a segment's file name (of `camera`, when given); None: not a segment."""
    m = SEGMENT_NAME.match(name)
    return int(m["number"]) if m and (camera is None or m["camera"] == camera) else None


def recover_partials(directory: Path, camera: str) -> list[Path]:
    """Rename the `.part` files a power cut left to `….torn.mp4`; the renamed paths."""
    renamed: list[Path] = []
    for path in sorted(directory.glob(f"{camera}-*.mp4.part")):
        if segment_number(path.name, camera) is None or path.is_symlink():
            continue
        torn = path.with_name(path.name.removesuffix(".mp4.part") + ".torn.mp4")
        path.rename(torn)
        log.warning(
            "recording %s: %s was being written when the pole stopped; kept as %s", camera, path, torn
        )
        renamed.append(torn)
    return renamed


class SegmentWriter:
    """One segment being written: `NAME.part`, renamed when closed."""

    def __init__(self, path: Path, template: Any, frame_s: float) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.out: Any = av.open(str(self.part), "w", format="mp4", options={"movflags": MOVFLAGS})
        self.stream = self.out.add_stream_from_template(template)
        self.frame_s = frame_s
        self.frames = self.keyframes = 0
        self.offset = 0
        self.first_pts: int | None = None
        self.last_pts = 0
        self.last_dts: int | None = None
        self.last_duration = 0
        self.time_base: Fraction = template.time_base
        self._zero_mono: int | None = None  # the first frame's time, from the earliest receipt
        self._zero_wall = 0

    def elapsed_s(self, pts: int) -> float:
        return 0.0 if self.first_pts is None else float((pts - self.first_pts) * self.time_base)

    def add(self, packet: Any, pts: int, dts: int, received: tuple[int, int] | None = None) -> None:
        """Mux `packet` with (pts, dts); `received` is (monotonic ns, wall ns) of its receipt."""
        mono_now, wall_now = received or (time.monotonic_ns(), time.time_ns())
        if self.first_pts is None:
            self.first_pts, self.offset = pts, dts  # every segment starts at time 0: standalone
        since_first = int((pts - self.first_pts) * self.time_base * 1_000_000_000)
        if self._zero_mono is None or mono_now - since_first < self._zero_mono:
            self._zero_mono, self._zero_wall = mono_now - since_first, wall_now - since_first
        packet.pts, packet.dts = pts - self.offset, dts - self.offset
        packet.stream = self.stream
        self.out.mux(packet)
        self.frames += 1
        self.keyframes += bool(packet.is_keyframe)
        self.last_pts, self.last_dts = max(self.last_pts, pts), dts
        self.last_duration = packet.duration or 0

    def close(self, codec: str, width: int, height: int, synced: bool, ended_by: str) -> Segment | None:
        """Finish the file; None (and no file) when it holds no frame."""
        self.out.close()
        if self.frames == 0 or self.first_pts is None or self._zero_mono is None:
            self.part.unlink(missing_ok=True)
            return None
        with self.part.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
            os.fsync(fh.fileno())
            size = os.fstat(fh.fileno()).st_size
        os.replace(self.part, self.path)
        span_ns = int((self.last_pts - self.first_pts) * self.time_base * 1_000_000_000)
        last = float(self.last_duration * self.time_base) or self.frame_s
        return Segment(
            path=self.path,
            bytes=size,
            sha256=digest,
            start=datetime.fromtimestamp(self._zero_wall / 1e9, UTC),
            end=datetime.fromtimestamp((self._zero_wall + span_ns) / 1e9, UTC),
            start_mono_ns=self._zero_mono,
            end_mono_ns=self._zero_mono + span_ns,
            clock_synced=synced,
            duration_s=span_ns / 1e9 + last,
            frames=self.frames,
            keyframes=self.keyframes,
            codec=codec,
            width=width,
            height=height,
            ended_by=ended_by,
        )

    def abandon(self) -> None:
        """After a write error: keep what was written under a name that says it is torn."""
        with contextlib.suppress(Exception):
            self.out.close()
        if self.part.exists():
            torn = self.path.with_name(self.path.name.removesuffix(".mp4") + ".torn.mp4")
            with contextlib.suppress(OSError):
                self.part.rename(torn)
                log.error("recording: %s could not be finished; kept as %s", self.path.name, torn)


class Counted(Protocol):
    """What the segment sources count (`segments`, `bytes`): their stats objects have both."""

    segments: int
    bytes: int


def hand_over(
    writer: SegmentWriter,
    shape: tuple[str, int, int],
    synced: bool,
    why: str,
    stats: Counted,
    on_segment: Callable[[Segment], None] | None,
    camera: str,
) -> None:
    """Close `writer` (codec, width, height in `shape`), count the segment, hand it to `on_segment`.

    A segment that cannot be finished is kept torn (`abandon`); a handler that fails is logged and
    never stops the camera's recording."""
    codec, width, height = shape
    try:
        segment = writer.close(codec, width, height, synced, why)
    except (av.FFmpegError, OSError):
        writer.abandon()  # logs; the session goes on (or is already ending)
        return
    if segment is None:
        return
    stats.segments += 1
    stats.bytes += segment.bytes
    if on_segment is not None:
        try:
            on_segment(segment)
        except Exception:  # the chain or budget failing must not stop the camera's recording
            log.exception("recording %s: handling segment %s failed", camera, segment.path.name)
