"""Presence: whole moving objects from the motion mask, for alarms on motion alone (night, IR).

The motion stage's boxes are parts: in the small image a walking person is a head, a coat and
two legs that each move in some frames and not in others, and at night, when a person differs
from the road by a few grey levels, fewer of them move at all. What has moved in the last
`presence_frames` frames, with gaps of a part's size closed, is the object; its box is where it
stands.

Each object is also judged for light. A car's headlights sweeping a wall change the picture as
much as a person does, but the change is the scene itself made brighter (every pixel brighter,
by nearly the same factor); a moth in the camera's IR beam is a glowing disc, many times
brighter than the dark street behind it. A person hides the scene: brighter and darker pixels,
in no fixed ratio to what was behind, and at night rarely more than twice as bright as the road
(one who is, is well lit, and the detector sees well-lit people).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.geometry import Box

JOIN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # closes the gaps between a person's parts
LIT_BRIGHTER = 0.9  # this share of its pixels brighter than the background ...
LIT_SPREAD = 0.3  # ... by a factor that varies less than this (relative spread): light, not a thing
GLARE_RATIO = 2.5  # this many times brighter than the background ...
GLARE_LEVELS = 60.0  # ... and by this many grey levels (median): it glows
MIN_PIXELS = 12  # fewer moving pixels than this: too little to judge


@dataclass(frozen=True, slots=True)
class Presence:
    box: Box  # full-frame pixel coordinates
    lit: bool  # the change is light (the scene lit up, or a glow), not a thing in front of it
    fill: float  # share of its box that moves in this very frame (not only in the frames before)


def lit(gray: np.ndarray, background: np.ndarray, moving: np.ndarray) -> bool:
    """Whether the pixels under `moving` (bool) of `gray` are light: the `background` (float32)
    lit up, or something glowing in front of it."""
    now = gray[moving].astype(np.float32) + 1.0
    before = background[moving] + 1.0
    if now.size < MIN_PIXELS:
        return False
    if np.count_nonzero(now > before) < LIT_BRIGHTER * now.size:
        return False
    ratio = now / before
    if float(np.median(ratio)) >= GLARE_RATIO and float(np.median(now - before)) >= GLARE_LEVELS:
        return True
    return float(ratio.std()) < LIT_SPREAD * float(ratio.mean())


class PresenceFinder:
    """Objects from the last few motion masks (small image) in full-frame coordinates."""

    def __init__(self, frames: int, frame_size: tuple[int, int]) -> None:
        self.frames = frames
        self.frame_size = frame_size
        self._masks: deque[np.ndarray] = deque(maxlen=frames)

    def reset(self) -> None:
        """Forget what moved (a scene change: the old masks belong to another picture)."""
        self._masks.clear()

    def update(
        self, mask: np.ndarray, gray: np.ndarray, background: np.ndarray, min_height: int
    ) -> list[Presence]:
        """Add this frame's mask; the objects at least `min_height` small-image rows tall."""
        self._masks.append(mask)
        joined = self._masks[0].copy()
        for m in list(self._masks)[1:]:
            cv2.bitwise_or(joined, m, dst=joined)
        joined = cv2.morphologyEx(joined, cv2.MORPH_CLOSE, JOIN)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8, ltype=cv2.CV_16U)
        h, w = mask.shape[:2]
        sx, sy = self.frame_size[0] / w, self.frame_size[1] / h
        out = []
        for i in range(1, n):
            x, y, bw, bh, _ = stats[i].tolist()
            if bh < min_height:
                continue
            window = (slice(y, y + bh), slice(x, x + bw))
            now = (labels[window] == i) & (mask[window] > 0)  # what moves in this frame
            out.append(
                Presence(
                    (x * sx, y * sy, (x + bw) * sx, (y + bh) * sy),
                    lit(gray[window], background[window], now),
                    int(np.count_nonzero(now)) / (bw * bh),
                )
            )
        return out
