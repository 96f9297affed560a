"""A request's verified segments as one MP4 for the browser: remuxed with PyAV, never re-encoded.

Each segment is a standalone fragmented MP4 starting at time 0; `clip_mp4` copies their video
packets, in order, into one file (`movflags=+faststart`, so a browser plays it while it loads),
each segment placed at its own start time as the pole recorded it — a stretch the pole did not
keep stays a jump in time, never hidden. Only `verified` segments go in: one that is missing,
unavailable or does not match its record is left out (the page says which). The file is cached
by the list of segments it holds, so a clip that gains a segment is made again.
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from edge_agent.station.footage.requests import ClipStatus
from edge_agent.station.store.footage_files import FootageFiles, SegmentKey


class PlaybackError(RuntimeError):
    """The clip cannot be made: nothing verified yet, or a segment that cannot be read."""


def clip_mp4(st: ClipStatus, files: FootageFiles, cache: Path) -> Path:
    """The MP4 of `st`'s verified segments (made now, or the one made before for the same list)."""
    good = [s for s in st.segments if s.state == "verified" and s.start_us is not None]
    if not good:
        raise PlaybackError("no segment of this clip has come and been verified yet")
    keys = [SegmentKey(st.device, st.camera, s.chain, s.idx) for s in good]
    tag = hashlib.sha256("|".join(f"{k.chain}:{k.idx}" for k in keys).encode()).hexdigest()[:16]
    out = cache / f"clip-{st.id}-{tag}.mp4"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    try:
        _remux([files.path(k) for k in keys], [s.start_us or 0 for s in good], tmp)
    except (av.FFmpegError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise PlaybackError(f"the clip could not be put together: {exc}") from None
    os.replace(tmp, out)
    for old in cache.glob(f"clip-{st.id}-*.mp4"):  # an older list of this clip's segments
        if old != out:
            old.unlink(missing_ok=True)
    return out


def _remux(paths: list[Path], starts_us: list[int], target: Path) -> None:
    output: Any = av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        stream: Any = None
        tb: Fraction | None = None
        last_dts: int | None = None
        for path, start_us in zip(paths, starts_us, strict=True):
            with av.open(str(path)) as src:
                video = src.streams.video[0]
                if stream is None:
                    stream = output.add_stream_from_template(video)
                    tb = video.time_base
                assert tb is not None
                offset = round((start_us - starts_us[0]) / 1e6 / tb)
                scale = video.time_base / tb
                for packet in src.demux(video):
                    if packet.dts is None:
                        continue
                    pts = round((packet.pts if packet.pts is not None else packet.dts) * scale) + offset
                    dts = round(packet.dts * scale) + offset
                    if last_dts is not None and dts <= last_dts:  # segments a frame apart: keep order
                        shift = last_dts + 1 - dts
                        dts, pts, offset = dts + shift, pts + shift, offset + shift
                    packet.pts, packet.dts, packet.stream = pts, dts, stream
                    output.mux(packet)
                    last_dts = dts
    finally:
        output.close()
