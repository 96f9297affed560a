"""The tracker on ground-truth boxes of real video, with the detector's gaps and jitter."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np

from edge_agent import config
from edge_agent.config import Settings, TrackerConfig
from edge_agent.detection.detector import Detection, Detector
from edge_agent.geometry import iou
from edge_agent.motion.background import MotionDetector
from edge_agent.sources import open_file
from edge_agent.sources.base import Frame
from edge_agent.tracking.tracker import Track, Tracker, assign_riders
from tests.conftest import shared

BLANK = np.zeros((576, 768, 3), np.uint8)


def frame(i: int, fps: float = 10.0) -> Frame:
    return Frame(i, int(i * 1e9 / fps), datetime(2026, 11, 22, tzinfo=UTC), BLANK, BLANK[:120, :160, 0])


def gt() -> dict[int, list[tuple[int, tuple[float, float, float, float]]]]:
    out: dict[int, list] = defaultdict(list)
    for line in shared("pets09_s2l1_vtest/gt_frames_0001-0200.txt").read_text().splitlines():
        f = line.split(",")
        x, y, w, h = (float(v) for v in f[2:6])
        out[int(f[0]) - 1].append((int(f[1]), (x, y, x + w, y + h)))
    return out


def test_ids_are_stable_through_gaps_and_jitter() -> None:
    rng = np.random.default_rng(1)
    truth = gt()
    tracker = Tracker(TrackerConfig())
    seen: dict[int, Counter[int]] = defaultdict(Counter)  # track id → ground-truth ids it covered
    for i in range(200):
        if i % 3 == 1:  # the detector did not run: predict only
            out = tracker.update(frame(i), None)
        else:
            dets = []
            for _, (x1, y1, x2, y2) in truth[i]:
                if rng.random() < 0.15:  # missed
                    continue
                j = rng.normal(0, 2, 4)
                dets.append(Detection((x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3]), "person", 0.8))
            out = tracker.update(frame(i), dets)
        for t in out.active:
            if t.seen_this_frame:
                gid = max(truth[i], key=lambda g: _overlap(g[1], t.box))[0]
                seen[t.id][gid] += 1
    owners = {tid: c.most_common(1)[0][0] for tid, c in seen.items()}
    per_identity = Counter(owners.values())
    assert set(per_identity) == {gid for rows in truth.values() for gid, _ in rows if _visible(truth, gid)}
    assert max(per_identity.values()) <= 2
    assert sum(per_identity.values()) <= 1.25 * len(per_identity)


def _overlap(a: tuple, b: tuple) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def _visible(truth: dict, gid: int) -> bool:
    return sum(1 for rows in truth.values() for g, _ in rows if g == gid) >= 20


def test_confirmation_and_end_after_unseen() -> None:
    tracker = Tracker(TrackerConfig(confirm_hits=3, max_unseen_s=1.0))
    box = (100.0, 100.0, 140.0, 200.0)
    outs = [tracker.update(frame(i), [Detection(box, "car", 0.9)]) for i in range(3)]
    assert not outs[0].active and not outs[1].active and len(outs[2].active) == 1
    ended = [t for i in range(3, 20) for t in tracker.update(frame(i), []).ended]
    assert len(ended) == 1 and ended[0].id == outs[2].active[0].id


def test_a_parked_car_becomes_stationary_and_lives_long() -> None:
    tracker = Tracker(TrackerConfig(stationary_after_s=3.0, max_unseen_s=1.0, stationary_max_unseen_s=60))
    box = (300.0, 300.0, 420.0, 380.0)
    for i in range(50):
        out = tracker.update(frame(i), [Detection(box, "car", 0.7)])
    assert out.active[0].stationary
    for i in range(50, 500):  # 45 s without detections: parked cars are only seen by sweeps
        out = tracker.update(frame(i), None if i % 2 else [])
    assert out.active and not out.ended


def test_riders_belong_to_their_motorbike() -> None:
    bike = Detection((200.0, 250.0, 260.0, 330.0), "motorcycle", 0.8)
    rider = Detection((205.0, 200.0, 255.0, 300.0), "person", 0.9)
    walker = Detection((400.0, 200.0, 440.0, 320.0), "person", 0.9)
    kept, riders = assign_riders([bike, rider, walker], 0.4)
    assert kept == [bike, walker] and riders == {0: 1}
    tracker = Tracker(TrackerConfig(confirm_hits=1))
    out = tracker.update(frame(0), [bike, rider, walker])
    by_label = {t.label: t for t in out.active}
    assert by_label["motorcycle"].riders == 1 and "person" in by_label
    assert len(out.active) == 2


def run_vtest(settings: Settings, first: int, last: int) -> list[Track]:
    """The real motion stage, detector (shipped defaults) and tracker over vtest.avi frames
    `first`-`last` (the background learned over the 40 frames before): every confirmed track."""
    det, tracker, motion = Detector(settings.detector), Tracker(settings.tracker), None
    confirmed: dict[int, Track] = {}
    for f in open_file(shared("pets09_s2l1_vtest/vtest.avi"), settings.motion.height).frames():
        if f.index > last:
            break
        if f.index < first - 40:
            continue
        motion = motion or MotionDetector(settings.motion, f.width, f.height)
        moved = motion.process(f)
        out = tracker.update(f, det.detect(f, moved.boxes, tracker.moving_boxes()))
        confirmed.update({t.id: t for t in out.active})
    return list(confirmed.values())


CONE = (161.0, 184.0, 177.0, 207.0)  # the yellow traffic cone at the left of the PETS09 scene


def test_a_static_false_positive_that_never_moved_is_never_confirmed() -> None:
    """The cone scores 0.36-0.50 as a person while walkers pass it (frames 200-235), by CPU and
    library version: it has not moved since it appeared and the median of its scores stays under
    0.55, so its track is never confirmed (no event), while the walkers are; without the rule it
    is confirmed. The rule is checked with the detector's least score at 0.30, so that the cone
    is detected on every CPU (at the shipped 0.45 some kernels score it just under, some just
    over); once, a walker's box strayed onto it: one stray box is no movement."""
    settings = config.load(None)
    tracks = run_vtest(settings, 200, 235)
    assert not [t for t in tracks if iou(t.box, CONE) > 0.3]
    assert len([t for t in tracks if t.label == "person"]) >= 5
    low = settings.model_copy(update={"detector": settings.detector.model_copy(update={"min_score": 0.3})})
    assert not [t for t in run_vtest(low, 200, 235) if iou(t.box, CONE) > 0.3]
    off = settings.tracker.model_copy(update={"still_threshold": 0.0})
    before = run_vtest(low.model_copy(update={"tracker": off}), 200, 235)
    cone = [t for t in before if iou(t.box, CONE) > 0.3]
    assert cone and not cone[0].moved and statistics.median(cone[0].scores) < 0.5


def walker(identity: int) -> dict[int, tuple[float, float, float, float]]:
    return {f: box for f, people in gt().items() for i, box in people if i == identity}


def bike_beside(
    person: tuple[float, float, float, float], side: float = 1.0
) -> tuple[float, float, float, float]:
    """A bicycle wheeled at the person's side: 1.6 person widths long, 0.55 of their height,
    on the same ground line, touching them."""
    w, h = person[2] - person[0], person[3] - person[1]
    x = person[2] - 0.2 * w if side > 0 else person[0] - 1.4 * w
    return (x, person[3] - 0.55 * h, x + 1.6 * w, person[3])


def run_pairs(dets_of: dict[int, list[Detection]], frames: int) -> tuple[list, list]:
    tracker = Tracker(TrackerConfig())
    started, ended = {}, []
    for i in range(frames):
        out = tracker.update(frame(i), dets_of.get(i, []))
        started.update({t.id: t for t in out.active})
        ended += out.ended
    ended += tracker.end_all()
    return list(started.values()), ended


def test_a_person_walking_a_bicycle_is_one_event_with_a_rider() -> None:
    """PETS09 walker 9 (frames 1-200, ground truth as the detections) wheels a bicycle at their
    side, the bicycle detected in every other frame (as under the inference cap): one confirmed
    track, the bicycle, with riders 1; when the bicycle is first seen only after the person's
    event started, still one track (the person's). Walker 15 passes a parked bicycle: two.
    (No footage of a bike being pushed is in the shared data: the walks are real, the bicycle
    boxes are placed beside them.)"""
    nine = walker(9)
    for first, label in ((1, "bicycle"), (30, "person")):
        dets: dict[int, list[Detection]] = {f: [Detection(b, "person", 0.8)] for f, b in nine.items()}
        for f, b in nine.items():
            if f >= first and f % 2:
                dets[f].append(Detection(bike_beside(b), "bicycle", 0.55))
        tracks, _ = run_pairs(dets, 200)
        assert [t.label for t in tracks] == [label]
    tracks, _ = run_pairs(
        {
            f: [Detection(b, "person", 0.8), Detection(bike_beside(b), "bicycle", 0.5)]
            for f, b in nine.items()
            if f % 2
        },
        200,
    )
    assert [t.label for t in tracks] == ["bicycle"] and tracks[0].riders == 1
    fifteen = walker(15)
    parked = bike_beside(fifteen[100])
    passing = {
        f: [Detection(b, "person", 0.8), Detection(parked, "bicycle", 0.55)] for f, b in fifteen.items()
    }
    tracks, _ = run_pairs(passing, 200)
    assert sorted(t.label for t in tracks) == ["bicycle", "person"]


def test_a_second_box_on_a_tracked_walker_starts_no_track() -> None:
    """PETS09 walker 19 (ground truth as the detections) with a second, overlapping box of them
    in every fifth frame (two boxes of one walker that the NMS kept, as in vtest frame 112):
    one track throughout; with the rule off, the second box starts a track of its own."""
    nineteen = walker(19)
    dets = {f: [Detection(b, "person", 0.8)] for f, b in nineteen.items()}
    for f, b in nineteen.items():
        if f % 5 == 0:
            w = b[2] - b[0]
            dets[f].append(Detection((b[0] + 0.3 * w, b[1] + 4, b[2] + 0.3 * w, b[3] + 4), "person", 0.6))
    tracker = Tracker(TrackerConfig())
    off = Tracker(TrackerConfig(duplicate_iou=1.0))
    for i in range(150):
        tracker.update(frame(i), dets.get(i, []))
        off.update(frame(i), dets.get(i, []))
        assert len(tracker.tracks) == 1
    assert max(t.id for t in off.tracks) > 1
