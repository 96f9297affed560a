"""A copy of a test clip that decodes to the same pixels on every CPU.

`vtest.avi` is MS-MPEG4 v3: OpenCV's bundled FFmpeg decodes it with the CPU's own inverse DCT
and colour conversion, so x86 and arm64 see other pixels (63 % of frame 0's values, by up to
4) and a replay cannot be compared across CPUs. Here FFmpeg decodes it through PyAV with its
`bitexact` flag and the C `simple` IDCT (the same YUV planes on x86 and arm64, checked by
sha256 on both), the planes become BGR in integer arithmetic (BT.601, limited range, chroma
repeated), and the frames are written losslessly (FFV1, BGRA), which OpenCV reads back byte for
byte. The copy is made once into the temporary folder, named by the source's sha256 and the
frame count; the research-only source is never copied into the repository.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

VERSION = 1  # bump when the conversion changes: a new name, a new copy


def exact_frames(video: Path, frames: int | None = None) -> Iterator[np.ndarray]:
    """The clip's frames as BGR uint8, the same bits on every CPU."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags": "bitexact", "idct": "simple"}
        for i, frame in enumerate(container.decode(stream)):
            if frames is not None and i >= frames:
                return
            yield yuv420p_to_bgr(frame.to_ndarray(format="yuv420p"), frame.height, frame.width)


def yuv420p_to_bgr(planes: np.ndarray, height: int, width: int) -> np.ndarray:
    """PyAV's yuv420p ndarray (Y rows, then U and V rows of half width) → BGR, integers only."""
    y = planes[:height].astype(np.int32) - 16
    chroma = planes[height:].reshape(2, height // 2, width // 2).astype(np.int32) - 128
    u = chroma[0].repeat(2, axis=0).repeat(2, axis=1)
    v = chroma[1].repeat(2, axis=0).repeat(2, axis=1)
    r = (298 * y + 409 * v + 128) >> 8
    g = (298 * y - 100 * u - 208 * v + 128) >> 8
    b = (298 * y + 516 * u + 128) >> 8
    return np.clip(np.stack([b, g, r], axis=2), 0, 255).astype(np.uint8)


def exact_copy(video: Path, frames: int | None = None) -> Path:
    digest = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"edge-agent-exact-{digest}-{frames or 'all'}-v{VERSION}.mkv"
    if out.exists():
        return out
    with av.open(str(video)) as src:
        rate = src.streams.video[0].average_rate
    part = out.with_suffix(".part.mkv")
    with av.open(str(part), "w") as dst:
        stream = dst.add_stream("ffv1", rate=rate)
        stream.pix_fmt = "bgra"
        for i, bgr in enumerate(exact_frames(video, frames)):
            if i == 0:
                stream.height, stream.width = bgr.shape[:2]
            bgra = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
            dst.mux(stream.encode(av.VideoFrame.from_ndarray(bgra, format="bgra")))
        dst.mux(stream.encode(None))
    part.rename(out)
    return out
