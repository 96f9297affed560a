"""Detector benchmark: accuracy (PETS09 frames 1–200, MOT17, LLVIP night) and speed.

    python benchmarks/detector.py [--quick]

Accuracy: person precision / recall at IoU 0.5 (greedy by score) at the configured score
threshold, and AP50, for full-frame 320 and 416 and for crop mode driven by the project's own
motion stage (and tracker), fp32 and int8. Speed: one inference, median and p95, at 320 and 416,
fp32 and int8, 1 and 2 threads; and detector milliseconds per video frame over the whole
`vtest.avi` replay in crop mode (with the default inference cap) against a full-frame pass at
416 on every frame. Prints tables, writes benchmarks/results/detector.json.
"""

from __future__ import annotations

import argparse
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np
from common import DATA, match, mot_boxes, need, pr_ap, table, timing, write

from edge_agent import config
from edge_agent.config import DetectorConfig
from edge_agent.detector import Detector, models_dir
from edge_agent.motion import MotionDetector
from edge_agent.nanodet import NanoDet
from edge_agent.sources import open_file
from edge_agent.tracker import Tracker

MODELS = {"fp32": "nanodet-g.onnx", "int8": "nanodet-g-int8.onnx"}
EVAL_FLOOR = 0.2


def detector(model: str, **kw: object) -> Detector:
    cfg = DetectorConfig(model=MODELS[model], min_score=EVAL_FLOOR, max_inferences_per_s=1000, **kw)  # type: ignore[arg-type]
    return Detector(cfg)


def pets_accuracy(model: str, mode: str, size: int, threshold: float) -> dict:
    gt = mot_boxes(need("pets09_s2l1_vtest/gt_frames_0001-0200.txt"))
    settings = config.load(None)
    det = detector(model, mode=mode, input_size=size, crop_size=min(size, 320) if mode == "crops" else 320)
    tracker = Tracker(settings.tracker)
    motion = None
    scored, n_gt = [], 0
    for f in open_file(need("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
        if f.index >= 200:
            break
        motion = motion or MotionDetector(settings.motion, f.width, f.height)
        moved = motion.process(f)
        found = det.detect(f, moved.boxes, tracker.moving_boxes())
        tracker.update(f, [d for d in found if d.score >= threshold] if found is not None else None)
        g = gt.get(f.index, [])
        n_gt += len(g)
        scored += match([(d.box, d.score) for d in (found or []) if d.label == "person"], g)
    return {
        "model": model,
        "mode": mode,
        "size": size,
        "threshold": threshold,
        "inferences": det.inferences,
        **pr_ap(scored, n_gt, threshold),
    }


def stills_accuracy(model: str, size: int, threshold: float) -> list[dict]:
    rows = []
    det = detector(model, mode="full", input_size=size)
    mot = DATA / "mot17_mini"
    scored, n_gt = [], 0
    for seq in sorted(p for p in mot.iterdir() if p.is_dir()) if mot.is_dir() else []:
        gt = mot_boxes(seq / "gt" / "gt.txt", person_only=True)
        for img_path in sorted((seq / "img1").glob("*.jpg")):
            frame_index = int(img_path.stem) - 1
            img = cv2.imread(str(img_path))
            boxes, scores, _classes = det.net.infer(img, size, EVAL_FLOOR, np.array([0]), 0.5)
            g = gt.get(frame_index, [])
            n_gt += len(g)
            scored += match([(tuple(b), float(s)) for b, s in zip(boxes, scores, strict=True)], g)
    if n_gt:
        rows.append({"set": "MOT17 (4 seqs)", "model": model, "size": size, **pr_ap(scored, n_gt, threshold)})
    ann = DATA / "llvip_sample" / "annotations" / "010005.xml"
    if ann.exists():
        g = []
        for obj in ET.parse(ann).getroot().iter("object"):
            bb = obj.find("bndbox")
            assert bb is not None
            g.append(tuple(float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")))  # type: ignore[union-attr,arg-type]
        img = cv2.imread(str(DATA / "llvip_sample" / "visible" / "010005.jpg"))
        boxes, scores, _ = det.net.infer(img, size, EVAL_FLOOR, np.array([0]), 0.5)
        scored = match([(tuple(b), float(s)) for b, s in zip(boxes, scores, strict=True)], g)  # type: ignore[arg-type]
        rows.append(
            {"set": "LLVIP night (visible)", "model": model, "size": size, **pr_ap(scored, len(g), threshold)}
        )
    return rows


def speed(model: str, size: int, threads: int, runs: int) -> dict:
    net = NanoDet(models_dir() / MODELS[model], threads, None)
    img = cv2.imread(str(need("stills/bus.jpg")))
    for _ in range(3):
        net.infer(img, size, 0.3, np.arange(80), 0.5)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        net.infer(img, size, 0.3, np.arange(80), 0.5)
        samples.append((time.perf_counter() - t0) * 1000)
    return {"model": model, "size": size, "threads": threads, **timing(samples)}


def per_frame_cost(model: str) -> list[dict]:
    """Detector ms per video frame over the whole vtest.avi: crop mode (default cap) vs full 416."""
    settings = config.load(None)
    rows = []
    for mode in ("crops", "full"):
        extra = {"max_inferences_per_s": 1000, "input_size": 416} if mode == "full" else {}
        cfg = DetectorConfig(
            **{**settings.detector.model_dump(), "model": MODELS[model], "mode": mode, **extra}
        )
        det = Detector(cfg)
        tracker = Tracker(settings.tracker)
        motion = None
        frames = 0
        t = 0.0
        for f in open_file(need("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
            motion = motion or MotionDetector(settings.motion, f.width, f.height)
            moved = motion.process(f)
            t0 = time.perf_counter()
            found = det.detect(f, moved.boxes, tracker.moving_boxes())
            t += time.perf_counter() - t0
            tracker.update(f, found)
            frames += 1
        label = "crops (default cap)" if mode == "crops" else "full 416, every frame"
        rows.append(
            {
                "model": model,
                "mode": label,
                "frames": frames,
                "inferences": det.inferences,
                "detector_ms_per_frame": round(t * 1000 / frames, 2),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer timing runs")
    p.add_argument("--threshold", type=float, default=config.DetectorConfig().min_score)
    args = p.parse_args()
    cv2.setNumThreads(1)
    th = args.threshold
    acc = [
        pets_accuracy(m, mode, size, th)
        for m in MODELS
        for mode, size in (("full", 320), ("full", 416), ("crops", 416))
    ]
    print(f"\nPETS09 vtest frames 1-200, person, IoU 0.5, score >= {th}")
    print(table(acc, ["model", "mode", "size", "precision", "recall", "ap50", "inferences"]))
    stills = [r for m in MODELS for r in stills_accuracy(m, 416, th)]
    print("\nStills (full frame)")
    print(table(stills, ["set", "model", "size", "precision", "recall", "ap50"]))
    runs = 10 if args.quick else 30
    sp = [speed(m, s, t, runs) for m in MODELS for s in (320, 416) for t in (1, 2)]
    print("\nOne inference (cv2 1 thread; onnxruntime threads as shown)")
    print(table(sp, ["model", "size", "threads", "median_ms", "p95_ms"]))
    cost = [r for m in MODELS for r in per_frame_cost(m)]
    print("\nDetector time per video frame, whole vtest.avi (795 frames)")
    print(table(cost, ["model", "mode", "frames", "inferences", "detector_ms_per_frame"]))
    path = write(
        "detector", {"accuracy_pets": acc, "accuracy_stills": stills, "speed": sp, "per_frame": cost}
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
