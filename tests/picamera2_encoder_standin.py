"""picamera2's encoding side for the stand-in (tests/picamera2_standin.py): `outputs.Output` and
`encoders.H264Encoder`, built from picamera2's `outputs/output.py`, `encoders/encoder.py`,
`h264_encoder.py` and `libav_h264_encoder.py` (0.3.25-0.3.36).

`H264Encoder` keeps the hardware encoder's signature and `Encoder`'s behaviour (`output` takes only
`Output` instances, `start`/`stop` start and stop the outputs, a second start or stop raises) and
encodes REAL H.264 with libx264 as picamera2's LibavH264Encoder does on a Pi 5: ultrafast,
zerolatency, no B-frames, a keyframe every `iperiod` frames, SPS/PPS repeated unless `repeat=False`,
time base 1 µs; each access unit goes to `outputframe(bytes, keyframe, timestamp_us, packet, audio)`
with the sensor timestamp in µs since the encoder's first frame (`Encoder._timestamp`).
"""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any

import av
import numpy as np


class Output:
    """picamera2.outputs.Output: what an encoder writes to (`outputs/output.py`, 0.3.25+)."""

    def __init__(self, pts: Any = None) -> None:
        self.recording, self.ptsoutput, self.needs_pacing, self.needs_add_stream = False, pts, False, False

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: Any = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        pass

    def _add_stream(self, encoder_stream: Any, *args: Any, **kwargs: Any) -> None:
        pass


class H264Encoder:
    """`H264Encoder`'s signature and `Encoder`'s behaviour, encoding with libx264 as LibavH264Encoder."""

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int | None = None,
        framerate: float | None = None,
        enable_sps_framerate: bool = False,
        qp: int | None = None,
        profile: str | None = None,
    ) -> None:
        self.bitrate, self.repeat, self.iperiod, self.framerate = bitrate, repeat, iperiod, framerate
        self.width = self.height = self.stride = self.frames_encoded = 0
        self.format: str | None = None
        self.name: str | None = None
        self.firsttimestamp: int | None = None
        self._output: list[Output] = []
        self._running = False
        self._lock = threading.Lock()
        self._ctx: Any = None

    @property
    def running(self) -> bool:
        return self._running

    @property
    def output(self) -> Any:
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Any) -> None:
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(out, Output) for out in value):
            raise RuntimeError("Must pass Output")
        self._output = value

    def start(self, quality: Any = None) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            if self.format not in ("RGB888", "BGR888"):
                raise RuntimeError("Unrecognised format", self.format, "for V4L2")
            self.frames_encoded, self._running, self.firsttimestamp = 0, True, None
            for out in self._output:
                out.start()
            ctx = av.CodecContext.create("libx264", "w")
            ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, "yuv420p"
            # as LibavH264Encoder's add_stream(rate=framerate): PyAV raises on a float
            ctx.time_base, ctx.framerate = Fraction(1, 1_000_000), self.framerate
            ctx.gop_size, ctx.max_b_frames = self.iperiod or (1 << 31) - 1, 0
            ctx.bit_rate = self.bitrate or 0
            ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
            if not self.repeat:  # without a global header, libx264 repeats SPS/PPS at each keyframe
                ctx.flags |= av.codec.context.Flags.global_header
            self._ctx = ctx
            for out in self._output:
                out._add_stream("video", "h264", width=self.width, height=self.height)

    def encode(self, stream: Any, request: tuple[np.ndarray, int]) -> None:
        """A frame of the camera loop: (the stream's array, the sensor timestamp in ns)."""
        with self._lock:
            if not self._running:
                return
            array, sensor_ns = request
            ts = sensor_ns // 1000  # ns to µs, from the first frame
            self.firsttimestamp = ts if self.firsttimestamp is None else self.firsttimestamp
            frame = av.VideoFrame.from_ndarray(array, format="bgr24" if self.format == "RGB888" else "rgb24")
            frame.pts = ts - self.firsttimestamp
            self._send(self._ctx.encode(frame))
            self.frames_encoded += 1

    def _send(self, packets: list[Any]) -> None:
        for packet in packets:
            self.outputframe(bytes(packet), packet.is_keyframe, packet.pts, packet)

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            self._send(self._ctx.encode(None))  # libav's frames still inside are flushed out
            for out in self._output:
                out.stop()

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: Any = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        for out in self._output:
            out.outputframe(frame, keyframe, timestamp, packet, audio)
