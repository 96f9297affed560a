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

import cv2
import numpy as np

from edge_agent.config import MotionConfig

GRID = (slice(None, None, 3), slice(None, None, 3))  # sparse grid for the robust estimates
MIN_VISIBLE = 0.25  # a block with fewer visible pixels than this takes its neighbours' change


def follow(
    bg: np.ndarray, gray: np.ndarray, previous: np.ndarray | None, hidden: np.ndarray, cfg: MotionConfig
) -> np.ndarray | None:
    """Scale `bg` (float32, in place) to the exposure of `gray`; `hidden`: uint8, non-zero
    where something moved last frame (the background there is not in view). Returns the pixels
    whose background was guessed from their neighbours' change this frame (bool), if any."""
    gain = float(np.median((gray[GRID] + 1.0) / (bg[GRID] + 1.0)))
    covered = hidden > 0
    guessed = None
    if previous is not None and covered.any():
        step = (gray[GRID] + 1.0) / (previous[GRID] + 1.0)
        whole = float(np.median(step))
        if abs(whole - 1.0) > cfg.gain_tolerance:
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
    if abs(gain - 1.0) > cfg.gain_tolerance:
        np.multiply(bg, np.float32(gain), out=bg, where=~covered)
    return guessed
