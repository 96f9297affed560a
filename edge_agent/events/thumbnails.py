"""Thumbnails: choose the best moment of a track, cut a square crop, draw the snapshot.

Best = high detector score, large, not cut by the frame edge, and sharp (motion blur and
compression smear make a picture useless to the police). The crop is a square around the box
with a margin, at least `min_side` pixels (small far objects are enlarged), as JPEG.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from edge_agent.config import ThumbnailConfig
from edge_agent.contract import iso_ms
from edge_agent.geometry import Box

FULL_SIZE_PX = 160.0  # a box this tall is "large enough"; smaller ones lose quality
EDGE_PENALTY = 0.35
SHARPNESS_HALF = 60.0  # Laplacian variance at which sharpness counts half
SHARP_PROBE_PX = 96
COLOURS = {
    "person": (60, 200, 60),
    "bicycle": (200, 160, 40),
    "motorcycle": (40, 140, 255),
    "car": (230, 80, 80),
    "bus": (200, 60, 200),
    "truck": (160, 100, 230),
}


@dataclass
class Candidate:
    quality: float
    crop: np.ndarray
    score: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class Jpeg:
    data: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def square_crop(image: np.ndarray, box: Box, margin: float, min_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin)
    side = min(side, float(min(w, h)))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1 = round(min(max(cx - side / 2, 0), w - side))
    y1 = round(min(max(cy - side / 2, 0), h - side))
    s = max(1, round(side))
    crop = image[y1 : y1 + s, x1 : x1 + s]
    if s < min_side:
        crop = cv2.resize(crop, (min_side, min_side), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


def sharpness(image: np.ndarray, box: Box) -> float:
    x1, y1, x2, y2 = (max(0, round(v)) for v in box)
    patch = image[y1:y2, x1:x2]
    if patch.size == 0:
        return 0.0
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    scale = SHARP_PROBE_PX / max(gray.shape)
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def quality(image: np.ndarray, box: Box, score: float, edge_px: float) -> float:
    h, w = image.shape[:2]
    size = min(1.0, (box[3] - box[1]) / FULL_SIZE_PX) ** 0.5
    cut = box[0] <= edge_px or box[1] <= edge_px or box[2] >= w - edge_px or box[3] >= h - edge_px
    sharp = sharpness(image, box)
    return score * size * (EDGE_PENALTY if cut else 1.0) * (sharp / (sharp + SHARPNESS_HALF))


def encode(image: np.ndarray, jpeg_quality: int) -> Jpeg:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return Jpeg(buf.tobytes(), int(image.shape[1]), int(image.shape[0]))


class ThumbnailPicker:
    """Keeps, per track, the best candidate seen so far (the crop is cut only when it wins)."""

    def __init__(self, cfg: ThumbnailConfig) -> None:
        self.cfg = cfg
        self.best: dict[int, Candidate] = {}

    def offer(self, track_id: int, image: np.ndarray, box: Box, score: float, wall: datetime) -> bool:
        current = self.best.get(track_id)
        if current is not None and score < current.quality:  # quality ≤ score: cannot win
            return False
        q = quality(image, box, score, self.cfg.edge_px)
        if current is not None and q <= current.quality:
            return False
        crop = square_crop(image, box, self.cfg.margin, self.cfg.min_side)
        self.best[track_id] = Candidate(q, crop, score, wall)
        return True

    def jpeg(self, track_id: int) -> Jpeg | None:
        c = self.best.get(track_id)
        return None if c is None else encode(c.crop, self.cfg.jpeg_quality)

    def forget(self, track_id: int) -> None:
        self.best.pop(track_id, None)


def snapshot(image: np.ndarray, boxes: Iterable[tuple[Box, str]], wall: datetime, quality_: int) -> Jpeg:
    """The full frame with boxes and labels drawn, and the time in the corner."""
    canvas = image.copy()
    for box, text in boxes:
        colour = COLOURS.get(text.split()[0], (255, 255, 255))
        p1, p2 = (round(box[0]), round(box[1])), (round(box[2]), round(box[3]))
        cv2.rectangle(canvas, p1, p2, colour, 2)
        cv2.putText(
            canvas, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA
        )
    stamp = iso_ms(wall)
    cv2.putText(
        canvas, stamp, (8, canvas.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA
    )
    cv2.putText(
        canvas,
        stamp,
        (8, canvas.shape[0] - 10),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return encode(canvas, quality_)
