"""The Raspberry Pi camera through picamera2: `main` stream for detection, `lores` for motion.

picamera2 is not a pip dependency: on a Pi it comes from apt (`python3-picamera2`, 0.3.20 or
newer) into a venv made with `--system-site-packages`, and it is imported here only, when this
source is chosen. What picamera2's and libcamera's own source show, and what is done about it:

- `capture_arrays` without `wait` waits for ever on its job; when libcamera stops delivering
  ("Camera frontend has timed out!") the capture thread would hang. Each capture waits at most
  `read_timeout_s`; on a timeout or any error the camera's jobs are cancelled
  (`cancel_all_and_flush`, picamera2 0.3.20) and the camera is closed, so the live source
  reopens it. `interrupt()` cancels a capture that is waiting, from another thread.
- Video configurations default to Rec709 or SMPTE170M, which libcamera defines as limited range
  (Y 16-235), and `lores` shares the camera's colour space: a covered lens would read 16, never
  dark. The camera is asked for sYCC (full range); should libcamera answer with a limited-range
  space anyway, Y is stretched to 0-255.
- libcamera may adjust the stream sizes and strides: the lores plane is cut by the size and
  stride picamera2 reports after `configure()`, not by the size asked for.
- A camera that fails in `configure()` or `start()` is closed: picamera2 keeps it acquired
  otherwise, and libcamera answers "busy" to every reopen until the process ends.
- Recording (`record`): the main stream is also encoded, by `H264Encoder` (the hardware encoder
  on a Pi 4, libx264 on a Pi 5), started after the camera with `start_encoder(..., name="main")`
  and stopped with `stop_encoder()` before the camera closes: `close()` does not stop encoders,
  and a reopen starts a new one. `Encoder.output` takes only `picamera2.outputs.Output`
  instances, so the recorder's sink is wrapped in a subclass made here, the one module that
  imports picamera2. An encoder that cannot start is logged and told to the sink; detection goes
  on without recording.
"""

from __future__ import annotations

import errno
import importlib
import importlib.metadata
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from edge_agent.sources.base import SourceError

log = logging.getLogger(__name__)

MIN_PICAMERA2 = "0.3.20"  # capture_arrays(wait=seconds) and cancel_all_and_flush()

# Limited-range luma (16 = black, 235 = white) to full range (0-255), for one table look-up.
_FULL_RANGE = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)

MISSING = (
    "camera.source is 'picamera2' but the picamera2 module is missing: on a Raspberry Pi run "
    "'sudo apt install python3-picamera2' and create the venv with --system-site-packages "
    "(deploy/install.sh does both)"
)
NO_CAMERA = (
    "no Pi camera found: libcamera lists none. Check the ribbon cable (seated, contacts the right "
    "way round), that the camera is enabled (camera_auto_detect=1 or its dtoverlay in "
    "/boot/firmware/config.txt) and what 'rpicam-hello --list-cameras' says"
)
BUSY = (
    "the Pi camera is in use by another process (libcamera: 'Failed to acquire camera: Device or "
    "resource busy'): stop the other program (a second edge-agent, rpicam-*, libcamera-* or a "
    "script; 'sudo fuser -v /dev/media*' names it); the agent keeps trying to open the camera"
)


class EncodedOutput(Protocol):
    """What receives the encoded main stream (the recorder's sink): picamera2's Output calls."""

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None: ...

    def encoder_started(self) -> None: ...

    def encoder_stopped(self) -> None: ...

    def encoder_failed(self, why: str) -> None: ...


Record = tuple[EncodedOutput, int, int]  # (sink, bitrate in bit/s, frames between keyframes)


def lores_size(width: int, height: int, motion_height: int) -> tuple[int, int]:
    """The lores stream size: `motion_height` rows (even), the main stream's aspect, width even."""
    h = motion_height - motion_height % 2
    w = round(width * h / height)
    return w + w % 2, h


def y_plane(yuv420: np.ndarray, width: int, height: int) -> np.ndarray:
    """The luma plane of a YUV420 lores array: the first `height` rows, cut to `width` (stride)."""
    return yuv420[:height, :width]


def full_range(luma: np.ndarray) -> np.ndarray:
    """Limited-range luma (16-235) stretched to 0-255."""
    return _FULL_RANGE[luma]


def chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first (`raise ... from` or raised while handling)."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out and len(out) < 8:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def describe(exc: BaseException) -> str:
    """One line naming the exception and its causes: 'outer message <- cause message'."""
    parts = [f"{type(e).__name__}: {e}" if str(e) else type(e).__name__ for e in chain(exc)]
    return " <- ".join(parts)


def import_picamera2() -> tuple[ModuleType, ModuleType]:
    """picamera2 and libcamera, or a SourceError that says why they cannot be used."""
    try:
        picamera2 = importlib.import_module("picamera2")
        libcamera = importlib.import_module("libcamera")
    except ModuleNotFoundError as exc:
        if exc.name in ("picamera2", "libcamera"):
            raise SourceError(MISSING) from None
        raise SourceError(_cannot_import(exc)) from None
    except Exception as exc:  # simplejpeg raises ValueError on a numpy ABI mismatch
        raise SourceError(_cannot_import(exc)) from None
    if not hasattr(picamera2.Picamera2, "cancel_all_and_flush"):
        raise SourceError(
            f"picamera2 {_version()} is too old: edge-agent needs {MIN_PICAMERA2} or newer to stop "
            "waiting for a camera that hangs; run 'sudo apt update && sudo apt full-upgrade'"
        )
    return picamera2, libcamera


def _version() -> str:
    try:
        return importlib.metadata.version("picamera2")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def _cannot_import(exc: BaseException) -> str:
    text = describe(exc)
    if "numpy" in text or "binary incompatib" in text:
        hint = (
            "the numpy in the agent's venv does not match the one Raspberry Pi OS built "
            "simplejpeg and picamera2 against: reinstall with deploy/install.sh (it keeps "
            "numpy<2 on Bookworm) or run \"/opt/edge-agent/venv/bin/pip install 'numpy<2'\""
        )
    else:
        hint = (
            "check with \"/opt/edge-agent/venv/bin/python -c 'import picamera2'\" and reinstall "
            "python3-picamera2 (sudo apt install --reinstall python3-picamera2)"
        )
    return f"camera.source is 'picamera2' but picamera2 cannot be imported ({text}): {hint}"


def _is_busy(e: BaseException) -> bool:
    text = str(e)
    return (
        getattr(e, "errno", None) == errno.EBUSY
        or "Device or resource busy" in text
        or "Failed to acquire camera" in text
        or "in use by another process" in text
    )


def construct(picamera2: ModuleType) -> Any:
    """A `Picamera2()`, the camera acquired; no camera and a busy camera get their own message."""
    try:
        return picamera2.Picamera2()
    except Exception as exc:
        causes = chain(exc)
        # picamera2 indexes its list of cameras (IndexError); older ones said "Camera(s) not found".
        if any(isinstance(e, IndexError) or "Camera(s) not found" in str(e) for e in causes):
            raise SourceError(NO_CAMERA) from None
        if any(_is_busy(e) for e in causes):
            raise SourceError(BUSY) from None
        raise SourceError(f"the Pi camera cannot be opened: {describe(exc)}") from None


@dataclass(frozen=True, slots=True)
class Lores:
    """The lores stream as configured: size, bytes per row, and whether Y is limited range."""

    width: int
    height: int
    stride: int
    limited_range: bool

    @classmethod
    def of(cls, camera_config: Mapping[str, Any]) -> Lores:
        """From `Picamera2.camera_configuration()` after `configure()` (libcamera's adjustments)."""
        stream = camera_config["lores"]
        width, height = (int(v) for v in stream["size"])
        stride = int(stream.get("stride") or width)
        return cls(width, height, stride, is_limited_range(camera_config.get("colour_space")))


def is_limited_range(colour_space: Any) -> bool:
    """Is this libcamera ColorSpace limited range (Y 16-235)? None (unknown) counts as full."""
    rng = getattr(colour_space, "range", None)
    if rng is None:
        return False
    name = getattr(rng, "name", None) or str(rng)
    return str(name).rsplit(".", 1)[-1] == "Limited"


def as_output(outputs: ModuleType, sink: EncodedOutput) -> Any:
    """`sink` as a `picamera2.outputs.Output` (the encoder refuses anything else), forwarding to it."""

    class Forward(outputs.Output):  # type: ignore[name-defined,misc]
        def start(self) -> None:
            super().start()
            sink.encoder_started()

        def stop(self) -> None:
            super().stop()
            sink.encoder_stopped()

        def outputframe(
            self,
            frame: Any,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            sink.outputframe(frame, keyframe, timestamp, packet, audio)

    return Forward()


def start_encoder(cam: Any, record: Record, fps: float) -> Any:
    """The main stream's H.264 encoder, started into `record`'s sink; None (logged) when it cannot."""
    sink, bitrate, iperiod = record
    try:
        encoders = importlib.import_module("picamera2.encoders")
        output = as_output(importlib.import_module("picamera2.outputs"), sink)
        encoder = encoders.H264Encoder(
            bitrate=bitrate, repeat=True, iperiod=iperiod, framerate=frame_rate(fps)
        )
        cam.start_encoder(encoder, output, name="main")
    except Exception as exc:
        why = f"the Pi camera's H.264 encoder cannot be started ({describe(exc)}): not recording"
        log.error("%s", why)
        sink.encoder_failed(why)
        return None
    return encoder


def frame_rate(fps: float) -> int | Fraction:
    """`fps` as the encoder's `framerate`: picamera2's libx264 encoder (a Pi 5) gives it to PyAV's
    `add_stream(rate=...)`, which takes an int or a Fraction and raises on a float."""
    rate = Fraction(fps).limit_denominator(1001)
    return rate.numerator if rate.denominator == 1 else rate


def stop_encoder(cam: Any, encoder: Any) -> None:
    try:
        cam.stop_encoder(encoder)
    except Exception as exc:
        log.warning("the Pi camera's H.264 encoder did not stop cleanly: %s", describe(exc))


def close_quietly(cam: Any) -> None:
    """Cancel the camera's waiting jobs, then close it (close() stops it first)."""
    try:
        cam.cancel_all_and_flush()
    except Exception as exc:
        log.debug("cancelling the Pi camera's jobs failed: %s", describe(exc))
    try:
        cam.close()
    except Exception as exc:
        log.warning("the Pi camera did not close cleanly: %s", describe(exc))


class PicameraGrabber:
    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        motion_height: int,
        read_timeout_s: float = 10.0,
        record: Record | None = None,
    ) -> None:
        self._main = (width, height)
        self._lores_asked = lores_size(width, height, motion_height)
        self._fps = fps
        self._timeout_s = read_timeout_s
        self._record = record
        self._cam: Any = None
        self._encoder: Any = None
        self.lores: Lores | None = None

    def open(self) -> None:
        picamera2, libcamera = import_picamera2()
        cam = construct(picamera2)
        try:
            config = cam.create_video_configuration(
                main={"size": self._main, "format": "RGB888"},  # RGB888 is B,G,R in memory
                lores={"size": self._lores_asked, "format": "YUV420"},
                colour_space=libcamera.ColorSpace.Sycc(),  # full range; video defaults are limited
                controls={"FrameRate": self._fps},
                buffer_count=4 if self._record is None else 6,  # the encoder holds frames too
            )
            cam.configure(config)
            lores = Lores.of(cam.camera_configuration())
            cam.start()
        except Exception as exc:
            close_quietly(cam)  # else libcamera keeps it acquired and every reopen is "busy"
            raise SourceError(
                f"the Pi camera cannot be started: {describe(exc)}; it was closed and will be opened again"
            ) from None
        if lores.limited_range:
            log.info("the Pi camera's lores stream is limited range: stretching Y to 0-255")
        self.lores = lores
        self._cam = cam
        if self._record is not None:
            self._encoder = start_encoder(cam, self._record, self._fps)

    def grab(self) -> tuple[np.ndarray, np.ndarray] | None:
        cam, lores = self._cam, self.lores
        if cam is None or lores is None:
            return None
        try:
            (main, yuv), _metadata = cam.capture_arrays(["main", "lores"], wait=self._timeout_s)
        except TimeoutError:
            log.warning(
                "the Pi camera delivered no frame for %g s (libcamera may log 'Camera frontend "
                "has timed out!'); closing it to open it again",
                self._timeout_s,
            )
            self.close()
            return None
        except Exception as exc:  # CancelledError from interrupt(), RuntimeError from libcamera
            log.warning("the Pi camera failed (%s); closing it to open it again", describe(exc))
            self.close()
            return None
        gray = y_plane(yuv, lores.width, lores.height)
        gray = full_range(gray) if lores.limited_range else np.ascontiguousarray(gray)
        return np.ascontiguousarray(main[:, :, :3]), gray

    def interrupt(self) -> None:
        """Cancel a capture that is waiting (from another thread): `grab()` then returns None."""
        cam = self._cam
        if cam is not None:
            try:
                cam.cancel_all_and_flush()
            except Exception as exc:
                log.debug("cancelling the Pi camera's capture failed: %s", describe(exc))

    def close(self) -> None:
        cam, self._cam = self._cam, None
        encoder, self._encoder = self._encoder, None
        if cam is not None:
            if encoder is not None:
                stop_encoder(cam, encoder)  # picamera2's close() would leave it running
            close_quietly(cam)
