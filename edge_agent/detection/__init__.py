"""Stage 3, detection: NanoDet-g where motion or a live track is, on crops or the whole frame.

`Detector.detect(frame, motion_boxes, track_boxes) -> list[Detection] | None` (`detector`); the
ONNX model and its decoding (`nanodet`); where to look (`crops`).
"""

from __future__ import annotations

from edge_agent.detection.detector import Detection, Detector, ModelError

__all__ = ["Detection", "Detector", "ModelError"]
