"""The tracker: stable ids across frames, constant-velocity prediction, parked objects.

Why our own and not norfair: the data here is a handful of boxes per frame from a detector that
does not run every frame; what we need is IoU matching on predicted boxes, label families
(car/bus/truck flicker), a rider rule and a parked state with its own time-out — about 200
readable lines on numpy, with no extra dependency on the Pi. Matching is greedy by IoU, best
pair first, which for a few boxes gives the same answer as an optimal assignment.
"""

from __future__ import annotations

import statistics
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from edge_agent.config import TrackerConfig
from edge_agent.detection import Detection
from edge_agent.geometry import Box, area, centre, intersection, iou_matrix
from edge_agent.labels import TWO_WHEELERS, family
from edge_agent.sources import Frame
from edge_agent.tracking.pushers import count_pairs, in_step, touching

HISTORY = 64


@dataclass
class Track:
    id: int
    box: Box
    score: float
    first_ns: int
    first_wall: datetime
    last_seen_ns: int
    last_wall: datetime
    labels: Counter[str] = field(default_factory=Counter)
    hits: int = 1
    confirmed: bool = False
    stationary: bool = False
    top_score: float = 0.0
    riders: int = 0
    seen_this_frame: bool = True
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, pixels per second
    centres: deque[tuple[int, float, float]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    first_centre: tuple[float, float] = (0.0, 0.0)
    ready: bool = False  # seen often enough, and moved or scored well enough, to be real
    joined: int | None = None  # the track this one is part of (a person walking that bike)
    beside: dict[int, list[int]] = field(default_factory=dict)  # wheel id: [shared, touching] frames
    moved: bool = False  # has moved from where it appeared (a real object, whatever it scores)
    away: int = 0  # detections in a row away from where it appeared
    start_centres: list[tuple[float, float]] = field(default_factory=list)  # its first few
    _predicted_ns: int = 0

    @property
    def label(self) -> str:
        return self.labels.most_common(1)[0][0]


@dataclass
class TrackerOutput:
    active: list[Track]  # confirmed tracks still alive
    ended: list[Track]  # confirmed tracks that ended this frame


def assign_riders(detections: list[Detection], overlap: float) -> tuple[list[Detection], dict[int, int]]:
    """Persons sitting on a bicycle or motorbike belong to it: drop them, count them per vehicle.

    Returns the detections kept and, by index into them, the riders of each two-wheeler.
    """
    wheels = [i for i, d in enumerate(detections) if d.label in TWO_WHEELERS]
    if not wheels:
        return detections, {}
    riders_of: dict[int, int] = {}
    kept: list[int] = []
    for i, d in enumerate(detections):
        if d.label == "person":
            best = max(wheels, key=lambda w: intersection(d.box, detections[w].box))
            share = intersection(d.box, detections[best].box) / max(area(d.box), 1e-9)
            if share >= overlap:
                riders_of[best] = riders_of.get(best, 0) + 1
                continue
        kept.append(i)
    return [detections[i] for i in kept], {n: riders_of[i] for n, i in enumerate(kept) if i in riders_of}


class Tracker:
    def __init__(self, cfg: TrackerConfig) -> None:
        self.cfg = cfg
        self.tracks: list[Track] = []
        self._next_id = 1

    @property
    def active(self) -> list[Track]:
        return [t for t in self.tracks if t.confirmed]

    def moving_boxes(self) -> list[Box]:
        """Boxes of live tracks that move (parked ones are re-checked by the detector's sweeps)."""
        return [t.box for t in self.tracks if not t.stationary]

    def _predict(self, now_ns: int) -> None:
        for t in self.tracks:
            dt = (now_ns - t._predicted_ns) / 1e9
            t._predicted_ns = now_ns
            t.seen_this_frame = False
            if dt <= 0 or t.stationary:
                continue
            if now_ns - t.last_seen_ns > self.cfg.coast_s * 1e9:  # unseen for a while: slow down
                decay = 0.5 ** (dt / self.cfg.coast_s)
                t.velocity = (t.velocity[0] * decay, t.velocity[1] * decay)
            dx, dy = t.velocity[0] * dt, t.velocity[1] * dt
            t.box = (t.box[0] + dx, t.box[1] + dy, t.box[2] + dx, t.box[3] + dy)

    def _match(self, detections: list[Detection], now_ns: int) -> list[tuple[int, int]]:
        scores = iou_matrix([t.box for t in self.tracks], [d.box for d in detections])
        for ti, t in enumerate(self.tracks):
            fam = family(t.label)
            for di, d in enumerate(detections):
                if family(d.label) != fam:
                    scores[ti, di] = 0.0
        pairs = []
        while scores.size and scores.max() >= self.cfg.iou_match:
            ti, di = divmod(int(scores.argmax()), scores.shape[1])
            pairs.append((ti, di))
            scores[ti, :] = 0.0
            scores[:, di] = 0.0
        return pairs + self._match_near(detections, pairs, now_ns)

    def _match_near(
        self, detections: list[Detection], pairs: list[tuple[int, int]], now_ns: int
    ) -> list[tuple[int, int]]:
        """Second chance for what IoU left: the nearest centre within `max_distance` box heights,
        similar size, same family (a track that coasted through an occlusion and drifted)."""
        used_t = {t for t, _ in pairs}
        used_d = {d for _, d in pairs}
        options = []
        for ti, t in enumerate(self.tracks):
            if ti in used_t:
                continue
            th = max(t.box[3] - t.box[1], 1.0)
            tc = centre(t.box)
            unseen_s = (now_ns - t.last_seen_ns) / 1e9
            reach = self.cfg.max_distance * min(1.0 + unseen_s, self.cfg.max_reach)  # uncertainty grows
            for di, d in enumerate(detections):
                if di in used_d or family(d.label) != family(t.label):
                    continue
                dh = max(d.box[3] - d.box[1], 1.0)
                if not 0.5 <= dh / th <= 2.0:
                    continue
                dc = centre(d.box)
                dist = ((dc[0] - tc[0]) ** 2 + (dc[1] - tc[1]) ** 2) ** 0.5 / th
                if dist <= reach:
                    options.append((dist, ti, di))
        out = []
        for _, ti, di in sorted(options):
            if ti not in used_t and di not in used_d:
                out.append((ti, di))
                used_t.add(ti)
                used_d.add(di)
        return out

    def _update(self, t: Track, d: Detection, frame: Frame, riders: int) -> None:
        dt = (frame.mono_ns - t.last_seen_ns) / 1e9
        _, ox, oy = t.centres[-1]
        nx, ny = centre(d.box)
        if dt > 0:
            a = self.cfg.velocity_smoothing
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            t.velocity = (a * vx + (1 - a) * t.velocity[0], a * vy + (1 - a) * t.velocity[1])
        t.box, t.score = d.box, d.score
        t.labels[d.label] += 1
        t.hits += 1
        t.top_score = max(t.top_score, d.score)
        t.riders = max(t.riders, riders) if t.stationary else riders or t.riders
        t.last_seen_ns, t.last_wall = frame.mono_ns, frame.wall
        t.seen_this_frame = True
        t.centres.append((frame.mono_ns, nx, ny))
        t.scores.append(d.score)
        if not t.moved:
            self._check_moved(t, nx, ny, d.box[3] - d.box[1])
        if t.hits >= self.cfg.confirm_hits and (t.moved or self._sure(t)):
            t.ready = True
        self._update_stationary(t)

    def _check_moved(self, t: Track, nx: float, ny: float, height: float) -> None:
        """Moved: away from where it appeared by `stationary_move` of its height, in
        `confirm_hits` detections in a row. Where it appeared is the median of its first
        `confirm_hits` centres. One box that strays (a walker's legs passing a traffic cone, the
        detector's jitter on a small object) moves nothing, as its first or any later box."""
        n = max(self.cfg.confirm_hits, 1)
        if len(t.start_centres) < n:
            t.start_centres.append((nx, ny))
            return
        fx = statistics.median(c[0] for c in t.start_centres)
        fy = statistics.median(c[1] for c in t.start_centres)
        away = max(abs(nx - fx), abs(ny - fy)) >= self.cfg.stationary_move * max(height, 1.0)
        t.away = t.away + 1 if away else 0
        t.moved = t.away >= n

    def _sure(self, t: Track) -> bool:
        """Frigate's rule for a track that has not moved: the median of its scores (padded with
        zeros to `confirm_hits`, three by default as in Frigate) reaches the label's threshold."""
        median = statistics.median([*t.scores, *[0.0] * (self.cfg.confirm_hits - len(t.scores))])
        return median >= self.cfg.label_still_threshold.get(t.label, self.cfg.still_threshold)

    def _update_stationary(self, t: Track) -> None:
        now = t.centres[-1][0]
        window = [c for c in t.centres if now - c[0] <= self.cfg.stationary_after_s * 1e9]
        if now - t.centres[0][0] < self.cfg.stationary_after_s * 1e9:
            return
        height = max(t.box[3] - t.box[1], 1.0)
        xs, ys = [c[1] for c in window], [c[2] for c in window]
        spread = max(max(xs) - min(xs), max(ys) - min(ys)) / height
        if spread < self.cfg.stationary_move:
            t.stationary, t.velocity = True, (0.0, 0.0)
        elif spread > 2 * self.cfg.stationary_move:
            t.stationary = False

    def update(self, frame: Frame, detections: list[Detection] | None) -> TrackerOutput:
        self._predict(frame.mono_ns)
        if detections is not None:
            dets, riders = assign_riders(list(detections), self.cfg.rider_overlap)
            pairs = self._match(dets, frame.mono_ns)
            for ti, di in pairs:
                self._update(self.tracks[ti], dets[di], frame, riders.get(di, 0))
            matched = {di for _, di in pairs}
            for di, d in enumerate(dets):
                if di not in matched and not self._duplicate(d):
                    self._new(d, frame, riders.get(di, 0))
            count_pairs(self.tracks)
            self._confirm(frame.mono_ns)
        return self._expire(frame.mono_ns)

    def _duplicate(self, d: Detection) -> bool:
        """A second box on an object a track has just been matched to (two overlapping boxes
        of one walker that the NMS kept): a new track there would take the walker's identity."""
        limit = self.cfg.duplicate_iou
        seen = [t.box for t in self.tracks if t.seen_this_frame and family(t.label) == family(d.label)]
        return limit < 1.0 and bool(seen) and float(iou_matrix([d.box], seen).max()) >= limit

    def _confirm(self, now_ns: int) -> None:
        """Ready tracks become real, unless they are one object pass with another track (a
        person walking a bike: `pushers`), or a person beside a bike waits to find out."""
        for t in self.tracks:
            if t.confirmed or t.joined is not None or not t.ready:
                continue
            partner = self._partner(t)
            if partner is not None:
                t.joined = partner.id
                if t.label == "person":
                    partner.riders = max(partner.riders, 1)
                continue
            waiting = (now_ns - t.first_ns) / 1e9 < self.cfg.pusher_wait_s
            if t.label == "person" and waiting and self._beside_a_wheel(t):
                continue
            t.confirmed = True

    def _partner(self, t: Track) -> Track | None:
        need, share = self.cfg.confirm_hits, self.cfg.pusher_in_step
        for o in self.tracks:
            if o is t or o.joined is not None:
                continue
            if t.label == "person" and o.label in TWO_WHEELERS and in_step(t, o.id, need, share):
                return o  # the person rides or walks this bike
            if (
                t.label in TWO_WHEELERS
                and o.label == "person"
                and o.confirmed
                and in_step(o, t.id, need, share)
            ):
                return o  # the person's event started before the bike was seen: one event, theirs
        return None

    def _beside_a_wheel(self, t: Track) -> bool:
        return any(o.label in TWO_WHEELERS and touching(t.box, o.box) for o in self.tracks)

    def _new(self, d: Detection, frame: Frame, riders: int) -> None:
        cx, cy = centre(d.box)
        t = Track(
            self._next_id,
            d.box,
            d.score,
            frame.mono_ns,
            frame.wall,
            frame.mono_ns,
            frame.wall,
            top_score=d.score,
            riders=riders,
            _predicted_ns=frame.mono_ns,
        )
        t.labels[d.label] += 1
        t.centres.append((frame.mono_ns, cx, cy))
        t.scores.append(d.score)
        t.first_centre = (cx, cy)
        t.start_centres.append((cx, cy))
        t.ready = self.cfg.confirm_hits <= 1 and self._sure(t)
        self._next_id += 1
        self.tracks.append(t)

    def _expire(self, now_ns: int) -> TrackerOutput:
        alive, ended = [], []
        for t in self.tracks:
            unseen = (now_ns - t.last_seen_ns) / 1e9
            if not t.confirmed:
                limit = self.cfg.tentative_max_unseen_s
            elif t.stationary:
                limit = self.cfg.stationary_max_unseen_s
            else:
                limit = self.cfg.max_unseen_s
            if unseen > limit:
                if t.confirmed:
                    ended.append(t)
            else:
                alive.append(t)
        self.tracks = alive
        return TrackerOutput([t for t in alive if t.confirmed], ended)

    def end_all(self) -> list[Track]:
        ended = [t for t in self.tracks if t.confirmed]
        self.tracks = []
        return ended
