"""Where the detector looks: crop plans on boxes, and on the real motion of a real video."""

from __future__ import annotations

from edge_agent import config
from edge_agent.detection.crops import plan
from edge_agent.detection.detector import Detector
from edge_agent.geometry import Box, area, intersection, iou
from edge_agent.motion.background import MotionDetector
from edge_agent.sources import open_file
from edge_agent.tracking.tracker import Tracker
from tests.conftest import shared

KW = {"padding": 0.25, "min_side": 256, "merge_overlap": 0.3, "max_crops": 4, "full_frame_area": 0.6}


def inside(box: Box, crop: tuple[int, int, int, int]) -> bool:
    return crop[0] <= box[0] and crop[1] <= box[1] and box[2] <= crop[2] and box[3] <= crop[3]


def test_crop_plan_merges_clips_and_falls_back_to_full_frame() -> None:
    crops = plan([(100, 100, 130, 180), (120, 110, 150, 190)], 768, 576, **KW)
    assert crops is not None and len(crops) == 1
    x1, y1, x2, y2 = crops[0]
    assert x2 - x1 == y2 - y1 >= 256 and x1 >= 0 and y1 >= 0 and x2 <= 768 and y2 <= 576
    corner = plan([(740, 540, 768, 576)], 768, 576, **KW)
    assert corner is not None and corner[0][2] == 768 and corner[0][3] == 576  # moved inside
    apart = plan([(10, 10, 40, 90), (700, 480, 730, 560)], 768, 576, **KW)
    assert apart is not None and len(apart) == 2
    assert plan([(0, 0, 700, 100)], 768, 576, **KW) is None  # wider than any square crop
    assert plan([], 768, 576, **KW) == []
    many = [(x, 10.0, x + 20.0, 60.0) for x in range(0, 760, 150)]  # spread across the top
    assert plan(many, 768, 576, **{**KW, "max_crops": 2}) is None  # too many crops: full frame


def test_crops_from_real_motion_hold_the_walking_people() -> None:
    """PETS09: crops planned on the motion stage's boxes hold most annotated people whole
    (crops forced: no fallback to the full frame here)."""
    gt: dict[int, list[Box]] = {}
    for line in shared("pets09_s2l1_vtest/gt_frames_0001-0200.txt").read_text().splitlines():
        f = line.split(",")
        x, y, w, h = (float(v) for v in f[2:6])
        gt.setdefault(int(f[0]) - 1, []).append((x, y, x + w, y + h))
    settings = config.load(None)
    cfg = settings.detector
    motion = None
    held = total = 0
    for frame in open_file(shared("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
        if frame.index > 80:
            break
        motion = motion or MotionDetector(settings.motion, frame.width, frame.height)
        boxes = motion.process(frame).boxes
        if frame.index < 40 or frame.index % 10:
            continue  # the background settles first; then every tenth frame
        crops = plan(
            boxes,
            frame.width,
            frame.height,
            padding=cfg.crop_padding,
            min_side=cfg.crop_min_side,
            merge_overlap=cfg.crop_merge_overlap,
            max_crops=16,
            full_frame_area=2.0,
        )
        assert crops is not None
        for g in gt.get(frame.index, []):
            total += 1
            held += any(inside(g, c) for c in crops)
        assert all(
            c[2] - c[0] == c[3] - c[1]
            and c[0] >= 0
            and c[1] >= 0
            and c[2] <= frame.width
            and c[3] <= frame.height
            for c in crops
        )
    assert total > 20 and held >= 0.8 * total, f"{held} of {total} people inside a crop"


def test_a_crop_never_loses_the_walker_the_whole_frame_finds() -> None:
    """PETS09 frames 465-502: a walker about 120 px tall, scored ~0.8 by the full frame at 416,
    was lost inside his 256 px crop (27 misses, shipped defaults before crop_context). Each crop
    is now at least `crop_context` times the largest object it holds: nothing under motion that
    the whole frame finds at >= 0.6 is lost."""
    settings = config.load(None)
    cfg = settings.detector.model_copy(update={"max_inferences_per_s": 1000.0})
    crops, full = Detector(cfg), Detector(cfg.model_copy(update={"mode": "full"}))
    tracker = Tracker(settings.tracker)
    motion = None
    checked = lost = 0
    for frame in open_file(shared("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
        if frame.index > 502:
            break
        if frame.index < 420:
            continue  # the background is learned over the 45 frames before the stretch
        motion = motion or MotionDetector(settings.motion, frame.width, frame.height)
        moved = motion.process(frame)
        found = crops.detect(frame, moved.boxes, tracker.moving_boxes())
        tracker.update(frame, found)
        if frame.index < 465:
            continue
        b, _scores, _classes = full.net.infer(frame.image, 416, 0.6, full.class_ids[:1], 0.5, vote=True)
        for box in b:
            under = sum(intersection(tuple(box), m) for m in moved.boxes)
            if under < 0.5 * area(tuple(box)):
                continue  # motion did not cover it: crops are not asked to look there
            checked += 1
            people = [d.box for d in found or [] if d.label == "person"]
            lost += not any(iou(tuple(box), p) >= 0.5 for p in people)
    assert checked >= 30 and lost == 0, f"{lost} of {checked} lost"


def test_a_crop_is_at_least_context_times_its_largest_object() -> None:
    walker = (300.0, 200.0, 340.0, 320.0)  # 120 px tall
    crops = plan([walker], 768, 576, **KW, context=3.0)
    assert crops is not None and crops[0][2] - crops[0][0] == 360
    assert plan([walker], 768, 576, **KW)[0][2] - plan([walker], 768, 576, **KW)[0][0] == 256  # type: ignore[index]
