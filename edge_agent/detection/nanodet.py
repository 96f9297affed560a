"""NanoDet-g through onnxruntime: one session, letterbox, GFL decoding, per-class NMS.

The model (see models/README.md): input `images` float32 [1, 3, H, W], H and W multiples of
32, BGR, (pixel - mean) / std; outputs per stride s ∈ {8, 16, 32}: `cls_s{s}` [1, cells, 80]
(sigmoid applied) and `reg_s{s}` [1, cells, 44] (4 sides × 11 bins of a distance distribution).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edge_agent.detection.area import area_shrink
from edge_agent.geometry import iou_matrix

MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)
STRIDES = (8, 16, 32)
REG_BINS = 11
NUM_CLASSES = 80
PAD_VALUE = 114


class ModelError(RuntimeError):
    """The model file is missing, damaged or not the model expected: the message names it."""


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a crop was fitted into the model input: scale, then offset by (dx, dy)."""

    scale: float
    dx: int
    dy: int


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_session(path: Path, threads: int, expected_sha256: str | None) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"model file not found: {path} (reinstall edge-agent, or fix detector.model)")
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise ModelError(
                f"model file {path} is damaged or not the expected model: sha256 {actual[:16]}…, "
                f"expected {expected_sha256[:16]}… (copy the file again, or set detector.sha256)"
            )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        raise ModelError(f"model file {path} cannot be loaded by onnxruntime: {exc}") from None
    inputs = session.get_inputs()
    outputs = {o.name for o in session.get_outputs()}
    wanted = {f"{k}_s{s}" for s in STRIDES for k in ("cls", "reg")}
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3 or not wanted <= outputs:
        raise ModelError(
            f"model file {path} is not a NanoDet-style detector: expected one input [1, 3, H, W] and "
            f"outputs {sorted(wanted)}, found input {inputs[0].shape if inputs else None} "
            f"and outputs {sorted(outputs)}"
        )
    return session


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Fit `image` into a size×size square, aspect kept, padded grey; NCHW float32 normalised."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if scale < 1:
        resized = area_shrink(image, nw, nh)  # the same bits on every CPU (detection/area.py)
    else:
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    dx, dy = (size - nw) // 2, (size - nh) // 2
    canvas[dy : dy + nh, dx : dx + nw] = resized
    blob = (canvas.astype(np.float32) - MEAN) / STD
    return blob.transpose(2, 0, 1)[None], Letterbox(scale, dx, dy)


def _softmax_expectation(reg: np.ndarray) -> np.ndarray:
    """reg [n, 44] → expected distance in bins for each of the 4 sides, [n, 4]."""
    r = reg.reshape(-1, 4, REG_BINS)
    r = np.exp(r - r.max(axis=2, keepdims=True))
    r /= r.sum(axis=2, keepdims=True)
    return r @ np.arange(REG_BINS, dtype=np.float32)


def decode(
    outputs: dict[str, np.ndarray], size: int, min_score: float, class_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [n, 4] (input pixels), scores [n], classes [n] above `min_score` for `class_ids`."""
    boxes, scores, classes = [], [], []
    for s in STRIDES:
        cls = outputs[f"cls_s{s}"][0][:, class_ids]
        best = cls.argmax(axis=1)
        best_score = cls[np.arange(len(cls)), best]
        keep = np.nonzero(best_score >= min_score)[0]
        if keep.size == 0:
            continue
        cols = size // s
        cx = (keep % cols + 0.5) * s
        cy = (keep // cols + 0.5) * s
        dist = _softmax_expectation(outputs[f"reg_s{s}"][0][keep]) * s
        boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1))
        scores.append(best_score[keep])
        classes.append(class_ids[best[keep]])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, vote: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class non-maximum suppression, best score first: (indices kept, their boxes).

    With `vote`, each kept box is the score-weighted mean of the boxes it suppresses (box
    voting): neighbouring cells and mirrored views agree on the edges better than any one box.
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64), boxes
    alive = np.ones(len(boxes), bool)
    kept_boxes, kept = [], []
    # Best first; equal scores (int8 outputs take few values) in index order. A plain argsort's
    # ties fall where the CPU's sort puts them (numpy sorts with AVX-512 where there is one), and
    # which of two equal boxes is kept changed an event between CPUs.
    for i in np.argsort(-scores, kind="stable"):
        if not alive[i]:
            continue
        group = alive & (classes == classes[i]) & (iou_matrix(boxes[i : i + 1], boxes)[0] > iou)
        group[i] = True
        if vote:
            weights = scores[group]
            kept_boxes.append((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum())
        else:
            kept_boxes.append(boxes[i])
        kept.append(int(i))
        alive &= ~group
    return np.asarray(kept, np.int64), np.asarray(kept_boxes, np.float32).reshape(-1, 4)


class NanoDet:
    """One onnxruntime session; `infer(image, size)` → boxes in `image` pixels, scores, classes."""

    def __init__(self, path: Path, threads: int, expected_sha256: str | None) -> None:
        self.path = path
        self.session = load_session(path, threads, expected_sha256)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def infer(
        self,
        image: np.ndarray,
        size: int,
        min_score: float,
        class_ids: np.ndarray,
        nms_iou: float,
        *,
        flip: bool = False,
        vote: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes in `image` pixels, scores, classes. `flip`: also run the mirrored image and
        fuse both views (twice the cost); `vote`: box voting in the NMS."""
        blob, lb = letterbox(image, size)
        views = [blob, blob[..., ::-1].copy()] if flip else [blob]
        found = []
        for k, view in enumerate(views):
            outputs = dict(
                zip(
                    self.output_names,
                    self.session.run(self.output_names, {self.input_name: view}),
                    strict=True,
                )
            )
            boxes, scores, classes = decode(outputs, size, min_score, class_ids)
            if k == 1:  # mirrored back
                boxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], 1)
            found.append((boxes, scores, classes))
        boxes, scores, classes = (np.concatenate(parts) for parts in zip(*found, strict=True))
        keep, boxes = nms(boxes, scores, classes, nms_iou, vote)
        scores, classes = scores[keep], classes[keep]
        boxes = (boxes - np.array([lb.dx, lb.dy, lb.dx, lb.dy], np.float32)) / lb.scale
        h, w = image.shape[:2]
        return np.clip(boxes, 0, [w, h, w, h]), scores, classes
