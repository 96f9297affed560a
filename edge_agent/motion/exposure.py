"""Following the camera's exposure in the motion background.

Auto-exposure, clouds and street lamps scale the picture; the background must follow, or the
whole frame "moves". Pixels in view follow the whole image's gain against the background (the
median ratio on a sparse grid, robust to the moving objects themselves). Pixels hidden behind a
moving object cannot be measured, and the change is uneven across the picture (the AGC's
metering, vignetting, the sky's reflection on a wet road): they follow the frame-to-frame change
of the visible pixels around them, measured per block. Otherwise a car that sits through an
exposure ramp leaves a ghost of the old exposure where it stood.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge_agent.config import MotionConfig

GRID = (slice(None, None, 3), slice(None, None, 3))  # sparse grid for the robust estimates
MIN_VISIBLE = 0.25  # a block with fewer visible pixels than this takes its neighbours' change


def median(values: np.ndarray) -> float:
    """The median of a small array: `np.median` without its overhead (numpy's vectorised sort
    beats its selection on the few thousand grid samples used here)."""
    ordered = np.sort(values, axis=None)
    k = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[k])
    return (float(ordered[k - 1]) + float(ordered[k])) / 2


def median_outside(values: np.ndarray, low: float | None, high: float) -> float | None:
    """The median of `values` if it may lie outside [low, high] (no lower end when `low` is
    None); None when it surely lies inside: no more than half of the values beyond either end,
    which counting tells more cheaply than sorting (most frames: the exposure holds still)."""
    if values.dtype.kind in "iu":  # compare integers with integers (no cast of every value)
        high = math.floor(high)
        low = None if low is None else math.ceil(low)
    most = (values.size - 1) // 2
    if np.count_nonzero(values > high) <= most and (low is None or np.count_nonzero(values < low) <= most):
        return None
    return median(values)


def follow(
    bg: np.ndarray, gray: np.ndarray, previous: np.ndarray | None, hidden: np.ndarray, cfg: MotionConfig
) -> np.ndarray | None:
    """Scale `bg` (float32, in place) to the exposure of `gray`; `hidden`: uint8, non-zero
    where something moved last frame (the background there is not in view). Returns the pixels
    whose background was guessed from their neighbours' change this frame (bool), if any."""
    low, high = 1.0 - cfg.gain_tolerance, 1.0 + cfg.gain_tolerance
    now = gray[GRID].astype(np.float32) + 1
    gain = median_outside(now / (bg[GRID] + 1), low, high)
    anything_hidden = cv2.countNonZero(hidden) > 0
    covered = None  # bool image of `hidden`, made only when needed
    guessed = None
    if previous is not None and anything_hidden:
        step = now / (previous[GRID].astype(np.float32) + 1)
        whole = median_outside(step, low, high)
        if whole is not None and abs(whole - 1.0) > cfg.gain_tolerance:
            covered = hidden > 0
            visible = (~covered[GRID]) & (np.abs(step - whole) < cfg.gain_block_spread)
            cols, rows = cfg.gain_blocks
            weight = cv2.resize(visible.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA)
            total = cv2.resize(
                (step * visible).astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA
            )
            weight, total = cv2.blur(weight, (3, 3)), cv2.blur(total, (3, 3))
            local = np.where(weight > MIN_VISIBLE, total / np.maximum(weight, 1e-6), whole)
            h, w = bg.shape
            field = cv2.resize(local.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
            np.multiply(bg, field, out=bg, where=covered)
            guessed = covered
    if gain is not None and abs(gain - 1.0) > cfg.gain_tolerance:
        if not anything_hidden:
            np.multiply(bg, np.float32(gain), out=bg)
        else:
            np.multiply(bg, np.float32(gain), out=bg, where=~(hidden > 0 if covered is None else covered))
    return guessed
