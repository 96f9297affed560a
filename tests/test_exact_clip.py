"""The cross-CPU test clip: FFmpeg's bit-exact decoding of vtest.avi gives the same YUV planes on
every CPU (the digest below was the same on AMD EPYC x86-64 and on a Cortex-A72 under
qemu-aarch64, where OpenCV's own decoding differed), and OpenCV reads the lossless copy back as
exactly the frames it was made from."""

from __future__ import annotations

import hashlib
import itertools

import av
import cv2
import numpy as np

from tests.conftest import shared
from tests.exact_clip import exact_copy, exact_frames

# sha256 over the first 12 hex digits of each of frames 1-200's yuv420p planes' sha256
YUV_200 = "237e5dfb322262fc"


def test_the_bit_exact_decoding_is_the_same_on_every_cpu() -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    heads = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags": "bitexact", "idct": "simple"}
        for frame in itertools.islice(container.decode(stream), 200):
            heads.append(hashlib.sha256(frame.to_ndarray(format="yuv420p").tobytes()).hexdigest()[:12])
    assert hashlib.sha256("".join(heads).encode()).hexdigest()[:16] == YUV_200


def test_opencv_reads_the_copy_back_byte_for_byte() -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    cap = cv2.VideoCapture(str(exact_copy(video, 200)))
    try:
        assert cap.get(cv2.CAP_PROP_FPS) == 10.0
        for i, want in enumerate(exact_frames(video, 30)):
            ok, got = cap.read()
            assert ok and np.array_equal(got, want), f"frame {i}"
    finally:
        cap.release()
