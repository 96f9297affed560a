"""Recording benchmark: the camera's own H.264 stream into segments, PyAV's Segmenter vs ffmpeg.

    python benchmarks/recording.py [--seconds 60]

One real RTSP camera (GStreamer's RTSP server, tests/rtsp_server.py) streams the demo clip at
25 fps, once at its native 768×432 (1.5 Mbit/s) and once scaled to 1920×1080 (4 Mbit/s). Each
is recorded with `segment_s` 4 by (a) `edge_agent.recording.Segmenter` in a child Python and (b)
FFmpeg's segment muxer as a child process:

    ffmpeg -rtsp_transport tcp -i URL -c copy -f segment -segment_time 4 -segment_format mp4
      -segment_format_options movflags=frag_keyframe+empty_moov+default_base_moof
      -reset_timestamps 1 out%08d.mp4

Both are measured from /proc over the same window (from when the first segment is complete, for
`--seconds`): CPU seconds per stream-second (user + system, of that process only), resident
memory at the end and at its peak, and bytes written per hour (all segments' bytes over the
media seconds they hold, extrapolated). Writes benchmarks/results/recording.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
from common import REPO, table, write

sys.path.insert(0, str(REPO))

from tests.rtsp_server import RtspCamera, ffmpeg_binary, h264_clip

FPS = 25.0
SEGMENT_S = 4
VARIANTS = [("768x432", None, "1500k"), ("1920x1080", "1920:1080", "4000k")]
TICK = os.sysconf("SC_CLK_TCK")
FFMPEG_ARGS = [
    "-rtsp_transport", "tcp", "-i", "URL", "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_S),
    "-segment_format", "mp4",
    "-segment_format_options", "movflags=frag_keyframe+empty_moov+default_base_moof",
    "-reset_timestamps", "1", "OUT/out%08d.mp4",
]  # fmt: skip
SEGMENTER_CHILD = """
import signal, sys
from pathlib import Path
from edge_agent.recording.segmenter import Segmenter
rec = Segmenter(sys.argv[1], Path(sys.argv[2]), segment_s=float(sys.argv[3]))
signal.signal(signal.SIGTERM, lambda *_: rec.stop())
rec.run()
print(rec.stats, flush=True)
"""


def proc_sample(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) and VmRSS / VmHWM in MB of one process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    mb = {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
    return {"cpu_s": cpu, "t": time.monotonic(), **mb}


def finished_segments(out: Path) -> list[Path]:
    files = sorted(p for p in out.iterdir() if p.suffix == ".mp4" and ".torn" not in p.name)
    return files if any(".part" in p.name for p in out.iterdir()) else files[:-1]  # ffmpeg: last is open


def media_packets(files: list[Path]) -> int:
    n = 0
    for f in files:
        try:
            with av.open(str(f)) as c:
                n += sum(1 for p in c.demux(c.streams.video[0]) if p.size)
        except av.FFmpegError:
            pass
    return n


def measure(name: str, command: list[str], out: Path, seconds: float, stop: signal.Signals) -> dict:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not finished_segments(out):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} wrote no segment: {proc.communicate()[1][-2000:]}")
            time.sleep(0.05)
        start = proc_sample(proc.pid)
        time.sleep(seconds)
        end = proc_sample(proc.pid)
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode not in (0, 255, -stop):
        print(f"{name} exited {proc.returncode}: {err[-500:]}", file=sys.stderr)
    files = sorted(p for p in out.iterdir() if p.suffix == ".mp4")
    size = sum(p.stat().st_size for p in files)
    media_s = media_packets(files) / FPS
    wall = end["t"] - start["t"]
    return {
        "recorder": name,
        "cpu_s_per_stream_s": round((end["cpu_s"] - start["cpu_s"]) / wall, 4),
        "core_percent": round(100 * (end["cpu_s"] - start["cpu_s"]) / wall, 2),
        "rss_mb": round(end["VmRSS"], 1),
        "peak_rss_mb": round(end["VmHWM"], 1),
        "segments": len(files),
        "media_s": round(media_s, 1),
        "mb_per_hour": round(size / media_s * 3600 / 1e6, 1) if media_s else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per run")
    args = parser.parse_args()
    try:
        ffmpeg = ffmpeg_binary()
    except BaseException as exc:  # tests/rtsp_server.py skips (pytest's Skipped) when a part is missing
        raise SystemExit(f"cannot run: {exc}") from None
    root = Path(tempfile.mkdtemp(prefix="edge-bench-recording-"))
    rows: list[dict] = []
    try:
        for label, scale, bitrate in VARIANTS:
            try:
                clip = h264_clip(root / "clips", args.seconds + 20, scale=scale, bitrate=bitrate, fps=FPS)
                camera = RtspCamera(clip, root)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise SystemExit(f"cannot run: {exc}") from None
            runs = {
                "pyav-segmenter": (
                    [sys.executable, "-c", SEGMENTER_CHILD, "URL", "OUT", str(SEGMENT_S)],
                    signal.SIGTERM,
                ),
                "ffmpeg-segment": (
                    [ffmpeg, "-nostdin", "-v", "error", *FFMPEG_ARGS],
                    signal.SIGINT,
                ),
            }
            for name, (template, stop) in runs.items():
                out = root / f"{label}-{name}"
                out.mkdir()
                with camera:  # a fresh camera per run: both start at the clip's first frame
                    command = [a.replace("URL", camera.url).replace("OUT", str(out)) for a in template]
                    row = {
                        "stream": f"{label} {bitrate}bit/s {FPS:g} fps",
                        **measure(name, command, out, args.seconds, stop),
                    }
                rows.append(row)
                print(f"  {row['stream']} {name}: {row['core_percent']} % of a core", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    columns = ["stream", "recorder", "cpu_s_per_stream_s", "core_percent", "rss_mb", "peak_rss_mb"]
    columns += ["segments", "media_s", "mb_per_hour"]
    print(f"\nrecording one RTSP camera, segment_s {SEGMENT_S}, {args.seconds:g} s measured per run:")
    print(table(rows, columns))
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    versions = {
        "pyav": av.__version__,
        "pyav_ffmpeg": ".".join(map(str, av.library_versions["libavformat"])),
        "ffmpeg": subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0],
        "cpu": next((c for c in cpu if c), "unknown"),
    }
    print(f"PyAV {versions['pyav']} (libavformat {versions['pyav_ffmpeg']}); {versions['ffmpeg']}")
    path = write("recording", {"seconds": args.seconds, "segment_s": SEGMENT_S, **versions, "runs": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
