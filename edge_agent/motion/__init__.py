"""Stage 2, motion: where something moves, found by background subtraction on a small gray image.

`MotionDetector.process(frame) -> MotionResult` (`background`); its helpers follow the camera's
exposure (`exposure`), learn ghosts at once (`ghosts`) and watch the camera's health
(`camera_health`: frozen, covered, moved, blurred). How and why: docs/motion.md.
"""

from __future__ import annotations

from edge_agent.motion.background import MotionDetector, MotionResult
from edge_agent.motion.camera_health import CameraAlert

__all__ = ["CameraAlert", "MotionDetector", "MotionResult"]
