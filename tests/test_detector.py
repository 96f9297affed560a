"""The detector on real frames with the real model: decoding, crops, labels, model errors."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import DetectorConfig
from edge_agent.detection.detector import Detector, ModelError, models_dir
from edge_agent.detection.nanodet import nms
from edge_agent.geometry import iou
from edge_agent.sources.base import Frame, small_gray
from tests.conftest import shared


def frame_of(image: np.ndarray, index: int = 0, t_s: float = 0.0) -> Frame:
    return Frame(index, int(t_s * 1e9), datetime(2026, 11, 22, tzinfo=UTC), image, small_gray(image, 120))


def vtest_frame(n: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared("pets09_s2l1_vtest/vtest.avi")))
    for _ in range(n):
        cap.read()
    ok, img = cap.read()
    assert ok
    return img


def gt_boxes(frame_index: int) -> list[tuple[float, float, float, float]]:
    rows = shared("pets09_s2l1_vtest/gt_frames_0001-0200.txt").read_text().splitlines()
    out = []
    for line in rows:
        f = line.split(",")
        if int(f[0]) - 1 == frame_index:
            x, y, w, h = (float(v) for v in f[2:6])
            out.append((x, y, x + w, y + h))
    return out


@pytest.mark.parametrize("model", ["nanodet-g.onnx", "nanodet-g-int8.onnx"])
def test_full_frame_finds_the_people_of_a_real_frame(model: str) -> None:
    det = Detector(DetectorConfig(model=Path(model), mode="full", sweep_interval_s=0))
    found = det.detect(frame_of(vtest_frame(50)), [(0, 0, 10, 10)], [])
    assert found is not None
    people = [d for d in found if d.label == "person"]
    truth = gt_boxes(50)
    matched = sum(any(iou(d.box, g) >= 0.5 for d in people) for g in truth)
    assert matched >= 0.7 * len(truth)
    assert all(0 <= d.box[0] < d.box[2] <= 768 and 0 <= d.box[1] < d.box[3] <= 576 for d in found)
    assert det.model_id.startswith("nanodet-g") and "@" in det.model_id


def test_crops_map_back_to_frame_coordinates() -> None:
    img = vtest_frame(50)
    full = Detector(DetectorConfig(mode="full", sweep_interval_s=0)).detect(frame_of(img), [(0, 0, 1, 1)], [])
    assert full
    best = max((d for d in full if d.label == "person"), key=lambda d: d.score)
    target = max(gt_boxes(50), key=lambda g: iou(g, best.box))  # a clearly visible person
    det = Detector(DetectorConfig(sweep_interval_s=0, max_inferences_per_s=100))
    found = det.detect(frame_of(img), [target], [])
    assert found is not None and det.inferences == 1  # one crop, not the whole frame
    assert any(d.label == "person" and iou(d.box, target) >= 0.5 for d in found)


def test_no_motion_no_tracks_no_inference_and_the_rate_cap() -> None:
    img = vtest_frame(10)
    det = Detector(DetectorConfig(sweep_interval_s=0, max_inferences_per_s=2))
    assert det.detect(frame_of(img), [], []) is None
    box = [(300.0, 200.0, 340.0, 300.0)]
    ran = [det.detect(frame_of(img, i, i * 0.1), box, []) is not None for i in range(10)]  # 1 s of video
    assert 2 <= sum(ran) <= 3 and det.inferences == sum(ran)


def test_never_more_crops_than_the_model_runs_in_hand() -> None:
    """Two people far apart need two crops; with one run left the detector looks at the whole
    frame once instead, and never spends ahead (which left it blind for the next frames)."""
    img = vtest_frame(50)
    far_apart = [(30.0, 100.0, 60.0, 170.0), (700.0, 400.0, 740.0, 490.0)]
    det = Detector(DetectorConfig(sweep_interval_s=0, max_inferences_per_s=5))
    det._tokens = 2.0
    assert det.detect(frame_of(img, 0, 0.0), far_apart, []) is not None
    assert det.inferences == 2  # two runs in hand: two crops
    det._tokens = 1.5
    assert det.detect(frame_of(img, 1, 0.0), far_apart, []) is not None
    assert det.inferences == 3 and det._tokens >= 0  # one run: the whole frame, once


def test_equal_scores_keep_the_same_box_whatever_the_sort() -> None:
    """int8 scores take few values, so overlapping boxes tie; the first one (by index) wins."""
    boxes = np.array([[10, 10, 50, 90], [12, 10, 52, 90], [11, 9, 51, 91]], np.float32)
    scores = np.array([0.628, 0.628, 0.628], np.float32)
    keep, _ = nms(boxes, scores, np.zeros(3, np.int64), 0.5)
    assert keep.tolist() == [0]
    keep, _ = nms(boxes[::-1].copy(), scores, np.zeros(3, np.int64), 0.5)
    assert keep.tolist() == [0]


def test_periodic_sweep_runs_the_full_frame() -> None:
    det = Detector(DetectorConfig(sweep_interval_s=30, max_inferences_per_s=100))
    img = vtest_frame(10)
    assert det.detect(frame_of(img, 0, 0.0), [], []) is not None  # the first frame is a sweep
    assert det.detect(frame_of(img, 1, 1.0), [], []) is None
    assert det.detect(frame_of(img, 2, 31.0), [], []) is not None


def test_labels_are_filtered_and_vehicles_found_on_the_bus_still() -> None:
    img = cv2.imread(str(shared("stills/bus.jpg")))
    det = Detector(DetectorConfig(mode="full", sweep_interval_s=0))
    found = det.detect(frame_of(img), [(0, 0, 1, 1)], []) or []
    labels = {d.label for d in found}
    assert "person" in labels and "bus" in labels
    only_people = Detector(DetectorConfig(mode="full", sweep_interval_s=0, labels=["person"]))
    assert {d.label for d in only_people.detect(frame_of(img), [(0, 0, 1, 1)], []) or []} == {"person"}


def test_model_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        Detector(DetectorConfig(model=tmp_path / "missing.onnx"))
    truncated = tmp_path / "nanodet-g.onnx"
    truncated.write_bytes((models_dir() / "nanodet-g.onnx").read_bytes()[:100_000])
    shutil.copy(models_dir() / "labels.txt", tmp_path / "labels.txt")
    with pytest.raises(ModelError, match=str(truncated)):
        Detector(DetectorConfig(model=truncated))
    with pytest.raises(ModelError, match="sha256"):
        Detector(DetectorConfig(model=models_dir() / "nanodet-g.onnx", sha256="0" * 64))


def test_a_live_track_vouches_for_a_low_score_person() -> None:
    img = vtest_frame(100)  # a person half hidden by the sign scores low here
    common = {
        "mode": "full",
        "sweep_interval_s": 0,
        "max_inferences_per_s": 100,
        "model": Path("nanodet-g.onnx"),
    }
    strict = Detector(DetectorConfig(**common, min_score=0.45, track_min_score=0.45))
    loose = Detector(DetectorConfig(**common, min_score=0.3, track_min_score=0.3))
    seen = {d.box for d in strict.detect(frame_of(img), [(0, 0, 1, 1)], []) or [] if d.label == "person"}
    low = [d for d in loose.detect(frame_of(img), [(0, 0, 1, 1)], []) or [] if d.label == "person"]
    low = [d for d in low if not any(iou(d.box, b) > 0.9 for b in seen)]
    assert low, "frame 100 should hold a person scored between 0.3 and 0.45"
    track = low[0].box
    vouched = Detector(DetectorConfig(**common, min_score=0.45, track_min_score=0.3, track_iou=0.5))
    found = vouched.detect(frame_of(img), [(0, 0, 1, 1)], [track]) or []
    people = [d for d in found if d.label == "person"]
    assert any(iou(d.box, track) > 0.9 and d.score < 0.45 for d in people)
    others = [d for d in low[1:] if iou(d.box, track) < 0.5]
    assert not any(iou(d.box, o.box) > 0.9 for d in people for o in others)  # only where the track is


def test_mirrored_view_and_box_voting_still_find_the_people() -> None:
    cfg = {"mode": "full", "sweep_interval_s": 0, "flip": True, "box_voting": True}
    det = Detector(DetectorConfig(**cfg))  # type: ignore[arg-type]
    found = det.detect(frame_of(vtest_frame(50)), [(0, 0, 1, 1)], []) or []
    people = [d for d in found if d.label == "person"]
    truth = gt_boxes(50)
    assert sum(any(iou(d.box, g) >= 0.5 for d in people) for g in truth) >= 0.7 * len(truth)
    assert all(0 <= d.box[0] < d.box[2] <= 768 and 0 <= d.box[1] < d.box[3] <= 576 for d in found)
    # No two boxes of one person left over from the two views.
    assert all(iou(a.box, b.box) <= 0.5 for i, a in enumerate(people) for b in people[i + 1 :])


def test_box_voting_averages_what_it_suppresses() -> None:
    boxes = np.array([[10, 10, 50, 90], [14, 10, 54, 90], [200, 10, 240, 90]], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    classes = np.zeros(3, np.int64)
    keep, plain = nms(boxes, scores, classes, 0.5)
    assert list(keep) == [0, 2] and plain[0].tolist() == [10, 10, 50, 90]
    keep, voted = nms(boxes, scores, classes, 0.5, vote=True)
    assert (
        list(keep) == [0, 2]
        and voted[0][0] == pytest.approx(11.0)
        and voted[1].tolist() == [200, 10, 240, 90]
    )
    keep, _ = nms(boxes, scores, np.array([0, 1, 0]), 0.5)  # another class is not suppressed
    assert list(keep) == [0, 2, 1]


def test_small_far_people_at_a_third_of_the_size_are_kept() -> None:
    """PETS09 frames scaled to 256×192 (people 17-50 px tall, 6-17 px wide): the people the
    model finds are kept, though the far ones are narrower than 8 px (the old least box side)."""
    det = Detector(DetectorConfig(max_inferences_per_s=1000.0, sweep_interval_s=0))
    matched = narrow = total = 0
    for n in (20, 60, 100, 140, 180):
        small = cv2.resize(vtest_frame(n), (256, 192), interpolation=cv2.INTER_AREA)
        found = det.detect(frame_of(small), [(0.0, 0.0, 256.0, 192.0)], [])
        assert found is not None
        people = [d.box for d in found if d.label == "person"]
        for g in gt_boxes(n):
            g3 = (g[0] / 3, g[1] / 3, g[2] / 3, g[3] / 3)
            total += 1
            hit = any(iou(p, g3) >= 0.5 for p in people)
            matched += hit
            narrow += hit and g3[2] - g3[0] < 8
    assert matched >= 0.75 * total and narrow >= 3, f"{matched} of {total}, {narrow} narrow"
