"""Camera health from the motion stage's small images: frozen, covered/dark, moved, blurred.

Each condition is reported once when it starts (active=True) and once when it clears
(active=False), for the technicians; never every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.config import MotionConfig
from edge_agent.sources import Frame

SHARPNESS_LEARN_RATE = 0.05
SHARPNESS_EVERY_NS = 500_000_000
PHASE_RESPONSE_MIN = 0.2


@dataclass(frozen=True, slots=True)
class CameraAlert:
    kind: str  # frozen | covered | moved | blurred
    active: bool
    detail: str


class _Condition:
    """A condition that must hold for `hold_ns` before it is reported, and is reported once."""

    def __init__(self, kind: str, hold_s: float) -> None:
        self.kind = kind
        self.hold_ns = int(hold_s * 1e9)
        self.since: int | None = None
        self.active = False

    def update(self, now_ns: int, holds: bool, detail: Callable[[], str]) -> list[CameraAlert]:
        """Alerts for a start or an end of the condition (`detail` describes a start)."""
        if holds:
            if self.since is None:
                self.since = now_ns
            if not self.active and now_ns - self.since >= self.hold_ns:
                self.active = True
                return [CameraAlert(self.kind, True, detail())]
            return []
        self.since = None
        if self.active:
            self.active = False
            return [CameraAlert(self.kind, False, f"{self.kind} cleared")]
        return []


class CameraHealth:
    def __init__(self, cfg: MotionConfig) -> None:
        self.cfg = cfg
        self.frozen = _Condition("frozen", cfg.frozen_s)
        self.covered = _Condition("covered", cfg.dark_s)
        self.blurred = _Condition("blurred", cfg.blur_s)
        self.moved = False
        self._sharpness: float | None = None
        self._last_sharp_ns = -SHARPNESS_EVERY_NS

    def update(
        self, frame: Frame, gray: np.ndarray, previous: np.ndarray | None, mean: float
    ) -> list[CameraAlert]:
        """Check the newest small gray image against the one before (`mean`: its mean gray)."""
        now = frame.mono_ns
        cfg = self.cfg
        same = (
            previous is not None
            and previous.shape == gray.shape
            and not cv2.norm(previous, gray, cv2.NORM_INF)
        )
        alerts = self.frozen.update(
            now, same, lambda: f"the picture has not changed for {cfg.frozen_s:.0f} s"
        )
        alerts += self.covered.update(
            now,
            mean < cfg.dark_level,
            lambda: f"the picture is dark (mean {mean:.0f}): lens covered or no light",
        )
        if now - self._last_sharp_ns >= SHARPNESS_EVERY_NS:  # slow to change: twice a second is plenty
            self._last_sharp_ns = now
            sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
            if self._sharpness is None:
                self._sharpness = sharp
            usual = self._sharpness
            blurred = mean >= cfg.dark_level and sharp < cfg.blur_ratio * usual
            if not blurred:  # learn the scene's usual sharpness only from sharp frames
                self._sharpness += SHARPNESS_LEARN_RATE * (sharp - usual)
            alerts += self.blurred.update(
                now, blurred, lambda: f"the picture is blurred (sharpness {sharp:.0f} of usual {usual:.0f})"
            )
        return alerts

    def scene_changed(self, gray: np.ndarray, old_background: np.ndarray) -> list[CameraAlert]:
        """After a sudden whole-scene change: did the view shift (camera moved or bumped)?"""
        a = cv2.equalizeHist(cv2.convertScaleAbs(old_background)).astype(np.float32)
        b = cv2.equalizeHist(gray).astype(np.float32)
        (dx, dy), response = cv2.phaseCorrelate(a, b)
        shifted = response >= PHASE_RESPONSE_MIN and float(np.hypot(dx, dy)) >= self.cfg.moved_px
        if shifted and not self.moved:
            self.moved = True
            return [CameraAlert("moved", True, f"the view shifted by ({dx:.0f}, {dy:.0f}) px: camera moved")]
        if not shifted and self.moved and response >= PHASE_RESPONSE_MIN:
            self.moved = False
            return [CameraAlert("moved", False, "moved cleared")]
        return []
