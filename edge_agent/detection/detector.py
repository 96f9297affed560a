"""The detector stage: NanoDet-g on crops around motion and live tracks (or the whole frame).

`detect(frame, motion_boxes, track_boxes)` decides whether and where to look this frame: not at
all when nothing moves and no track lives, or when the inferences-per-second cap is spent (the
tracker predicts then); on square crops around what moves; on the whole frame in "full" mode,
when the crops would cover most of it, and as a periodic sweep for things that stopped moving.

A detection is kept at its label's least score, or, when `track_min_score` is set, at that
lower score where it overlaps a live track box: a person seen well a moment ago who is now
partly hidden by another or by a post scores low, and the track vouches for them (what
ByteTrack does with low scores). Off by default: on vtest.avi it bought recall with precision.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_agent import shipped
from edge_agent.config import DetectorConfig
from edge_agent.detection.crops import Crop, plan
from edge_agent.detection.nanodet import ModelError, NanoDet, nms, sha256_of
from edge_agent.detection.profile import DayNight, Profile, brighten
from edge_agent.geometry import Box, iou_matrix
from edge_agent.labels import family
from edge_agent.sources import Frame

__all__ = ["Detection", "Detector", "ModelError"]


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    label: str
    score: float


def models_dir() -> Path:
    """The shipped models: inside the installed package, else the source tree's `models/`."""
    return shipped("models")


def resolve_model(model: Path) -> Path:
    if model.is_absolute() or model.parent != Path("."):
        return model
    return models_dir() / model


def shipped_sha256(path: Path) -> str | None:
    """The sha256 that `SHA256SUMS` beside the model lists for it, if any."""
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return None
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            return parts[0]
    return None


def read_labels(directory: Path) -> list[str]:
    path = directory / "labels.txt"
    if not path.is_file():
        raise ModelError(f"label list not found: {path} (reinstall edge-agent)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


class Detector:
    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        path = resolve_model(cfg.model)
        expected = cfg.sha256 or shipped_sha256(path)
        self.net = NanoDet(path, cfg.threads, expected)
        names = read_labels(path.parent if (path.parent / "labels.txt").is_file() else models_dir())
        unknown = [label for label in cfg.labels if label not in names]
        if unknown:
            raise ModelError(f"detector.labels: {unknown} are not labels of {path.name}")
        self.names = names
        self.class_ids = np.array([names.index(label) for label in cfg.labels], np.int64)
        families = sorted({family(n) for n in names})
        self.family_of = np.array([families.index(family(n)) for n in names], np.int64)
        self.min_score = {label: cfg.label_min_score.get(label, cfg.min_score) for label in cfg.labels}
        self.night_min_score = {
            label: cfg.night_label_min_score.get(label, cfg.night_min_score) for label in cfg.labels
        }
        self.floor = min(*self.min_score.values(), *self.night_min_score.values())
        self.day_night = DayNight(cfg.night_luma, cfg.night_chroma)
        if cfg.track_min_score is not None:
            self.floor = min(self.floor, cfg.track_min_score)
        digest = expected or sha256_of(path)
        self.model_id = f"{path.stem}-{cfg.input_size}@{digest[:8]}"
        self.inferences = 0
        self.inference_ms_total = 0.0
        self.input_px_total = 0  # model input pixels over all inferences: the cost that grows with size
        self.last_inference_ms = 0.0
        self._tokens = cfg.max_inferences_per_s
        self._last_ns: int | None = None
        self._last_sweep_ns: int | None = None

    @property
    def profile(self) -> Profile:
        """ "day" or "night" (IR, or dark): which score thresholds apply; for the stats."""
        return self.day_night.profile or "day"

    # -- deciding -------------------------------------------------------------------------

    def _refill(self, now_ns: int) -> None:
        if self._last_ns is not None:
            rate = self.cfg.max_inferences_per_s
            self._tokens = min(rate, self._tokens + (now_ns - self._last_ns) / 1e9 * rate)
        self._last_ns = now_ns

    def _sweep_due(self, now_ns: int) -> bool:
        interval = self.cfg.sweep_interval_s
        if interval <= 0:
            return False
        return self._last_sweep_ns is None or now_ns - self._last_sweep_ns >= interval * 1e9

    def detect(
        self, frame: Frame, motion_boxes: Sequence[Box], track_boxes: Sequence[Box]
    ) -> list[Detection] | None:
        """Detections in frame pixels, or None when the detector did not run this frame."""
        self._refill(frame.mono_ns)
        sweep = self._sweep_due(frame.mono_ns)
        if not (motion_boxes or track_boxes or sweep) or self._tokens < 1.0:
            return None
        self.day_night.observe(frame.image, frame.mono_ns)
        crops: list[Crop] | None = None
        if self.cfg.mode == "crops" and not sweep:
            crops = plan(
                [*motion_boxes, *track_boxes],
                frame.width,
                frame.height,
                padding=self.cfg.crop_padding,
                min_side=self.cfg.crop_min_side,
                merge_overlap=self.cfg.crop_merge_overlap,
                # Never more crops than the model runs in hand: past them, one look at the whole
                # frame. Spending ahead (four crops, then the detector blind for four tokens'
                # refill) made when it next looked depend on how many crops came before.
                max_crops=min(self.cfg.max_crops, int(self._tokens)),
                full_frame_area=self.cfg.full_frame_area,
                context=self.cfg.crop_context,
            )
        if crops is None:
            self._last_sweep_ns = frame.mono_ns
            crops, size = [(0, 0, frame.width, frame.height)], self.cfg.input_size
        else:
            size = self.cfg.crop_size
        return self._run(frame.image, crops, size, track_boxes)

    # -- running --------------------------------------------------------------------------

    def _inner_edge_cut(
        self, boxes: np.ndarray, x1: int, y1: int, x2: int, y2: int, width: int, height: int
    ) -> np.ndarray:
        """Boxes cut by a crop edge that is not a frame edge: a part of something larger."""
        m = self.cfg.crop_edge_px
        cut = np.zeros(len(boxes), bool)
        if x1 > 0:
            cut |= boxes[:, 0] <= m
        if y1 > 0:
            cut |= boxes[:, 1] <= m
        if x2 < width:
            cut |= boxes[:, 2] >= (x2 - x1) - m
        if y2 < height:
            cut |= boxes[:, 3] >= (y2 - y1) - m
        return cut

    def _run(
        self, image: np.ndarray, crops: Sequence[Crop], size: int, track_boxes: Sequence[Box]
    ) -> list[Detection]:
        all_boxes, all_scores, all_classes = [], [], []
        lut = brighten(self.day_night.luma, self.cfg.night_brighten_to) if self.profile == "night" else None
        for x1, y1, x2, y2 in crops:
            t0 = time.perf_counter()
            crop = image[y1:y2, x1:x2]
            boxes, scores, classes = self.net.infer(
                crop if lut is None else cv2.LUT(crop, lut),
                size,
                self.floor,
                self.class_ids,
                self.cfg.nms_iou,
                flip=self.cfg.flip,
                vote=self.cfg.box_voting,
            )
            self.last_inference_ms = (time.perf_counter() - t0) * 1000
            self.inference_ms_total += self.last_inference_ms
            self.inferences += 1
            self.input_px_total += size * size * (2 if self.cfg.flip else 1)
            self._tokens -= 1.0
            inner = self._inner_edge_cut(boxes, x1, y1, x2, y2, image.shape[1], image.shape[0])
            all_boxes.append(boxes[~inner] + np.array([x1, y1, x1, y1], np.float32))
            all_scores.append(scores[~inner])
            all_classes.append(classes[~inner])
        boxes = np.concatenate(all_boxes)
        scores = np.concatenate(all_scores)
        classes = np.concatenate(all_classes)
        # One object seen by two overlapping crops, or as car and bus at once: keep the best.
        keep, boxes = nms(boxes, scores, self.family_of[classes], self.cfg.nms_iou, self.cfg.box_voting)
        scores, classes = scores[keep], classes[keep]
        vouched = self._on_tracks(boxes, track_boxes)
        thresholds = self.night_min_score if self.profile == "night" else self.min_score
        largest_person = self.cfg.max_person_area * image.shape[0] * image.shape[1]
        out = []
        for box, score, cls, on_track in zip(boxes, scores, classes, vouched, strict=True):
            label = self.names[int(cls)]
            least = thresholds[label]
            if on_track and self.cfg.track_min_score is not None:
                least = min(least, self.cfg.track_min_score)
            w, h = box[2] - box[0], box[3] - box[1]
            if score < least or min(w, h) < self.cfg.min_box_px:
                continue
            if label == "person" and w * h > largest_person:
                continue  # bigger than anyone can be at a pole camera: a dark or grey patch
            out.append(
                Detection((float(box[0]), float(box[1]), float(box[2]), float(box[3])), label, float(score))
            )
        return out

    def _on_tracks(self, boxes: np.ndarray, track_boxes: Sequence[Box]) -> np.ndarray:
        """Which boxes overlap a live track box by at least `track_iou`."""
        if self.cfg.track_min_score is None or not len(track_boxes) or not len(boxes):
            return np.zeros(len(boxes), bool)
        return iou_matrix(boxes, track_boxes).max(axis=1) >= self.cfg.track_iou
