"""The event stage on real frames: lifecycle, thumbnails, zones, lines, counts, alarms, seq."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from edge_agent import config
from edge_agent.config import LineConfig, ZoneConfig
from edge_agent.contract.message import Kind
from edge_agent.contract.schema import Counts, Event
from edge_agent.contract.topics import Topics
from edge_agent.delivery.seqstore import SeqStore
from edge_agent.events.builder import EventBuilder
from edge_agent.events.thumbnails import quality, square_crop
from edge_agent.events.zones import Zones, crossing, inside
from edge_agent.sources.base import Frame
from edge_agent.tracking.tracker import Track, TrackerOutput
from tests.conftest import shared

START = datetime(2026, 11, 22, 21, 10, tzinfo=UTC)


def video_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(shared("pets09_s2l1_vtest/vtest.avi")))
    return [cap.read()[1] for _ in range(n)]


def frame(i: int, img: np.ndarray) -> Frame:
    return Frame(i, int(i * 1e8), START + timedelta(seconds=i / 10), img, img[:120, :160, 0])


def track(tid: int, box: tuple, f: Frame, **kw: object) -> Track:
    t = Track(tid, box, 0.8, 0, START, f.mono_ns, f.wall, top_score=0.8, confirmed=True, **kw)  # type: ignore[arg-type]
    t.labels["person"] += 1
    return t


def builder(tmp_path: Path, **overrides: object) -> EventBuilder:
    s = config.load(None, overrides={"device_id": "pole17", "state_dir": str(tmp_path), **overrides})
    topics = Topics("edge", "pole17", "cam0")
    return EventBuilder(s, topics, "nanodet-g-416@test", SeqStore(tmp_path / "seq").next, synced=lambda: True)


def walk(b: EventBuilder, imgs: list[np.ndarray], frames_seen: int = 30) -> list:
    """One person walking down the frame for `frames_seen` frames, then gone."""
    out = []
    t = None
    for i in range(frames_seen):
        f = frame(i, imgs[i])
        box = (380.0, 100.0 + 10 * i, 420.0, 200.0 + 10 * i)
        if t is None:
            t = track(7, box, f)
        t.box, t.last_seen_ns, t.last_wall, t.seen_this_frame = box, f.mono_ns, f.wall, True
        out += b.process(f, TrackerOutput([t], []))
    f = frame(frames_seen, imgs[frames_seen])
    out += b.process(f, TrackerOutput([], [t]))
    return out


def test_one_pass_is_start_few_updates_end_with_thumbnail_first(tmp_path: Path) -> None:
    imgs = video_frames(40)
    msgs = walk(builder(tmp_path), imgs)
    events = [Event.model_validate_json(m.payload) for m in msgs if m.kind is Kind.EVENT]
    assert events[0].type == "start" and events[-1].type == "end"
    assert len(events) <= 4, "updates are rate-limited, not one per frame"
    assert len({e.id for e in events}) == 1 and events[0].id == "pole17-cam0-000001"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    first_event = next(i for i, m in enumerate(msgs) if m.kind is Kind.EVENT)
    assert msgs[first_event - 1].kind is Kind.THUMBNAIL  # the picture comes before its event
    thumbs = {m.topic: m.payload for m in msgs if m.kind is Kind.THUMBNAIL}
    end = events[-1]
    assert end.thumbnail is not None
    assert hashlib.sha256(thumbs[end.thumbnail.topic]).hexdigest() == end.thumbnail.sha256
    assert end.duration_s is not None and abs(end.duration_s - 2.9) < 0.01
    assert end.end is not None and end.clock.synced
    assert 2 <= len(end.path) <= 8 and end.path[0][1] < end.path[-1][1]  # walked down the frame
    assert any(m.kind is Kind.SNAPSHOT and m.retain for m in msgs)


def test_zones_lines_counts_and_an_alarm(tmp_path: Path) -> None:
    imgs = video_frames(40)
    b = builder(
        tmp_path,
        zones=[{"name": "crossing", "polygon": [[0.3, 0.5], [0.7, 0.5], [0.7, 1.0], [0.3, 1.0]]}],
        lines=[{"name": "middle", "a": [0.0, 0.6], "b": [1.0, 0.6]}],
        alarms=[
            {"name": "any-time", "zone": "crossing", "labels": ["person"], "start": "00:00", "end": "23:59"}
        ],
        events={"counts_interval_s": 10},
    )
    msgs = walk(b, imgs)
    msgs += b.flush(frame(39, imgs[39]))
    end = [Event.model_validate_json(m.payload) for m in msgs if m.kind is Kind.EVENT][-1]
    assert end.zones == ["crossing"]
    assert [(c.line, c.direction) for c in end.crossings] == [("middle", "A>B")]
    alarms = [json.loads(m.payload) for m in msgs if m.kind is Kind.ALARM]
    assert len(alarms) == 1 and alarms[0]["rule"] == "any-time" and alarms[0]["event"] == end.id
    counts = [Counts.model_validate_json(m.payload) for m in msgs if m.kind is Kind.COUNTS]
    assert counts and counts[-1].lines["middle"]["person"]["A>B"] == 1


def test_seq_goes_on_by_one_across_a_restart(tmp_path: Path) -> None:
    store = SeqStore(tmp_path / "seq")
    used = [store.next() for _ in range(5)]
    again = SeqStore(tmp_path / "seq")  # a restart: no jump, no number given twice
    assert used == [1, 2, 3, 4, 5] and again.next() == 6


def test_zone_geometry() -> None:
    square = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
    assert inside((0.5, 0.5), square) and not inside((0.9, 0.5), square)
    line = LineConfig(name="l", a=(0.0, 0.5), b=(1.0, 0.5))
    assert crossing(line, (0.5, 0.4), (0.5, 0.6)) == "A>B"
    assert crossing(line, (0.5, 0.6), (0.5, 0.4)) == "B>A"
    assert crossing(line, (0.5, 0.1), (0.5, 0.3)) is None
    short = LineConfig(name="s", a=(0.0, 0.5), b=(0.3, 0.5))
    assert crossing(short, (0.5, 0.4), (0.5, 0.6)) is None  # passes beyond the segment's end
    zones = Zones([ZoneConfig(name="z", polygon=square)], [line])
    assert zones.membership((0.5, 0.5)) == {"z"}


def test_thumbnail_prefers_whole_sharp_large_and_crops_at_least_240() -> None:
    img = video_frames(60)[-1]
    box = (500.0, 150.0, 535.0, 230.0)
    whole = quality(img, box, 0.8, 4.0)
    blurred = quality(cv2.GaussianBlur(img, (0, 0), 6), box, 0.8, 4.0)
    cut = quality(img, (0.0, 150.0, 35.0, 230.0), 0.8, 4.0)
    assert whole > blurred and whole > cut
    crop = square_crop(img, box, 0.25, 240)
    assert crop.shape[0] == crop.shape[1] >= 240


def test_event_box_is_the_last_observed_box_not_a_prediction_clipped_to_the_edge(tmp_path: Path) -> None:
    """PETS09 walker 19 leaves at the right edge at frame 147 (ground truth as the detections):
    the tracker coasts its box out of the frame, but the events carry the last box seen."""
    from edge_agent.detection.detector import Detection
    from edge_agent.tracking.tracker import Tracker

    gt: dict[int, tuple[float, float, float, float]] = {}
    for line in shared("pets09_s2l1_vtest/gt_frames_0001-0200.txt").read_text().splitlines():
        f = line.split(",")
        if f[1] == "19":
            x, y, w, h = (float(v) for v in f[2:6])
            gt[int(f[0]) - 1] = (x, y, x + w, y + h)
    imgs = video_frames(200)
    b = builder(tmp_path)
    tracker = Tracker(config.load(None).tracker)
    msgs = []
    for i, img in enumerate(imgs):
        f = frame(i, img)
        dets = [Detection(gt[i], "person", 0.8)] if i in gt else []
        msgs += b.process(f, tracker.update(f, dets))
    events = [Event.model_validate_json(m.payload) for m in msgs if m.kind is Kind.EVENT]
    assert events[0].type == "start" and events[-1].type == "end"
    last = max(gt)
    x1, y1, x2, y2 = gt[last]
    assert events[-1].box == (round(x1 / 768, 4), round(y1 / 576, 4), round(x2 / 768, 4), round(y2 / 576, 4))
    for e in events:
        assert e.box[2] - e.box[0] > 0.02 and e.box[3] - e.box[1] > 0.05, e
