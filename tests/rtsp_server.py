"""A real RTSP camera for tests: GStreamer's RTSP server streaming a real clip as H.264.

`h264_clip(directory, seconds)` makes an H.264 MP4 from the demo clip with ffmpeg (libx264, a
keyframe every 2 s, no B-frames, as street cameras send), looped to `seconds` by stream copy.
`RtspCamera(clip)` serves it at `rtsp://127.0.0.1:PORT/cam` at real-time pace (the server's
pipeline clock paces it), from Debian's `gst-rtsp-server`, run by Debian's own Python (the project
venv has no `gi`) as a child process. `stop()` kills it (SIGKILL: a camera losing power) and
`start()` brings it back on the same port, for outage tests. A missing part skips the test with
the reason.

Run as a script (by /usr/bin/python3) it is the server itself:

    /usr/bin/python3 tests/rtsp_server.py PORT CLIP.mp4
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"
KEYFRAME_S = 2.0
MOUNT = "/cam"
DEMO_CLIP = Path(__file__).resolve().parents[1] / "demo" / "car-detection.mp4"
APT_HINT = (
    "scripts/test.sh installs them: apt install gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 "
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi ffmpeg"
)
_GI_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    "missing = [e for e in ('qtdemux', 'h264parse', 'rtph264pay') if Gst.ElementFactory.find(e) is None]; "
    "print(' '.join(missing))"
)


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)


def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        _skip(f"ffmpeg is not installed ({APT_HINT})")
    return str(found)


def require_gst_rtsp() -> None:
    """Skip unless Debian's Python has GStreamer's RTSP server and the elements it needs."""
    if not Path(SYSTEM_PYTHON).exists():
        _skip(f"{SYSTEM_PYTHON} is missing: the RTSP test server runs in Debian's Python ({APT_HINT})")
    proc = subprocess.run([SYSTEM_PYTHON, "-c", _GI_CHECK], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        _skip(f"GStreamer's RTSP server is not usable: {proc.stderr.strip().splitlines()[-1:]} ({APT_HINT})")
    if proc.stdout.strip():
        _skip(f"GStreamer elements missing: {proc.stdout.strip()} ({APT_HINT})")


def h264_clip(
    directory: Path,
    seconds: float,
    source: Path = DEMO_CLIP,
    scale: str | None = None,
    bitrate: str = "1500k",
    fps: float | None = None,
    preset: str = "ultrafast",
) -> Path:
    """An H.264 MP4 of `source` (re-encoded once, then looped by stream copy to `seconds`)."""
    ffmpeg = ffmpeg_binary()
    if not source.exists():
        _skip(f"clip not available: {source}")
    directory.mkdir(parents=True, exist_ok=True)
    tag = f"{source.stem}-{scale or 'orig'}-{bitrate}-{fps or 'src'}-{preset}".replace(":", "x")
    once, looped = directory / f"{tag}.once.mp4", directory / f"{tag}-{int(seconds)}s.mp4"
    if looped.exists():
        return looped
    rate = fps or _frame_rate(source)
    filters = [f for f in (f"scale={scale}:flags=bicubic" if scale else "", f"fps={fps}" if fps else "") if f]
    encode = [ffmpeg, "-v", "error", "-y", "-i", str(source), "-an"]
    encode += ["-vf", ",".join(filters)] if filters else []
    encode += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-bf", "0"]
    gop = str(round(KEYFRAME_S * rate))
    encode += ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-b:v", bitrate, str(once)]
    subprocess.run(encode, check=True, capture_output=True, timeout=600)
    clip_s = _duration(once)
    loops = max(0, int(seconds / clip_s + 0.999) - 1)
    loop = [ffmpeg, "-v", "error", "-y", "-stream_loop", str(loops), "-i", str(once), "-c", "copy"]
    subprocess.run([*loop, str(looped)], check=True, capture_output=True, timeout=600)
    once.unlink()
    return looped


def _frame_rate(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate
        return float(rate) if rate else 25.0


def _duration(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        return float(c.duration or 0) / 1_000_000 or 1.0


class RtspCamera:
    """GStreamer's RTSP server on a free loopback port streaming `clip` (H.264 MP4) in real time."""

    def __init__(self, clip: Path, log_dir: Path, port: int | None = None) -> None:
        require_gst_rtsp()
        from edge_agent.agent.loopback import free_port  # (not at the top: Debian's python3 runs this file)

        self.clip = clip
        self.port = port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}{MOUNT}"
        self._log_path = log_dir / f"rtsp-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> RtspCamera:
        if self._proc is not None:
            return self
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [SYSTEM_PYTHON, __file__, str(self.port), str(self.clip)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            )
        from edge_agent.agent.loopback import listening

        if not listening(self.port, timeout_s) or self._proc.poll() is not None:
            log_text = self.log()
            self.stop()
            raise RuntimeError(f"the RTSP server did not listen on port {self.port}:\n{log_text}")
        return self

    def stop(self) -> None:
        """Kill the server (like a camera losing power) and wait until it is gone."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a SIGKILLed process ends
            proc.wait(15)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")[-3000:] if self._log_path.exists() else ""

    def __enter__(self) -> RtspCamera:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(port: int, clip: Path) -> None:  # pragma: no cover - runs in Debian's python3
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = str(clip).replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse ! '
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print(f"rtsp server on rtsp://127.0.0.1:{port}{MOUNT} streaming {clip}", flush=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":  # pragma: no cover
    serve(int(sys.argv[1]), Path(sys.argv[2]))
