"""Alarms on motion alone, at night (issue 29): on `vtest.avi` turned into a rainy night in
near-IR (`tests/night_clip.py`, seeded), every person entering the alarm zone rings within 3 s;
the empty street under the same noise, rain, headlight sweeps and moths rings 0 times in 10
minutes of frames."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.sink import ListSink
from edge_agent.config import AlarmRule, DetectorConfig, MotionConfig, Settings, ZoneConfig
from edge_agent.contract import Kind
from edge_agent.events import MotionAlarm
from edge_agent.events.zones import inside
from edge_agent.geometry import Box, intersection
from edge_agent.motion import MotionDetector
from edge_agent.sources import Frame, Source
from edge_agent.sources.base import SourceStats
from edge_agent.tracking import Track
from tests import night_clip
from tests.conftest import shared

# The right-hand side of the square, where people come in from the road: 9 entries in frames 1-200.
GATE = [(0.7, 0.3), (1.0, 0.3), (1.0, 0.9), (0.7, 0.9)]
WHOLE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
WITHIN_NS = 3_000_000_000
OUTSIDE_NS = 2_000_000_000  # back in the zone after this long outside: a new entry
WARM_UP = 20  # frames the background needs before anyone can be said to have entered


def rule(zone: str = "gate", hours_from: datetime = night_clip.START, **kw: object) -> AlarmRule:
    """A rule whose hours hold at `hours_from` (the clip's time) in this machine's time zone."""
    local = hours_from.astimezone()
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    # The far end of the gate: people ~65 px tall, whose moving parts are ~50 px of 576.
    args = {"motion_s": 1.0, "motion_min_height": 0.06} | kw
    return AlarmRule(name="night", zone=zone, start=f"{start:%H:%M}", end=f"{end:%H:%M}", **args)  # type: ignore[arg-type]


def truth() -> dict[int, dict[int, Box]]:
    """Person id: {0-based frame: box} for vtest.avi frames 1-200."""
    rows = np.loadtxt(shared("pets09_s2l1_vtest/gt_frames_0001-0200.txt"), delimiter=",")
    out: dict[int, dict[int, Box]] = defaultdict(dict)
    for f, pid, x, y, w, h, *_ in rows:
        out[int(pid)][int(f) - 1] = (x, y, x + w, y + h)
    return out


def entries(polygon: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """(person, frame) where a person's feet come into the zone: after the warm-up, and after
    at least `OUTSIDE_NS` outside it (or where they first appear)."""
    out = []
    for pid, boxes in truth().items():
        last_in: int | None = None
        for f in sorted(boxes):
            b = boxes[f]
            if not inside(((b[0] + b[2]) / 2 / 768, b[3] / 576), polygon):
                continue
            if f >= WARM_UP and (last_in is None or (f - last_in) / night_clip.FPS * 1e9 > OUTSIDE_NS):
                out.append((pid, f))
            last_in = f
    return sorted(out, key=lambda e: e[1])


def unrung(rings: list[tuple[int, Box]], polygon: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """The entries with no ring within 3 s of them whose box overlaps that person then."""
    people = truth()
    frames_within = WITHIN_NS * night_clip.FPS / 1e9
    return [
        (pid, f)
        for pid, f in entries(polygon)
        if not any(
            f <= at <= f + frames_within and at in people[pid] and intersection(box, people[pid][at]) > 0
            for at, box in rings
        )
    ]


def stage_rings(
    frames: Iterable[Frame], rules: list[AlarmRule], polygon: list[tuple[float, float]]
) -> tuple[list[tuple[int, Box]], int]:
    """The motion stage and the motion alarm alone (no detector: it names nothing): the rings,
    and how many person-sized moving things the motion stage found (so a quiet result means the
    filters held, not that nothing moved)."""
    alarm = MotionAlarm(rules, [ZoneConfig(name=rules[0].zone, polygon=polygon)])
    motion: MotionDetector | None = None
    rings: list[tuple[int, Box]] = []
    things = 0
    for frame in frames:
        if motion is None:
            motion = MotionDetector(MotionConfig(), frame.width, frame.height, alarm.min_height)
        moved = motion.process(frame)
        things += len(moved.presence)
        rings += [(frame.index, r.blob.box) for r in alarm.process(frame, moved, []).rings]
    return rings, things


@pytest.mark.parametrize("seed", [7, 4])
def test_every_person_entering_the_zone_at_night_rings_within_3_s_on_motion_alone(seed: int) -> None:
    wanted = entries(GATE)
    assert len(wanted) == 9  # the gate sees 9 entries in these 200 frames
    rings, _ = stage_rings(night_clip.frames(night_clip.vtest_frames(200), seed), [rule()], GATE)
    assert unrung(rings, GATE) == []
    assert len(rings) <= 2 * len(wanted)  # one ring per entry, not a ring per frame


def test_the_empty_street_at_night_rings_0_times_in_10_minutes() -> None:
    rings, things = stage_rings(night_clip.empty_night(10, seed=11), [rule("all")], WHOLE)
    assert rings == []
    assert things > 300  # headlight sweeps and moths made person-sized moving things


def test_outside_its_hours_the_rule_is_quiet() -> None:
    noon = night_clip.START - timedelta(hours=8)
    rings, _ = stage_rings(night_clip.frames(night_clip.vtest_frames(200), 7), [rule(hours_from=noon)], GATE)
    assert rings == []


def test_what_the_detector_follows_is_left_to_the_detector() -> None:
    """A confirmed track over an object (here: the ground truth's own boxes) keeps the motion
    rule quiet: the track's label decides the ordinary rules."""
    people = truth()
    alarm = MotionAlarm([rule()], [ZoneConfig(name="gate", polygon=GATE)])
    motion = MotionDetector(MotionConfig(), 768, 576, alarm.min_height)
    rung = 0
    for frame in night_clip.frames(night_clip.vtest_frames(200), 7):
        tracks = [
            Track(pid, boxes[frame.index], 0.8, 0, frame.wall, frame.mono_ns, frame.wall, confirmed=True)
            for pid, boxes in people.items()
            if frame.index in boxes
        ]
        rung += len(alarm.process(frame, motion.process(frame), tracks).rings)
    assert rung == 0


class Frames(Source):
    """A file-like source over frames made in memory."""

    live = False

    def __init__(self, frames: Iterator[Frame]) -> None:
        self.name = "night clip"
        self.stats = SourceStats()
        self._frames = frames

    def frames(self) -> Iterator[Frame]:
        yield from self._frames

    def close(self) -> None:
        pass


@pytest.mark.parametrize("blind", [False, True], ids=["model", "model-names-nothing"])
def test_the_agent_rings_for_every_person_entering_at_night_with_a_motion_event_and_its_picture(
    tmp_path: Path, blind: bool
) -> None:
    """The whole pipeline with the real model: every entry rings within 3 s, by the detector's
    rule where the model finds the person, else by the motion rule; each motion alarm names a
    "motion" event with its thumbnail. `blind`: the model's score floors at 1.0, so it names
    nothing at all (the dark IR pictures where it misses most people) and motion alone rings."""
    floors = {"min_score": 1.0, "night_min_score": 1.0, "label_min_score": {}} if blind else {}
    settings = Settings(
        device_id="pole17",
        state_dir=tmp_path,
        zones=[ZoneConfig(name="gate", polygon=GATE)],
        alarms=[rule()],
        detector=DetectorConfig(**floors),  # type: ignore[arg-type]
    )
    sink = ListSink()
    Pipeline(settings, Frames(night_clip.frames(night_clip.vtest_frames(200), 7)), [sink]).run()
    events: dict[str, list[dict]] = defaultdict(list)
    pictures = {}
    alarms = []
    for m in sink.messages:
        if m.kind is Kind.EVENT:
            e = json.loads(m.payload)
            events[e["id"]].append(e)
        elif m.kind is Kind.THUMBNAIL:
            pictures[m.topic] = m.payload
        elif m.kind is Kind.ALARM:
            alarms.append(json.loads(m.payload))
    people = truth()
    late = []
    for pid, f in entries(GATE):
        # Rung within 3 s, by an alarm whose event's boxes cover this person in those 3 s.
        seen = {g: people[pid][g] for g in range(f, f + 31) if g in people[pid]}
        if not any(
            0 <= at(a) - f <= 30
            and any(intersection(scaled(e["box"]), b) > 0 for e in events[a["event"]] for b in seen.values())
            for a in alarms
        ):
            late.append((pid, f))
    for a in alarms:
        if a["label"] == "motion":
            start = events[a["event"]][0]
            assert start["label"] == "motion" and start["score"] == 0.0
            thumb = start["thumbnail"]
            assert thumb is not None
            image = cv2.imdecode(np.frombuffer(pictures[thumb["topic"]], np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape[:2] == (thumb["height"], thumb["width"])
            assert events[a["event"]][-1]["type"] == "end"  # the motion event ends like any other
    assert late == []
    if blind:
        assert alarms and all(a["label"] == "motion" for a in alarms)


def at(alarm: dict) -> int:
    """The frame of an alarm, from its time."""
    return round((datetime.fromisoformat(alarm["time"]) - night_clip.START).total_seconds() * night_clip.FPS)


def scaled(box: list[float]) -> Box:
    return (box[0] * 768, box[1] * 576, box[2] * 768, box[3] * 576)
