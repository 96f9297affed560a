"""The Pi camera's H.264, as picamera2's encoder hands it over, cut into segment files.

`EncodedSegmenter(directory)` is the sink of picamera2's `H264Encoder` (the hardware encoder on a
Pi 4; on a Pi 5, which has none, picamera2 substitutes libx264 through PyAV). picamera2's
`Encoder.output` accepts only instances of `picamera2.outputs.Output`, so the camera source
(`sources/picamera.py`, the only module that imports picamera2) wraps this object in such a
subclass, which forwards to it:

- `encoder_started()` / `encoder_stopped()` from `Output.start()` / `Output.stop()` (picamera2
  calls them from `Encoder.start()` / `Encoder.stop()`): one encoder session, one camera open;
- `outputframe(frame, keyframe, timestamp, packet, audio)` with each encoded access unit (Annex B
  bytes; SPS and PPS repeated before each IDR with `repeat=True`); `timestamp` is the frame's
  sensor timestamp in microseconds since the session's first frame (`Encoder._timestamp`), so it
  starts again at 0 when the camera is reopened. picamera2 0.3.20-0.3.24 passes the first three
  only; later ones all five;
- `encoder_failed(why)` when the encoder cannot be started.

`outputframe` runs in picamera2's threads (the V4L2 poll thread, or the camera's event loop for
libx264), so it only notes the receipt time and queues the bytes; a writer thread muxes them with
`SegmentWriter` exactly as `Segmenter` does with a network camera's packets: a segment starts at a
keyframe and is cut at the first keyframe `segment_s` after it began (less half a frame: sensor
timestamps jitter, and a keyframe due at 4 s must not be missed at 3.9999 s), each closed
`Segment` goes to `on_segment`. A queue that fills (the disk behind `on_segment` too slow for
`max_queued_bytes`) loses frames up to the next keyframe and cuts the segment there: no segment
holds a hole.

The MP4 stream's parameters (size, SPS/PPS as extradata) come from probing the session's first
keyframe as a raw H.264 input with PyAV: FFmpeg decodes that one frame while probing, once per
camera open, never per segment. Each frame's duration is the time to the next one's timestamp
(the frame is held until it arrives), so segments are exact and contiguous.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import ceil
from pathlib import Path
from typing import Any

import av

from edge_agent import clock
from edge_agent.recording.segment_file import (
    Segment,
    SegmentWriter,
    hand_over,
    recover_partials,
    segment_number,
)

log = logging.getLogger(__name__)

US = Fraction(1, 1_000_000)
MB = 1_000_000
MAX_GOP_S = 2.0  # at most this far apart keyframes: a segment is never much longer than asked
CLOSED = "the Pi camera was closed; it is being opened again"


def keyframe_period(fps: float, segment_s: float) -> int:
    """Frames between keyframes: a whole number of GOPs of at most `MAX_GOP_S` per segment."""
    gops = max(1, ceil(segment_s / MAX_GOP_S))
    return max(1, round(fps * segment_s / gops))


@dataclass
class EncodedStats:
    connected: bool = False  # the encoder delivers frames
    last_error: str = ""
    connects: int = 0  # encoder sessions (camera opens)
    drops: int = 0  # sessions that ended without stop(): a camera fault, a reopen
    segments: int = 0
    bytes: int = 0
    packets: int = 0
    skipped_packets: int = 0  # before a session's first keyframe, or timestamps out of order
    lost_frames: int = 0  # the writer fell behind: dropped up to the next keyframe
    decoder_opened: bool = False  # the writer never decodes (the probe decodes one frame per open)


@dataclass(frozen=True, slots=True)
class _Frame:
    data: bytes
    keyframe: bool
    timestamp: int | None  # µs since the session's first frame
    received: tuple[int, int]  # (monotonic ns, wall ns) when picamera2 handed it over
    after_loss: bool  # frames before it were lost


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # "start", "end", "failed"
    why: str = ""


class EncodedSegmenter:
    """Segments in `directory` from the encoded frames picamera2 hands to `outputframe`."""

    def __init__(
        self,
        directory: Path,
        camera: str = "cam0",
        segment_s: float = 4.0,
        on_segment: Callable[[Segment], None] | None = None,
        first_number: int = 0,
        clock_synced: Callable[[], bool] = clock.synced,
        max_queued_bytes: int = 32 * MB,
    ) -> None:
        self.directory = directory
        self.camera = camera
        self.segment_s = segment_s
        self.on_segment = on_segment
        self.max_queued_bytes = max_queued_bytes
        self.stats = EncodedStats()
        self.live = True
        self._clock_synced = clock_synced
        self._cond = threading.Condition()
        self._queue: deque[_Frame | _Event] = deque()
        self._queued_bytes = 0
        self._resync = False  # frames were lost: wait for a keyframe (camera threads)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the writer thread's state
        self._writer: SegmentWriter | None = None
        self._held: tuple[_Frame, int] | None = None  # (frame, pts in µs): muxed when the next one comes
        self._last_ts: int | None = None
        self._frame_us = 33_333  # the last measured frame interval
        self._probe: Any = None  # the session's probed raw H.264 input, its stream the template
        self._session_mono_ns = 0
        directory.mkdir(parents=True, exist_ok=True)
        recover_partials(directory, camera)
        taken = [segment_number(p.name, camera) for p in directory.iterdir()]
        self._next_number = max([first_number, *(n + 1 for n in taken if n is not None)])

    @property
    def name(self) -> str:
        return "the Pi camera (picamera2's H.264 encoder)"

    # -- picamera2's side (its threads) -------------------------------------------------------

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        """One encoded access unit; `timestamp` in µs. Audio and frames after stop() are ignored."""
        if audio or frame is None or self._stop.is_set():
            return
        received = (time.monotonic_ns(), time.time_ns())
        data = bytes(frame)
        with self._cond:
            if self._resync and not keyframe:
                self.stats.lost_frames += 1
                return
            if self._queued_bytes + len(data) > self.max_queued_bytes:
                self.stats.lost_frames += 1
                self._resync = True
                return
            self._queue.append(_Frame(data, bool(keyframe), timestamp, received, self._resync))
            self._queued_bytes += len(data)
            self._resync = False
            self._cond.notify()

    def encoder_started(self) -> None:
        self._put(_Event("start"))

    def encoder_stopped(self) -> None:
        self._put(_Event("end"))

    def encoder_failed(self, why: str) -> None:
        self._put(_Event("failed", why))

    def _put(self, event: _Event) -> None:
        with self._cond:
            self._queue.append(event)
            self._resync = False  # a new session starts with a keyframe
            self._cond.notify()

    # -- running -------------------------------------------------------------------------------

    def start(self) -> EncodedSegmenter:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"record:{self.camera}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> bool:
        """Write what is queued, close the open segment, ignore later frames; True once ended."""
        with self._cond:
            self._stop.set()
            self._cond.notify()
        thread = self._thread
        if thread is None:
            self.run()  # never started: what was queued is written here
            return True
        if thread is threading.current_thread():
            return True
        thread.join(10.0 if timeout_s is None else timeout_s)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def alive(self) -> bool:
        thread = self._thread
        return thread is None or thread.is_alive() or self._stop.is_set()

    def run(self) -> None:
        """Mux queued frames until stop() and the queue is empty."""
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stop.is_set():
                        self._cond.wait()
                    if not self._queue:
                        break
                    item = self._queue.popleft()
                    if isinstance(item, _Frame):
                        self._queued_bytes -= len(item.data)
                if isinstance(item, _Frame):
                    self._frame(item)
                else:
                    self._event(item)
        finally:
            self._finish("stop")
            self._close_probe()
            self.stats.connected = False

    # -- the writer thread ---------------------------------------------------------------------

    def _event(self, event: _Event) -> None:
        self._finish("end of stream")
        self._close_probe()
        self._last_ts = None
        if event.kind == "start":
            self.stats.connects += 1
            self._session_mono_ns = time.monotonic_ns()
            return
        self.stats.connected = False
        why = CLOSED if event.kind == "end" else event.why  # "failed": the camera source logged it
        if event.kind == "end" and not self._stop.is_set():
            self.stats.drops += 1
        if not self._stop.is_set():
            self.stats.last_error = why

    def _frame(self, f: _Frame) -> None:
        ts = f.timestamp
        if ts is None:  # picamera2's encoders always give one; the receipt time otherwise
            ts = (f.received[0] - self._session_mono_ns) // 1000
        if not self.stats.connected:
            if self.stats.last_error:
                log.info("recording %s: the Pi camera's encoder delivers again", self.camera)
            self.stats.connected, self.stats.last_error = True, ""
        if f.after_loss:
            self._finish("frames lost: the recording fell behind")
        elif self._last_ts is not None and ts <= self._last_ts:
            self._finish("timestamps jumped back")  # a new segment starts at the next keyframe
        elif self._held is not None:
            self._mux(ts - self._held[1])
        self._last_ts = ts
        if f.keyframe and self._due(ts):
            self._finish("length")
            self._writer = self._new_writer(f.data)
        if self._writer is None:
            self.stats.skipped_packets += 1  # waiting for a keyframe
            return
        self._held = (f, ts)

    def _due(self, ts_us: int) -> bool:
        """Does a keyframe at `ts_us` begin a segment (none is open, or the open one is long enough)?"""
        writer = self._writer
        return writer is None or writer.elapsed_s(self._pts(ts_us)) + self._frame_us / 2e6 >= self.segment_s

    def _pts(self, ts_us: int) -> int:
        tb = self._template_tb()
        return ts_us if tb == US else int(ts_us * US / tb)

    def _template_tb(self) -> Fraction:
        return self._probe.streams.video[0].time_base if self._probe is not None else US

    def _mux(self, duration_us: int | None = None) -> None:
        """The held frame into the open segment, lasting `duration_us` (else the last interval)."""
        held, writer, self._held = self._held, self._writer, None
        if held is None or writer is None:
            return
        frame, ts = held
        if duration_us is not None and duration_us > 0:
            self._frame_us = duration_us
        packet = av.Packet(frame.data)
        packet.is_keyframe = frame.keyframe
        packet.time_base = self._template_tb()
        packet.duration = self._pts(self._frame_us)
        pts = self._pts(ts)
        try:
            writer.add(packet, pts, pts, received=frame.received)
        except (av.FFmpegError, OSError) as exc:
            self._writer = None
            writer.abandon()  # logs; the next keyframe starts a new segment
            self.stats.last_error = f"segment not written: {type(exc).__name__}: {exc}"
            return
        self.stats.packets += 1

    def _new_writer(self, keyframe: bytes) -> SegmentWriter | None:
        template = self._template(keyframe)
        if template is None:
            return None
        path = self.directory / f"{self.camera}-{self._next_number:08d}.mp4"
        self._next_number += 1
        try:
            return SegmentWriter(path, template, self._frame_us / 1e6)
        except (av.FFmpegError, OSError) as exc:
            self.stats.last_error = f"segment not started: {type(exc).__name__}: {exc}"
            log.error("recording %s: %s cannot be started: %s", self.camera, path.name, exc)
            return None

    def _template(self, keyframe: bytes) -> Any:
        """The session's stream template: its first keyframe probed as raw H.264 (SPS/PPS, size)."""
        if self._probe is None:
            try:
                probe = av.open(io.BytesIO(keyframe), format="h264")
            except (av.FFmpegError, OSError, ValueError) as exc:
                log.warning(
                    "recording %s: a keyframe without SPS/PPS (%s); waiting for the next", self.camera, exc
                )
                return None
            stream = probe.streams.video[0] if probe.streams.video else None
            if stream is None or not stream.codec_context.width or not stream.codec_context.extradata:
                probe.close()
                return None
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                stream.time_base = US  # picamera2's timestamps are µs
            self._probe = probe
        return self._probe.streams.video[0]

    def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            with contextlib.suppress(Exception):
                probe.close()

    def _finish(self, why: str) -> None:
        """Close the open segment (its held frame first) and hand it to `on_segment`."""
        self._mux()
        writer, self._writer = self._writer, None
        if writer is None:
            return
        ctx = self._probe.streams.video[0].codec_context if self._probe is not None else None
        width, height = (ctx.width, ctx.height) if ctx is not None else (0, 0)
        synced = self._clock_synced()
        hand_over(writer, ("h264", width, height), synced, why, self.stats, self.on_segment, self.camera)
