"""The detector's input shrink is OpenCV's INTER_AREA to within one grey level, and the same
bits on every CPU: its output's sha256 on a seeded image is checked in (a CPU whose arithmetic
differed would fail here, not somewhere downstream as a different event)."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from edge_agent.detection.area import area_shrink
from edge_agent.detection.nanodet import letterbox
from tests.conftest import shared

GOLDEN = {
    "768x576->416x312": "d3a897c0d4614c24428457f05d9022c43fb02254edf06151c445bade3a64836c",
    "700x530->320x242": "4c633cf7a2d5676c44a6a6c3f15e7c879720ecd2ef41518ade1f9fa5b13ca616",
    "letterbox 416": "6e054f43972c9983354af6e82dbadc90e1ecabe86ec90a2f9067a6bad1314ddb",
}


def seeded(h: int, w: int) -> np.ndarray:
    # PCG64 is the same on every CPU; smoothed in integers so that it looks like a picture
    n = np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint16)
    return ((n + np.roll(n, 1, 0) + np.roll(n, 1, 1) + np.roll(n, (1, 1), (0, 1))) // 4).astype(np.uint8)


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_the_same_bits_on_every_cpu() -> None:
    frame = seeded(576, 768)
    got = {
        "768x576->416x312": digest(area_shrink(frame, 416, 312)),
        "700x530->320x242": digest(area_shrink(frame[20:550, 30:730], 320, 242)),
        "letterbox 416": digest(letterbox(frame, 416)[0]),
    }
    assert got == GOLDEN


@pytest.mark.parametrize(("w", "h"), [(416, 312), (320, 240), (257, 193), (100, 75)])
def test_within_one_grey_level_of_opencv_on_a_real_frame(w: int, h: int) -> None:
    cap = cv2.VideoCapture(str(shared("pets09_s2l1_vtest/vtest.avi")))
    ok, frame = cap.read()
    cap.release()
    assert ok
    ours = area_shrink(frame, w, h).astype(int)
    theirs = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA).astype(int)
    diff = np.abs(ours - theirs)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


def test_an_integer_factor_is_the_block_mean_rounded_half_to_even() -> None:
    img = seeded(64, 96)
    blocks = img.reshape(32, 2, 48, 2, 3).astype(np.int64).sum(axis=(1, 3))
    q, r = np.divmod(blocks, 4)
    want = q + ((2 * r > 4) | ((2 * r == 4) & (q % 2 == 1)))
    assert np.array_equal(area_shrink(img, 48, 32), want.astype(np.uint8))
    gray = img[:, :, 0]
    assert area_shrink(gray, 48, 32).shape == (32, 48)
