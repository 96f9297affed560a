"""Alarms on motion alone: at night the detector misses most people, so an alarm zone may ring
on a moving object that the detector names nothing — flagged as a "motion" alarm.

A rule with `motion_s > 0` rings when, in its hours, one of the motion stage's whole objects
(`MotionResult.presence`) at least `motion_min_height` of the frame tall has stood in its zone
(by its bottom centre, as the detector's tracks do) for `motion_s` seconds. What else moves at
night is told apart by what the motion stage already knows:

- rain, snow, insects at the IR lamp: a pixel must move in several frames in a row (the motion
  stage's persistence), and what is left is small and short-lived: not person-sized for long;
- headlights sweeping the street: the change is the scene made brighter (`Presence.lit`), and it
  crosses the picture faster than anyone walks (`motion_max_speed`);
- the whole picture changing (IR switching on, lights, the camera bumped): a scene change,
  which ends every object here;
- a swaying tree or a shaking pole: the motion stage drops edges that only shifted;
- anything the detector follows (a confirmed track over it) is the detector's: its label
  decides the ordinary rules, and the motion rule stays quiet.

Each object rings a rule once. The objects are matched from frame to frame by overlap: they
are large, slow and few (tracking them needs no more than that).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from edge_agent.config import AlarmRule, ZoneConfig
from edge_agent.events.alarms import in_window
from edge_agent.events.zones import inside
from edge_agent.geometry import Box, area, bottom_centre, intersection, iou
from edge_agent.motion import MotionResult
from edge_agent.motion.presence import Presence
from edge_agent.sources import Frame
from edge_agent.tracking import Track

MATCH_IOU = 0.2  # an object this much over last frame's box is the same object
MAX_UNSEEN_NS = 700_000_000  # not seen for this long: gone
SPEED_WINDOW_NS = 1_000_000_000  # speed measured over the last second
LIT_SHARE = 0.5  # lit in more of its frames than this: light, not an object
FRESH_SHARE = 0.6  # moving afresh in at least this share of its frames: not the trace of a flash
GAP_NS = 300_000_000  # unseen this long, its time in a zone starts again
NAMED_SHARE = 0.3  # a detector's track covers this share of it: the detector has it
MOTION = "motion"  # the label of its events and alarms


@dataclass
class Blob:
    id: int
    box: Box
    first_ns: int
    first_wall: datetime
    last_ns: int
    last_wall: datetime
    centres: deque[tuple[int, float, float]] = field(default_factory=lambda: deque(maxlen=64))
    lit: deque[bool] = field(default_factory=lambda: deque(maxlen=20))
    fresh: deque[bool] = field(default_factory=lambda: deque(maxlen=20))
    since: dict[str, int] = field(default_factory=dict)  # rule name: in its zone since (mono ns)
    rung: set[str] = field(default_factory=set)  # the rules it has rung since it entered their zone
    ever_rung: bool = False  # it has an event
    out_ns: dict[str, int] = field(default_factory=dict)  # rule name: not counting since (mono ns)
    named_ns: int = -(1 << 62)  # when a detector's track last covered it
    seen_this_frame: bool = True

    def speed(self) -> float:
        """How fast its bottom centre moved over the last second, in pixels per second."""
        now, x, y = self.centres[-1]
        for t, x0, y0 in self.centres:
            if now - t <= SPEED_WINDOW_NS:
                dt = (now - t) / 1e9
                return 0.0 if dt <= 0 else ((x - x0) ** 2 + (y - y0) ** 2) ** 0.5 / dt
        return 0.0

    def as_track(self) -> Track:
        """The object as the event stage's tracks look: label "motion", no detector score; its id
        negative, apart from the detector's tracks."""
        return Track(
            id=-self.id,
            box=self.box,
            score=0.0,
            first_ns=self.first_ns,
            first_wall=self.first_wall,
            last_seen_ns=self.last_ns,
            last_wall=self.last_wall,
            labels=Counter({MOTION: 1}),
            confirmed=True,
            seen_this_frame=self.seen_this_frame,
        )


@dataclass(frozen=True)
class Ring:
    rule: AlarmRule
    blob: Blob


@dataclass
class MotionAlarmOutput:
    rings: list[Ring] = field(default_factory=list)
    candidates: list[Blob] = field(default_factory=list)  # counting towards a ring: their best frame
    active: list[Blob] = field(default_factory=list)  # have rung, still here
    ended: list[Blob] = field(default_factory=list)  # have rung, gone this frame
    dropped: list[Blob] = field(default_factory=list)  # gone without ringing


class MotionAlarm:
    def __init__(self, rules: Sequence[AlarmRule], zones: Sequence[ZoneConfig]) -> None:
        self.blobs: list[Blob] = []
        self._next_id = 1
        self.reconfigure(rules, zones)

    def reconfigure(self, rules: Sequence[AlarmRule], zones: Sequence[ZoneConfig]) -> None:
        self.rules = [r for r in rules if r.motion_s > 0]
        polygons = {z.name: z.polygon for z in zones}
        self.polygons = {r.name: polygons[r.zone] for r in self.rules if r.zone in polygons}

    @property
    def min_height(self) -> float | None:
        """The least object height any rule needs (share of the frame); None: no motion rule."""
        return min((r.motion_min_height for r in self.rules), default=None)

    def process(self, frame: Frame, moved: MotionResult, tracks: Sequence[Track]) -> MotionAlarmOutput:
        out = MotionAlarmOutput()
        if not self.rules:
            return out
        now = frame.mono_ns
        if moved.scene_change:  # another picture: nothing here is the same object any more
            self._drop(self.blobs, out)
            self.blobs = []
            return out
        self._match(frame, moved.presence)
        gone = [b for b in self.blobs if now - b.last_ns > MAX_UNSEEN_NS]
        self._drop(gone, out)
        self.blobs = [b for b in self.blobs if b not in gone]
        named = [t.box for t in tracks]
        for b in self.blobs:
            if any(intersection(b.box, box) >= NAMED_SHARE * area(b.box) for box in named):
                b.named_ns = now
            counting = False
            for rule in self.rules:
                if self._counts(frame, b, rule):
                    counting = True
                    if now - b.since[rule.name] >= rule.motion_s * 1e9 and rule.name not in b.rung:
                        b.rung.add(rule.name)
                        b.ever_rung = True
                        out.rings.append(Ring(rule, b))
            if counting and b.seen_this_frame:
                out.candidates.append(b)
            if b.ever_rung:
                out.active.append(b)
        return out

    def end_all(self) -> MotionAlarmOutput:
        out = MotionAlarmOutput()
        self._drop(self.blobs, out)
        self.blobs = []
        return out

    # -- inside ------------------------------------------------------------------------------

    def _counts(self, frame: Frame, b: Blob, rule: AlarmRule) -> bool:
        """Whether `b` counts towards `rule` now: its hours, its zone, and an object, not light.
        Keeps the time it entered the zone (`since`); when that has stopped holding for
        `GAP_NS` (it left the zone, or turned out to be light), the count starts again, and so
        does the ring: an object entering the zone again rings again, as a detector's track does."""
        if b.seen_this_frame and self._holds(frame, b, rule):
            b.out_ns.pop(rule.name, None)
            b.since.setdefault(rule.name, frame.mono_ns)
            return True
        out = b.out_ns.setdefault(rule.name, frame.mono_ns)
        if frame.mono_ns - out > GAP_NS:
            b.since.pop(rule.name, None)
            b.rung.discard(rule.name)
        return False

    def _holds(self, frame: Frame, b: Blob, rule: AlarmRule) -> bool:
        polygon = self.polygons.get(rule.name)
        x, y = bottom_centre(b.box)
        return (
            polygon is not None
            and in_window(rule, frame.wall)
            and inside((x / frame.width, y / frame.height), polygon)
            and b.box[3] - b.box[1] >= rule.motion_min_height * frame.height
            and b.speed() <= rule.motion_max_speed * frame.height
            and sum(b.lit) <= LIT_SHARE * len(b.lit)
            and sum(b.fresh) >= FRESH_SHARE * len(b.fresh)
            and frame.mono_ns - b.named_ns > MAX_UNSEEN_NS
        )

    def _match(self, frame: Frame, presence: Sequence[Presence]) -> None:
        boxes = [p.box for p in presence]
        pairs = sorted(
            ((iou(b.box, box), bi, pi) for bi, b in enumerate(self.blobs) for pi, box in enumerate(boxes)),
            reverse=True,
        )
        used_b: set[int] = set()
        used_p: set[int] = set()
        for score, bi, pi in pairs:
            if score < MATCH_IOU:
                break
            if bi in used_b or pi in used_p:
                continue
            used_b.add(bi)
            used_p.add(pi)
            self._see(self.blobs[bi], frame, presence[pi])
        for bi, b in enumerate(self.blobs):
            b.seen_this_frame = bi in used_b
        for pi, p in enumerate(presence):
            if pi not in used_p:
                b = Blob(self._next_id, p.box, frame.mono_ns, frame.wall, frame.mono_ns, frame.wall)
                self._next_id += 1
                self._see(b, frame, p)
                self.blobs.append(b)
        self._inherit()

    def _inherit(self) -> None:
        """An object seen this frame over one not seen (its parts joined up, or split off, as a
        person's do at night) carries on its time in the zone: a person is not lost by starting
        to count again. Not its rings: two people walking close may be the two objects (a person
        told twice is better than a person not told)."""
        lost = [b for b in self.blobs if not b.seen_this_frame]
        for b in self.blobs:
            if not b.seen_this_frame:
                continue
            for old in lost:
                if intersection(b.box, old.box) <= 0:
                    continue
                for name, since in old.since.items():
                    b.since[name] = min(since, b.since.get(name, since))

    @staticmethod
    def _see(b: Blob, frame: Frame, p: Presence) -> None:
        b.box, b.last_ns, b.last_wall, b.seen_this_frame = p.box, frame.mono_ns, frame.wall, True
        b.centres.append((frame.mono_ns, *bottom_centre(p.box)))
        b.lit.append(p.lit)
        b.fresh.append(p.fill > 0)

    @staticmethod
    def _drop(blobs: list[Blob], out: MotionAlarmOutput) -> None:
        for b in blobs:
            (out.ended if b.ever_rung else out.dropped).append(b)
