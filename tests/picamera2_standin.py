"""A stand-in for picamera2 and libcamera, built from what their source shows, for machines without a Pi.

It keeps picamera2's signatures and the behaviours the agent depends on, as picamera2 0.3.20-0.3.36
(`picamera2/picamera2.py`, `job.py`) and libcamera (`color_space.cpp`, the Python bindings) do them:

- `Picamera2()` indexes the list of cameras (IndexError when there is none) and acquires the
  camera; a camera already acquired answers "Failed to acquire camera: Device or resource busy",
  which picamera2 re-raises as "Camera __init__ sequence did not complete." (chained with `from`
  since 0.3.35, implicitly before);
- `create_video_configuration` checks the stream keys and picks Rec709 / SMPTE170M (limited
  range) unless a colour space is given; `configure` refuses a lores larger than main, writes
  back the size and stride libcamera settled on and the colour space it granted;
- jobs are futures: `capture_arrays(wait=None or True)` waits for ever, `wait=<seconds>` raises
  TimeoutError, `cancel_all_and_flush` fails the waiting jobs with CancelledError;
- `stop()` with the event loop running queues behind the pending jobs, so behind a job that can
  never finish it waits for ever; `close()` stops the preview loop first and never waits.

Where the real one would wait for ever, the stand-in raises `WouldBlockForever` (a BaseException,
so that no `except Exception` in the agent hides it) instead of hanging the test run.

Encoding (`start_encoder` / `stop_encoder` and `process_requests` in `picamera2.py`): while
started, a camera loop makes a frame every 1/FrameRate s (completing the capture jobs too, with
`Rig.paced`) and hands it, under the camera's lock, to each running encoder
(tests/picamera2_encoder_standin.py: REAL H.264 from libx264); `close()` does not stop an encoder,
as picamera2's does not (`Rig.encoders_left_running` counts those left running). `modules(rig)`
gives every module name to put in `sys.modules`.
"""

from __future__ import annotations

import enum
import threading
import time
import types
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.picamera2_encoder_standin import H264Encoder, Output


class WouldBlockForever(BaseException):
    """picamera2 would wait here for a job that can never finish."""


class _Range(enum.Enum):
    Full = 0
    Limited = 1


class ColorSpace:
    """libcamera.ColorSpace as the Python bindings expose it: `range` is an enum with a `name`."""

    Range = _Range

    def __init__(self, name: str, range_: _Range) -> None:
        self.name, self.range = name, range_

    def __repr__(self) -> str:
        return f"<libcamera.ColorSpace '{self.name}'>"

    @staticmethod
    def Sycc() -> ColorSpace:
        return ColorSpace("sYCC", _Range.Full)

    @staticmethod
    def Rec709() -> ColorSpace:
        return ColorSpace("Rec709", _Range.Limited)

    @staticmethod
    def Smpte170m() -> ColorSpace:
        return ColorSpace("SMPTE170M", _Range.Limited)


@dataclass
class Rig:
    """The hardware and libcamera behind the stand-in, and what happened to it."""

    cameras: int = 1
    held_elsewhere: bool = False  # acquired by another process
    grants_sycc: bool = True  # False: libcamera answers with a limited-range colour space
    lores_width_align: int = 16  # libcamera rounds the lores width down to this
    stride_align: int = 64  # and pads each row to this
    configure_error: Exception | None = None
    start_error: Exception | None = None
    chain_with_from: bool = True
    scene: int = 128  # gray level of the scene; 0 is a covered lens
    frames_per_open: list[int | None] = field(default_factory=lambda: [None])  # None: for ever
    paced: bool = False  # captures wait for the camera loop's next frame (else they are instant)
    encoder_error: Exception | None = None  # start_encoder raises it
    encoders_left_running: int = 0  # closed with an encoder still running
    acquired: bool = False
    opened: list[Any] = field(default_factory=list)


def libcamera_module() -> types.ModuleType:
    module = types.ModuleType("libcamera")
    module.ColorSpace = ColorSpace  # type: ignore[attr-defined]
    return module


def picamera2_module(rig: Rig, *, with_cancel: bool = True) -> types.ModuleType:
    """A `picamera2` module whose Picamera2 drives `rig`; `with_cancel=False` is a pre-0.3.20 one."""

    class Picamera2:
        def __init__(
            self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None, allocator: Any = None
        ) -> None:
            self.is_open = False
            self.started = False
            self.camera_config: dict[str, Any] = {}
            self.asked_colour_space: Any = None
            self.flushes = 0
            self.closes = 0
            self._jobs: list[Future[Any]] = []
            self._names: dict[int, list[str]] = {}  # a job's stream names
            self._encoders: set[Any] = set()
            self._starts = 0
            self.lock = threading.Lock()
            self.camera_idx = self.global_camera_info()[camera_num]["Num"]  # IndexError: no camera
            try:
                self._acquire()
            except RuntimeError as exc:
                if rig.chain_with_from:
                    raise RuntimeError("Camera __init__ sequence did not complete.") from exc
                raise RuntimeError("Camera __init__ sequence did not complete.")  # noqa: B904
            self._frames_left = rig.frames_per_open[min(len(rig.opened), len(rig.frames_per_open) - 1)]
            rig.opened.append(self)

        @staticmethod
        def global_camera_info() -> list[dict[str, Any]]:
            return [{"Model": "imx708", "Id": f"/base/cam{i}", "Num": i} for i in range(rig.cameras)]

        def _acquire(self) -> None:
            if rig.held_elsewhere or rig.acquired:
                raise RuntimeError("Failed to acquire camera: Device or resource busy")
            rig.acquired, self.is_open = True, True

        def create_video_configuration(
            self,
            main: dict[str, Any] | None = None,
            lores: dict[str, Any] | None = None,
            raw: dict[str, Any] | None = None,
            transform: Any = None,
            colour_space: Any = None,
            buffer_count: int = 6,
            controls: dict[str, Any] | None = None,
            display: str | None = "main",
            encode: str | None = "main",
            queue: bool = True,
            sensor: dict[str, Any] | None = None,
            use_case: str = "video",
        ) -> dict[str, Any]:
            if not self.is_open:
                raise RuntimeError("Camera not opened")
            for stream in (main or {}, lores or {}):
                for key in stream:
                    if key not in ("format", "size", "stride", "preserve_ar"):
                        raise ValueError(f"Bad key {key!r}: valid stream configuration keys are ...")
            main = {"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True} | (main or {})
            if lores is not None:
                lores = {"format": "YUV420", "size": main["size"], "preserve_ar": False} | lores
            if colour_space is None:
                small = main["size"][0] < 1280 or main["size"][1] < 720
                colour_space = ColorSpace.Smpte170m() if small else ColorSpace.Rec709()
            return {
                "use_case": use_case,
                "colour_space": colour_space,
                "buffer_count": buffer_count,
                "queue": queue,
                "main": main,
                "lores": lores,
                "raw": raw,
                "controls": controls or {},
                "sensor": sensor,
                "display": display,
                "encode": encode,
            }

        def configure(self, camera_config: dict[str, Any]) -> None:
            if self.started:
                raise RuntimeError("Camera must be stopped before configuring")
            config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in camera_config.items()}
            main, lores = config["main"], config["lores"]
            for stream in (main, lores):
                if stream is not None and (stream["size"][0] % 2 or stream["size"][1] % 2):
                    raise RuntimeError("width and height should be even")
            if lores is not None:
                if lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]:
                    raise RuntimeError("lores stream dimensions may not exceed main stream")
                if lores["format"] not in ("YUV420", "YVU420"):
                    raise RuntimeError("lores stream must be YUV")
            self.asked_colour_space = config["colour_space"]
            if rig.configure_error is not None:
                raise rig.configure_error
            main["stride"] = main["size"][0] * 3
            if lores is not None:
                w, h = lores["size"]
                w = max(rig.lores_width_align, w - w % rig.lores_width_align)
                lores["size"] = (w, h)
                lores["stride"] = -(-w // rig.stride_align) * rig.stride_align
            if config["colour_space"].range is _Range.Full and not rig.grants_sycc:
                config["colour_space"] = ColorSpace.Rec709()
            self.camera_config = config

        def camera_configuration(self) -> dict[str, Any]:
            return self.camera_config

        def start(self, config: Any = None, show_preview: Any = False) -> None:
            if config is not None:
                self.configure(config)
            if not self.camera_config:
                raise RuntimeError("Camera has not been configured")
            if rig.start_error is not None:
                raise rig.start_error
            self.started = True
            self._starts += 1
            threading.Thread(target=self._loop, args=(self._starts,), daemon=True).start()

        def _loop(self, start: int) -> None:
            """The camera: a frame every 1/FrameRate s to the capture jobs (paced) and the encoders."""
            period = 1 / float(self.camera_config["controls"].get("FrameRate", 30))
            tick = time.monotonic()
            while self.started and self._starts == start:
                tick += period
                time.sleep(max(0.0, tick - time.monotonic()))
                with self.lock:  # process_requests runs the jobs and the encoders under it
                    if not self.started or self._frames_left == 0:
                        continue
                    if rig.paced:
                        self._frame()
                    for encoder in list(self._encoders):
                        encoder.encode(encoder.name, (self._array(encoder.name), time.monotonic_ns()))

        def start_encoder(
            self,
            encoder: Any = None,
            output: Any = None,
            pts: Any = None,
            quality: Any = None,
            name: Any = None,
        ) -> None:
            if encoder is None:
                raise RuntimeError("No encoder specified")
            if output is not None:
                encoder.output = output
            streams = self.camera_configuration()
            if not streams:
                raise RuntimeError("Camera has not been configured")
            name = streams["encode"] if name is None else name
            if streams.get(name) is None:
                raise RuntimeError(f"Encode stream {name} was not defined")
            encoder.name, encoder.format = name, streams[name]["format"]
            encoder.width, encoder.height = streams[name]["size"]
            encoder.stride = streams[name]["stride"]
            if encoder.framerate is None:  # picamera2: 1e6 / max(the shortest frame, 33333 µs); an int
                encoder.framerate = 30  # here, as LibavH264Encoder's default, which PyAV is given
            if rig.encoder_error is not None:
                raise rig.encoder_error
            encoder.start(quality=quality)
            with self.lock:
                self._encoders.add(encoder)

        def stop_encoder(self, encoders: Any = None) -> None:
            stop = list(self._encoders) if encoders is None else [encoders]
            for encoder in stop:
                encoder.stop()
            with self.lock:
                self._encoders.difference_update(stop)

        def capture_arrays(
            self, names: list[str] | None = None, wait: Any = None, signal_function: Any = None
        ) -> Any:
            names = names or ["main"]
            if wait is None:
                wait = signal_function is None
            timeout = None if wait is True else wait
            job: Future[Any] = Future()
            job.set_running_or_notify_cancel()
            with self.lock:
                self._jobs.append(job)
                self._names[id(job)] = names
                if not rig.paced:
                    self._deliver()
            if not wait:
                return job
            comes = rig.paced and self.started and self._frames_left != 0
            if timeout is None and not job.done() and not comes:
                raise WouldBlockForever(
                    "capture_arrays() without a timeout on a camera that delivers nothing"
                )
            return job.result(timeout=timeout)

        def _deliver(self) -> None:
            """Unpaced: a frame for each waiting job at once, while the camera has frames."""
            while self._jobs and self.started and self._frames_left != 0:
                if self._frames_left is not None:
                    self._frames_left -= 1
                self._complete(self._jobs.pop(0))

        def _frame(self) -> None:
            """Paced: the camera loop's frame, to every waiting job."""
            if self._frames_left is not None:
                self._frames_left -= 1
            while self._jobs:
                self._complete(self._jobs.pop(0))

        def _complete(self, job: Future[Any]) -> None:
            arrays = [self._array(n) for n in self._names.pop(id(job))]
            job.set_result((arrays, {"SensorTimestamp": time.monotonic_ns()}))

        def _array(self, name: str) -> np.ndarray:
            stream = self.camera_config[name]
            w, h = stream["size"]
            if name == "main":
                return np.full((h, w, 3), rig.scene, np.uint8)
            limited = self.camera_config["colour_space"].range is _Range.Limited
            y = round(16 + rig.scene * 219 / 255) if limited else rig.scene
            yuv = np.full((h * 3 // 2, stream["stride"]), 128, np.uint8)
            yuv[:h, :] = 255  # row padding past the width: garbage, as far as the agent knows
            yuv[:h, :w] = y
            return yuv

        def cancel_all_and_flush(self) -> None:
            with self.lock:
                for job in self._jobs:
                    job.set_exception(CancelledError())
                self._jobs, self._names = [], {}
                self.flushes += 1

        def stop(self) -> None:
            if not self.started:
                return
            if self._jobs:  # stop_ is dispatched behind them and waited for
                raise WouldBlockForever("stop() queued behind a capture job that never finishes")
            self.started = False

        def close(self) -> None:
            if not self.is_open:
                return
            with self.lock:
                self.started = False  # the preview loop is stopped first, then stop_() directly
            self.is_open = False
            rig.acquired = False
            self.closes += 1
            rig.encoders_left_running += sum(1 for e in self._encoders if e.running)  # not stopped here

    if not with_cancel:
        del Picamera2.cancel_all_and_flush
    module = types.ModuleType("picamera2")
    module.Picamera2 = Picamera2  # type: ignore[attr-defined]
    return module


def modules(rig: Rig) -> dict[str, types.ModuleType]:
    """The modules the agent imports, for `sys.modules`: picamera2, its encoders and outputs, libcamera."""
    picamera2 = picamera2_module(rig)
    encoders, outputs = types.ModuleType("picamera2.encoders"), types.ModuleType("picamera2.outputs")
    encoders.H264Encoder = H264Encoder  # type: ignore[attr-defined]
    outputs.Output = Output  # type: ignore[attr-defined]
    picamera2.encoders, picamera2.outputs = encoders, outputs  # type: ignore[attr-defined]
    return {
        "picamera2": picamera2,
        "picamera2.encoders": encoders,
        "picamera2.outputs": outputs,
        "libcamera": libcamera_module(),
    }
