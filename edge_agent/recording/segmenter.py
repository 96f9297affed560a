"""The camera's own H.264/H.265 stream copied into segment files, never decoded or re-encoded.

`Segmenter(source, directory)` reads an RTSP URL (over TCP, with a socket and read timeout) or a
file with PyAV and muxes its video packets unchanged into fragmented MP4 files
(`frag_keyframe+empty_moov+default_base_moof`: each one a standalone file that plays and can be
remuxed for a browser without the others). A segment is cut only at a keyframe, at the first one `segment_s`
after the segment began, and written by `segment_file.SegmentWriter`, then handed to
`on_segment` as a `Segment` (size, sha256 of the closed file, the first and last frame's wall and
monotonic time, frames, keyframes, codec, size).

A camera that drops (an error, no data for `timeout_s`, the end of its stream) closes the open
segment as a whole file (`ended_by` says why), is logged once with its URL redacted, and is
reopened with a backoff from `reconnect_min_s` doubling to `reconnect_max_s`. `stop()` may be
called from any thread: the loop sees it at the next packet, or within `timeout_s` when the
camera is silent, and closes the segment it was writing. A `.part` file left by a power cut is
renamed `….torn.mp4` at start. The input's decoder is never opened: `stats.decoder_opened` says
so.

Why PyAV and not FFmpeg's own segment muxer (`ffmpeg -rtsp_transport tcp -i URL -c copy -f segment
-segment_format mp4 …` as a child process): both copy packets through the same libavformat code,
and `benchmarks/recording.py` measures them side by side on one RTSP camera (docs/benchmarks.md:
about 1 % of one core here for this segmenter against about 0.6 % for ffmpeg's, the Python loop
per packet being the difference; both negligible beside the detector). PyAV is already a
dependency (the wheel ships its own FFmpeg for aarch64, no apt `ffmpeg` on the Pi), and in-process
it gives what the chain needs at the moment a segment closes — the exact frames, keyframes and pts
of each, the receipt time of the first packet, a hash of the closed file — without parsing a
child's segment list or guessing when it has finished a file, and the reconnect policy, timeouts,
logs and stop are ours instead of a supervisor's around ffmpeg (which exits when an RTSP camera
drops).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from edge_agent import clock
from edge_agent.contract import redact
from edge_agent.recording.segment_file import (
    Segment,
    SegmentWriter,
    hand_over,
    recover_partials,
    segment_number,
)

log = logging.getLogger(__name__)

CODECS = ("h264", "hevc")


class RecordingError(RuntimeError):
    """The source cannot be recorded; the message says why (its URL redacted)."""


@dataclass
class SegmenterStats:
    connected: bool = False
    last_error: str = ""
    connects: int = 0
    drops: int = 0  # sessions that ended without stop(): errors, timeouts, end of stream
    segments: int = 0
    bytes: int = 0
    packets: int = 0
    skipped_packets: int = 0  # before the first keyframe, without timestamps, or out of order
    decoder_opened: bool = False  # True would mean a decode happened: it never should


class Segmenter:
    """Copies `source`'s video packets into segments in `directory`, reconnecting when it drops."""

    def __init__(
        self,
        source: str,
        directory: Path,
        camera: str = "cam0",
        segment_s: float = 4.0,
        on_segment: Callable[[Segment], None] | None = None,
        timeout_s: float = 10.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 15.0,
        live: bool | None = None,
        first_number: int = 0,
        clock_synced: Callable[[], bool] = clock.synced,
    ) -> None:
        self.source = source
        self.directory = directory
        self.camera = camera
        self.segment_s = segment_s
        self.on_segment = on_segment
        self.timeout_s = timeout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.live = "://" in source if live is None else live
        self.stats = SegmenterStats()
        self._clock_synced = clock_synced
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._why = ""  # what broke the last session, as logged
        self._delivered = False  # the current session wrote a packet
        directory.mkdir(parents=True, exist_ok=True)
        recover_partials(directory, camera)
        taken = [segment_number(p.name, camera) for p in directory.iterdir()]
        self._next_number = max([first_number, *(n + 1 for n in taken if n is not None)])

    @property
    def name(self) -> str:
        return redact(self.source)

    # -- running ---------------------------------------------------------------------------

    def start(self) -> Segmenter:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"record:{self.camera}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> bool:
        """Ask the loop to end (any thread); with a thread, wait for it. True once it has ended."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(self.timeout_s + 5.0 if timeout_s is None else timeout_s)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Record until stop(); a file source ends at its end, a live one reconnects."""
        backoff = self.reconnect_min_s
        while not self._stop.is_set():
            self._delivered = False
            try:
                self._session()
                why = "the stream ended"
            except (av.FFmpegError, OSError, RecordingError) as exc:
                if not self.live:
                    raise RecordingError(f"recording {self.name}: {redact(str(exc))}") from None
                why = self._why or redact(f"{type(exc).__name__}: {exc}")
            self._why = ""
            self.stats.connected = False
            if self._stop.is_set() or not self.live:
                break
            self.stats.drops += 1
            if self._delivered:
                backoff = self.reconnect_min_s
            if self.stats.last_error != why:
                log.warning(
                    "recording %s: camera %s lost: %s; reconnecting in %.1f s",
                    self.camera,
                    self.name,
                    why,
                    backoff,
                )
            self.stats.last_error = why
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.reconnect_max_s)

    # -- one connection ----------------------------------------------------------------------

    def _open(self) -> Any:
        options = {"rtsp_transport": "tcp", "timeout": str(int(self.timeout_s * 1e6))}
        if not self.source.startswith(("rtsp://", "rtsps://")):
            options = {}
        try:
            return av.open(self.source, options=options, timeout=(self.timeout_s, self.timeout_s))
        except av.FFmpegError as exc:
            raise RecordingError(f"cannot open the camera: {exc.strerror or exc}") from None

    def _session(self) -> None:
        """Connect and record until the stream breaks or stop()."""
        container = self._open()
        try:
            self._copy(container)
        finally:
            container.close()

    def _copy(self, container: Any) -> None:
        if not container.streams.video:
            raise RecordingError("the stream has no video")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        codec, width, height = ctx.name, ctx.width, ctx.height
        if codec not in CODECS:
            raise RecordingError(f"records H.264 or H.265 only; this stream is {codec}")
        rate = stream.average_rate or stream.guessed_rate
        frame_s = 1 / float(rate) if rate else 0.04
        self.stats.connects += 1
        self.stats.connected = True
        if self.stats.last_error:
            log.info("recording %s: camera %s delivers again", self.camera, self.name)
        self.stats.last_error = ""
        tb = stream.time_base
        writer: SegmentWriter | None = None
        untimed: Any = None  # a keyframe that came without timestamps
        ended_by = "end of stream"

        def finish(why: str) -> None:
            nonlocal writer
            if writer is not None:
                done, writer = writer, None
                self._finish(done, codec, width, height, why)

        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                if packet.size == 0:
                    continue
                if packet.pts is None and packet.dts is None:
                    # RTSP's first keyframe often comes before its timestamp is known: keep it
                    # and place it one frame before the next packet, instead of losing a GOP.
                    if writer is None and packet.is_keyframe:
                        untimed = packet
                    else:
                        self.stats.skipped_packets += 1
                    continue
                pts = packet.pts if packet.pts is not None else packet.dts
                dts = packet.dts if packet.dts is not None else pts
                if untimed is not None:
                    early, untimed = untimed, None
                    step = packet.duration or max(1, round(frame_s / tb))
                    if writer is None and not packet.is_keyframe:
                        writer = self._new_writer(stream, frame_s)
                        writer.add(early, pts - step, dts - step)
                        self.stats.packets += 1
                if writer is not None and writer.last_dts is not None and dts <= writer.last_dts:
                    finish("timestamps jumped back")  # a new segment starts at the next keyframe
                if packet.is_keyframe and (writer is None or writer.elapsed_s(pts) >= self.segment_s):
                    finish("length")
                    writer = self._new_writer(stream, frame_s)
                if writer is None:
                    self.stats.skipped_packets += 1  # waiting for the first keyframe
                    continue
                writer.add(packet, pts, dts)
                self.stats.packets += 1
                self._delivered = True
            if self._stop.is_set():
                ended_by = "stop"
        except (av.FFmpegError, OSError) as exc:
            ended_by = redact(f"stream lost: {type(exc).__name__}: {exc}")
            self._why = ended_by.removeprefix("stream lost: ")
            raise
        finally:
            self.stats.decoder_opened |= bool(ctx.is_open)
            finish(ended_by)

    def _new_writer(self, stream: Any, frame_s: float) -> SegmentWriter:
        path = self.directory / f"{self.camera}-{self._next_number:08d}.mp4"
        self._next_number += 1
        return SegmentWriter(path, stream, frame_s)

    def _finish(self, writer: SegmentWriter, codec: str, width: int, height: int, ended_by: str) -> None:
        synced = self._clock_synced()
        hand_over(writer, (codec, width, height), synced, ended_by, self.stats, self.on_segment, self.camera)
