"""Ghosts: motion blobs where something *was*, not where something *is*.

The road behind a passing car cannot be seen, so while the camera's exposure changes its
background is guessed from the pixels around it (`exposure.follow`). When the guess is off, the
road the car uncovers differs from the background and looks like motion until the background
catches up: on car-detection.mp4, for a second after each car leaves. A real object shows its
own outline in the frame and moves; a ghost does neither: the road in the frame runs on smoothly
across the blob's edge, and it stays put, or changes evenly all over (the soft shadow a car casts
from beyond the frame edge fades as it drives away). Blobs made mostly of guessed background are
checked for both, and the motion stage learns a ghost into the background at once.

Only guessed background is checked: on a busy road the test also fits a dark car on dark asphalt
now and then (CDnet highway: a few cars a minute), and learning a real car into the background
costs far more than the ghost it would have saved.
"""

from __future__ import annotations

import cv2
import numpy as np

KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
RING_PX = 2  # width of the ring outside a blob, in small-image pixels


def find(
    labels: np.ndarray,
    n: int,
    moving: np.ndarray,
    gray: np.ndarray,
    previous: np.ndarray | None,
    background: np.ndarray,
    guessed: np.ndarray,
    ratio: float,
) -> np.ndarray:
    """Label numbers (1..n-1) of the ghost blobs.

    `labels`: the blobs' connected-component labels; `moving`: non-zero where the frame differs
    from the background; `gray`, `previous` (the last frame), `background`: uint8; `guessed`:
    non-zero where the background was estimated, not seen (only blobs mostly made of it are
    checked). On a thin band just inside each blob, how far the frame is from the frame just
    outside (the outline it shows) and from the last frame beyond the blob's even change (its
    movement) are compared with how far it is from the background (the difference that made the
    blob): a ghost shows less than `ratio` of its difference as outline and as movement."""
    none = np.zeros(0, np.int64)
    if n <= 1 or ratio <= 0 or previous is None or not guessed.any():
        return none
    blob = labels > 0
    suspect = _means(labels[blob], (guessed[blob] > 0).astype(np.float32), n) >= 0.5
    if not suspect[1:].any():
        return none
    grown = cv2.dilate(labels, KERNEL, iterations=RING_PX)  # each ring takes its blob's label
    shrunk = cv2.erode(labels, KERNEL, iterations=RING_PX)
    ring = (grown > 0) & (moving == 0)  # what the frame shows around: the scene, not other blobs
    band = (labels > 0) & (shrunk == 0)
    around = _means(grown[ring], gray[ring].astype(np.float32), n)  # the frame just outside
    owner = labels[band]
    inside = gray[band].astype(np.float32)
    outline = _means(owner, np.abs(inside - around[owner]), n)
    difference = _means(owner, np.abs(inside - background[band]), n)
    step = inside - previous[band]
    change = _means(owner, np.abs(step - _means(owner, step, n)[owner]), n)  # not the even change
    ghost = suspect & (outline < ratio * difference) & (change < ratio * difference)
    ghost[0] = False
    return np.flatnonzero(ghost)


def _means(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    total = np.bincount(owner, weights=values, minlength=n)
    count = np.bincount(owner, minlength=n)
    return total / np.maximum(count, 1)
