"""Detector benchmark: accuracy (PETS09 frames 1–200, MOT17, LLVIP night) and speed.

    python benchmarks/detector.py [--quick]

Accuracy: person precision / recall at IoU 0.5 (greedy by score) and AP50 on PETS09 `vtest.avi`
frames 1–200 (AP50 over every detection above the row's floor: 0.2 for plain rows, the
configured least score for the operating point, whose curve is therefore cut). "plain" rows:
the bare model on the full frame at one score threshold (no track
support, no box voting, no mirrored view). "crops" rows: the detector at its configured operating
point (config defaults), driven by the project's own motion stage and tracker, without the
inference cap (every frame may run). Precision is given strictly and with unmatched detections
under 45 px tall ignored: the ground truth annotates nobody under 52 px, so the people walking on
the far path at the top (35–40 px) count as false positives in the strict figure. Speed: one
inference, median and p95, at 320 and 416, fp32 and int8, 1 and 2 threads; and detector
milliseconds per video frame over the whole `vtest.avi` replay in crop mode (default config,
with its inference cap) against a full-frame pass at 416 on every frame. Prints tables, writes
benchmarks/results/detector.json.
"""

from __future__ import annotations

import argparse
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from common import DATA, THIRD, match, mot_boxes, need, pr_ap, table, third_scale_vtest, timing, write

from edge_agent import config
from edge_agent.config import DetectorConfig
from edge_agent.detection.detector import Detector, models_dir
from edge_agent.detection.nanodet import NanoDet
from edge_agent.geometry import Box, iou, iou_matrix
from edge_agent.labels import family
from edge_agent.motion.background import MotionDetector
from edge_agent.sources import open_file
from edge_agent.sources.base import Frame, small_gray
from edge_agent.tracking.tracker import Tracker

MODELS = {"fp32": "nanodet-g.onnx", "int8": "nanodet-g-int8.onnx"}
EVAL_FLOOR = 0.2
IGNORE_BELOW_PX = 45.0  # unmatched detections shorter than this are not counted (see above)


def match_ignoring_small(
    dets: Sequence[tuple[Box, float]], gts: Sequence[Box], below: float = IGNORE_BELOW_PX
) -> list[tuple[float, bool]]:
    order = sorted(dets, key=lambda d: -d[1])
    return [r for d, r in zip(order, match(order, gts), strict=True) if r[1] or d[0][3] - d[0][1] >= below]


def pets_accuracy(
    model: str, mode: str, size: int, threshold: float | None, video: Path | None = None, **kw: object
) -> dict:
    """threshold None: the detector's own operating point; else the plain model at that score.
    `video`: a scaled copy of vtest.avi (`third_scale_vtest`), its ground truth scaled with it."""
    gt = mot_boxes(need("pets09_s2l1_vtest/gt_frames_0001-0200.txt"))
    scale = 1.0
    if video is not None:
        scale = THIRD
        gt = {f: [tuple(v * scale for v in b) for b in bs] for f, bs in gt.items()}  # type: ignore[misc]
    settings = config.load(None)
    base = settings.detector.model_dump()
    plain = {}
    if threshold is not None:
        plain = {"min_score": EVAL_FLOOR, "track_min_score": None, "box_voting": False, "flip": False}
    cfg = DetectorConfig(
        **{
            **base,
            "model": MODELS[model],
            "mode": mode,
            "input_size": size,
            "max_inferences_per_s": 1000,
            **plain,
            **kw,
        }
    )
    det = Detector(cfg)
    tracker = Tracker(settings.tracker)
    motion = None
    strict, lenient, n_gt = [], [], 0
    for f in open_file(video or need("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
        if f.index >= 200:
            break
        motion = motion or MotionDetector(settings.motion, f.width, f.height)
        moved = motion.process(f)
        found = det.detect(f, moved.boxes, tracker.moving_boxes())
        # AP50 is scored on every detection from the floor up; P and R at the threshold.
        people = [(d.box, d.score) for d in (found or []) if d.label == "person"]
        if found is not None and threshold is not None:
            found = [d for d in found if d.score >= threshold or d.label != "person"]
        tracker.update(f, found)
        g = gt.get(f.index, [])
        n_gt += len(g)
        strict += match(people, g)
        lenient += match_ignoring_small(people, g, IGNORE_BELOW_PX * scale)
    th = 0.0 if threshold is None else threshold
    ignoring = pr_ap(lenient, n_gt, th)
    point = f"plain, score >= {threshold:.2f}" if threshold is not None else "operating point"
    return {
        "video": "vtest (1/3 scale)" if video is not None else "vtest",
        "model": model,
        "mode": mode,
        "size": size if mode == "full" else cfg.crop_size,
        "flip": cfg.flip,
        "how": point,
        "inferences": det.inferences,
        **pr_ap(strict, n_gt, th),
        "precision_ign45": ignoring["precision"],
    }


def stills_accuracy(model: str, size: int, threshold: float) -> list[dict]:
    """The bare model on the full frame (no tracks on stills), with the configured box voting."""
    rows = []
    net = NanoDet(models_dir() / MODELS[model], 1, None)
    vote = DetectorConfig().box_voting
    mot = DATA / "mot17_mini"
    scored, n_gt = [], 0
    for seq in sorted(p for p in mot.iterdir() if p.is_dir()) if mot.is_dir() else []:
        gt = mot_boxes(seq / "gt" / "gt.txt", person_only=True)
        for img_path in sorted((seq / "img1").glob("*.jpg")):
            frame_index = int(img_path.stem) - 1
            img = cv2.imread(str(img_path))
            boxes, scores, _classes = net.infer(img, size, EVAL_FLOOR, np.array([0]), 0.5, vote=vote)
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
        boxes, scores, _ = net.infer(img, size, EVAL_FLOOR, np.array([0]), 0.5, vote=vote)
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
    variants = {
        "crops (default cap)": {"mode": "crops"},
        "last round's crops (default cap)": {"mode": "crops", "crop_context": 0.0, "min_box_px": 8.0},
        "crops + flip (default cap)": {"mode": "crops", "flip": True},
        "full 416, every frame": {
            "mode": "full",
            "max_inferences_per_s": 1000,
            "input_size": 416,
            "flip": False,
        },
    }
    for label, extra in variants.items():
        cfg = DetectorConfig(**{**settings.detector.model_dump(), "model": MODELS[model], **extra})
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
        rows.append(
            {
                "model": model,
                "mode": label,
                "frames": frames,
                "inferences": det.inferences,
                "input_kpx_per_frame": round(det.input_px_total / 1000 / frames, 1),
                "model_ms_per_frame": round(det.inference_ms_total / frames, 2),
                "detector_ms_per_frame": round(t * 1000 / frames, 2),
            }
        )
    return rows


LOSS_VIDEOS = {
    "vtest.avi": "pets09_s2l1_vtest/vtest.avi",
    "car-detection.mp4": "intel_car_detection/car-detection.mp4",
    "highway": "cdnet_highway/highway_video03.avi",
}


def crop_losses(name: str, **kw: object) -> dict:
    """Every frame: full-frame detections (int8, 416, score >= 0.6) at least half under motion
    boxes that crop mode (cap lifted) does not find at IoU 0.5 (same label family)."""
    settings = config.load(None)
    cfg = DetectorConfig(**{**settings.detector.model_dump(), "max_inferences_per_s": 1000, **kw})
    det, tracker, motion = Detector(cfg), Tracker(settings.tracker), None
    covered = lost = 0
    for f in open_file(need(LOSS_VIDEOS[name]), settings.motion.height).frames():
        motion = motion or MotionDetector(settings.motion, f.width, f.height)
        moved = motion.process(f)
        found = det.detect(f, moved.boxes, tracker.moving_boxes())
        tracker.update(f, found)
        mask = np.zeros((f.height, f.width), bool)
        for b in moved.boxes:
            mask[int(b[1]) : int(np.ceil(b[3])), int(b[0]) : int(np.ceil(b[2]))] = True
        boxes, _scores, classes = det.net.infer(f.image, 416, 0.6, det.class_ids, 0.5, vote=True)
        for box, cls in zip(boxes, classes, strict=True):
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            if mask[y1:y2, x1:x2].sum() < 0.5 * max((x2 - x1) * (y2 - y1), 1):
                continue
            covered += 1
            fam = family(det.names[int(cls)])
            same = [d.box for d in found or [] if family(d.label) == fam]
            lost += not same or float(iou_matrix([tuple(box)], same).max()) < 0.5
    how = ", ".join(f"{k}={v}" for k, v in kw.items()) or "shipped defaults"
    return {"video": name, "crops": how, "full_frame_found_under_motion": covered, "lost_by_crops": lost}


def night_rows() -> list[dict]:
    """LLVIP night pictures through the detector (full frame, shipped defaults): the profile it
    chose, annotated people found in 010005 (IoU 0.5; a rider's motorcycle box counts), and the
    largest person box over all seven pictures as a share of the frame."""
    ann = need("llvip_sample/annotations/010005.xml")
    gt = [
        tuple(float(o.findtext(f"bndbox/{k}") or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
        for o in ET.parse(ann).getroot().iter("object")
    ]
    rows = []
    for kind in ("visible", "grey (near-IR stand-in)", "thermal"):
        for night in (True, False):
            cfg = DetectorConfig(
                mode="full", sweep_interval_s=0, **({} if night else {"night_luma": 0.0, "night_chroma": 0.0})
            )
            found_gt, largest, profiles = 0, 0.0, set()
            for path in sorted(
                (DATA / "llvip_sample" / ("infrared" if kind == "thermal" else "visible")).glob("*.jpg")
            ):
                img = cv2.imread(str(path))
                if kind.startswith("grey"):
                    img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
                det = Detector(cfg)
                f = Frame(0, 0, datetime(2026, 11, 22, tzinfo=UTC), img, small_gray(img, 120))
                found = det.detect(f, [(0.0, 0.0, 1.0, 1.0)], []) or []
                profiles.add(det.profile)
                people = [d.box for d in found if d.label in ("person", "bicycle", "motorcycle")]
                for d in found:
                    if d.label == "person":
                        largest = max(
                            largest,
                            (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) / (img.shape[0] * img.shape[1]),
                        )
                if path.stem == "010005":
                    found_gt = sum(any(iou(p, g) >= 0.5 for p in people) for g in gt)  # type: ignore[arg-type]
            rows.append(
                {
                    "pictures": kind,
                    "profile": "/".join(sorted(profiles)) if night else "day (forced)",
                    "people_found_010005": f"{found_gt} of {len(gt)}",
                    "largest_person_box": round(largest, 3),
                }
            )
    return rows


SECTIONS = ("accuracy", "losses", "small", "night", "stills", "speed", "cost")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer timing runs")
    p.add_argument("--threshold", type=float, default=config.DetectorConfig().min_score)
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="sections to run")
    args = p.parse_args()
    cv2.setNumThreads(1)
    th = args.threshold
    out: dict[str, list[dict]] = {}
    cols = ["video", "model", "mode", "size", "flip", "how", "precision", "precision_ign45", "recall"]
    cols += ["ap50", "inferences"]
    if "accuracy" in args.only:
        out["accuracy_pets"] = acc = [
            pets_accuracy("fp32", "full", 320, th),
            pets_accuracy("fp32", "full", 416, th),
            pets_accuracy("int8", "full", 320, th),
            pets_accuracy("int8", "full", 416, th),
            pets_accuracy("fp32", "crops", 416, None),
            pets_accuracy("int8", "crops", 416, None),
            {
                **pets_accuracy("int8", "crops", 416, None, crop_context=0.0, min_box_px=8.0),
                "how": "op. point, last round's crops",
            },
            pets_accuracy("int8", "crops", 416, None, flip=True),
            {
                **pets_accuracy("int8", "crops", 416, None, track_min_score=0.3),
                "how": "op. point, tracks vouch from 0.3",
            },
        ]
        print("\nPETS09 vtest frames 1-200, person, IoU 0.5 (crops: default config unless shown, no cap)")
        print(table(acc, cols))
    if "small" in args.only:
        third = third_scale_vtest()
        out["accuracy_third_scale"] = small = [
            pets_accuracy("int8", "full", 416, th, video=third),
            pets_accuracy("int8", "crops", 416, None, video=third),
            {
                **pets_accuracy("int8", "crops", 416, None, video=third, crop_context=0.0, min_box_px=8.0),
                "how": "op. point, last round's crops",
            },
        ]
        print("\nvtest.avi scaled to 256x192 (people 17-50 px), frames 1-200, ground truth scaled")
        print(table(small, cols))
    if "losses" in args.only:
        out["crop_losses"] = losses = [
            r for v in LOSS_VIDEOS for r in (crop_losses(v), crop_losses(v, crop_context=0.0, min_box_px=8.0))
        ]
        print("\nFull-frame detections (int8 416, >= 0.6) under motion that crop mode (no cap) misses")
        print(table(losses, list(losses[0])))
    if "night" in args.only:
        out["night"] = night = night_rows()
        print("\nLLVIP night pictures (1280x1024), full frame 416, shipped defaults")
        print(table(night, list(night[0])))
    if "stills" in args.only:
        out["accuracy_stills"] = stills = [r for m in MODELS for r in stills_accuracy(m, 416, th)]
        print("\nStills (full frame)")
        print(table(stills, ["set", "model", "size", "precision", "recall", "ap50"]))
    if "speed" in args.only:
        runs = 10 if args.quick else 30
        out["speed"] = sp = [speed(m, s, t, runs) for m in MODELS for s in (320, 416) for t in (1, 2)]
        print("\nOne inference (cv2 1 thread; onnxruntime threads as shown)")
        print(table(sp, ["model", "size", "threads", "median_ms", "p95_ms"]))
    if "cost" in args.only:
        out["per_frame"] = cost = [r for m in MODELS for r in per_frame_cost(m)]
        print("\nDetector cost per video frame, whole vtest.avi (795 frames)")
        print(table(cost, list(cost[0])))
    print(f"\nwrote {write('detector', out)}")


if __name__ == "__main__":
    main()
