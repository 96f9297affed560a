"""The event stage: tracks become one event per object pass — start, a few updates, end.

`start` once a track is confirmed (its thumbnail first, then the event, then a snapshot);
`update` only when something significant changed (a clearly better thumbnail, a zone entered or
left, a line crossed, parked ↔ moving), at most every `min_update_interval_s`; `end` when the
track is gone, with duration, top score, the zones visited, the lines crossed and a short path.
Every event message takes the device's next `seq` from `next_seq` (the pipeline hands in the
outbox's counter, which stores it with the message: the stage itself keeps no file); the event id
is fixed at the start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent import clock
from edge_agent.config import Settings
from edge_agent.contract import (
    EVENT_SCHEMA,
    Alarm,
    ClockState,
    Crossing,
    Event,
    Kind,
    Message,
    ThumbnailRef,
    Topics,
)
from edge_agent.events.alarms import fired
from edge_agent.events.counts import LineCounts
from edge_agent.events.motion_alarm import MOTION, MotionAlarmOutput
from edge_agent.events.thumbnails import Jpeg, ThumbnailPicker, snapshot
from edge_agent.events.zones import Zones
from edge_agent.geometry import Box, bottom_centre, normalise
from edge_agent.sources import Frame
from edge_agent.tracking import Track, TrackerOutput

SCHEMA_PROPS = {"schema": EVENT_SCHEMA}


@dataclass
class EventState:
    id: str
    track: Track
    thumbnail: ThumbnailRef | None = None
    thumb_quality: float = 0.0
    last_sent_ns: int = 0
    pending: set[str] = field(default_factory=set)  # reasons for an update not yet sent
    zones: set[str] = field(default_factory=set)
    visited: list[str] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    path: list[tuple[int, float, float]] = field(default_factory=list)  # mono_ns, x, y (0..1)
    stationary: bool = False
    box: Box | None = None  # the last box the detector saw (never a coasting prediction)


class EventBuilder:
    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        model_id: str,
        next_seq: Callable[[], int],
        synced: Callable[[], bool] = clock.synced,
    ) -> None:
        self.cfg = settings.events
        self.settings = settings
        self.topics = topics
        self.model_id = model_id
        self.next_seq = next_seq
        self.synced = synced
        self.picker = ThumbnailPicker(settings.thumbnails)
        self.zones = Zones(settings.zones, settings.lines)
        self.counts = LineCounts(settings.events.counts_interval_s, [ln.name for ln in settings.lines])
        self.states: dict[int, EventState] = {}
        self._synced_cache: tuple[float, bool] = (0.0, False)

    def reconfigure(self, settings: Settings) -> None:
        """New thresholds, zones, lines and alarms; open events carry on."""
        self.settings, self.cfg = settings, settings.events
        self.picker.cfg = settings.thumbnails
        self.zones = Zones(settings.zones, settings.lines)
        self.counts.lines = [ln.name for ln in settings.lines]

    # -- per frame -------------------------------------------------------------------------

    def process(self, frame: Frame, tracked: TrackerOutput) -> list[Message]:
        out: list[Message] = []
        for t in tracked.active:
            out += self._observe(frame, t)
        for t in tracked.ended:
            out += self._end(frame, t)
        out += self.counts.maybe_publish(frame, self.topics, self.settings.device_id)
        return out

    def motion(self, frame: Frame, found: MotionAlarmOutput) -> list[Message]:
        """Events and alarms of objects that rang on motion alone (`motion_alarm`): label
        "motion", no detector score, its picture the best of its time in the zone."""
        out: list[Message] = []
        for b in found.candidates:  # no detector score: size and sharpness choose its picture
            self.picker.offer(-b.id, frame.image, b.box, 1.0, frame.wall)
        for b in found.active:
            out += self._observe(frame, b.as_track())
        for ring in found.rings:
            state = self.states[-ring.blob.id]
            out.append(self._alarm(ring.rule.name, state, ring.rule.zone, MOTION, frame))
        for b in found.ended:
            out += self._end(frame, b.as_track())
        for b in found.dropped:
            self.picker.forget(-b.id)
        return out

    def flush(self, frame: Frame) -> list[Message]:
        """End every event still open (end of a file, shutdown)."""
        out: list[Message] = []
        for state in list(self.states.values()):
            out += self._end(frame, state.track)
        out += self.counts.maybe_publish(frame, self.topics, self.settings.device_id, force=True)
        return out

    def snapshot(self, frame: Frame) -> Message:
        boxes = [(s.track.box, f"{s.track.label} {s.track.score:.2f}") for s in self.states.values()]
        jpeg = snapshot(frame.image, boxes, frame.wall, self.settings.thumbnails.snapshot_quality)
        return Message(self.topics.snapshot, jpeg.data, Kind.SNAPSHOT, retain=True, content_type="image/jpeg")

    # -- one track -------------------------------------------------------------------------

    def _observe(self, frame: Frame, t: Track) -> list[Message]:
        out: list[Message] = []
        if t.seen_this_frame:
            self.picker.offer(t.id, frame.image, t.box, t.score, frame.wall)
        state = self.states.get(t.id)
        if state is None:
            state = EventState(id="", track=t, stationary=t.stationary, box=t.box)
            self.states[t.id] = state
            self._zones_changed(frame, state, t)
            out += self._send(frame, state, "start")
            if self.cfg.snapshot_on_event:
                out.append(self.snapshot(frame))
            out += self._alarms(frame, state, t, state.zones)
            return out
        state.track = t
        if t.seen_this_frame:
            state.box = t.box
        entered = self._zones_changed(frame, state, t)
        out += self._alarms(frame, state, t, entered)
        if t.stationary != state.stationary:
            state.stationary = t.stationary
            state.pending.add("stationary")
        best = self.picker.best.get(t.id)
        if best is not None and best.quality >= self.cfg.better_thumbnail * max(state.thumb_quality, 1e-6):
            state.pending.add("thumbnail")
        if state.pending and frame.mono_ns - state.last_sent_ns >= self.cfg.min_update_interval_s * 1e9:
            out += self._send(frame, state, "update")
        return out

    def _zones_changed(self, frame: Frame, state: EventState, t: Track) -> set[str]:
        """Update zones, crossings and path from the track's bottom centre; the zones entered."""
        x, y = bottom_centre(t.box)
        p = (x / frame.width, y / frame.height)
        if state.path and t.seen_this_frame:
            for line, direction in self.zones.crossings(state.path[-1][1:], p):
                state.crossings.append(Crossing(line=line, direction=direction, at=frame.wall))  # type: ignore[arg-type]
                self.counts.add(line, t.label, direction)
                state.pending.add("crossing")
        if t.seen_this_frame or not state.path:
            state.path.append((frame.mono_ns, round(p[0], 4), round(p[1], 4)))
        now = self.zones.membership(p)
        entered = now - state.zones
        if now != state.zones:
            state.pending.add("zones")
        state.visited += [z for z in sorted(entered) if z not in state.visited]
        state.zones = now
        return entered

    def _alarms(self, frame: Frame, state: EventState, t: Track, entered: set[str]) -> list[Message]:
        out = []
        for zone in sorted(entered):
            for rule in fired(self.settings.alarms, zone, t.label, frame.wall):
                out.append(self._alarm(rule.name, state, zone, t.label, frame))
        return out

    def _alarm(self, rule: str, state: EventState, zone: str, label: str, frame: Frame) -> Message:
        body = Alarm(
            rule=rule,
            event=state.id,
            device=self.settings.device_id,
            camera=self.topics.camera,
            zone=zone,
            label=label,
            time=frame.wall,
        )
        return Message(self.topics.alarm, body.model_dump_json(by_alias=True).encode(), Kind.ALARM)

    def _end(self, frame: Frame, t: Track) -> list[Message]:
        state = self.states.get(t.id)
        if state is None:
            return []
        state.track = t
        out = self._send(frame, state, "end")
        del self.states[t.id]
        self.picker.forget(t.id)
        return out

    # -- messages --------------------------------------------------------------------------

    def _clock_synced(self) -> bool:
        checked, value = self._synced_cache
        now = time.monotonic()
        if now - checked > 10.0:
            value = self.synced()
            self._synced_cache = (now, value)
        return value

    def _send(self, frame: Frame, state: EventState, kind: str) -> list[Message]:
        t = state.track
        seq = self.next_seq()
        if kind == "start":
            state.id = f"{self.settings.device_id}-{self.topics.camera}-{seq:06d}"
        out: list[Message] = []
        best = self.picker.best.get(t.id)
        if best is not None and best.quality > state.thumb_quality:
            jpeg = self.picker.jpeg(t.id)
            assert jpeg is not None
            out.append(self._thumbnail(state, jpeg))
            state.thumb_quality = best.quality
        end = kind == "end"
        event = Event(
            id=state.id,
            seq=seq,
            type=kind,
            device=self.settings.device_id,
            camera=self.topics.camera,  # type: ignore[arg-type]
            label=t.label,
            track=t.id,
            start=t.first_wall,
            end=t.last_wall if end else None,
            score=round(t.score, 3),
            top_score=round(t.top_score, 3),
            box=normalise(state.box or t.box, frame.width, frame.height),
            riders=t.riders,
            stationary=t.stationary,
            zones=list(state.visited) if end else sorted(state.zones),
            crossings=state.crossings,
            duration_s=round((t.last_seen_ns - t.first_ns) / 1e9, 2) if end else None,
            path=self._path(state) if end else [],
            thumbnail=state.thumbnail,
            clock=ClockState(synced=self._clock_synced(), monotonic_ns=t.last_seen_ns),
            model=self.model_id,
        )
        out.append(Message(self.topics.events, event.to_json(), Kind.EVENT, properties=SCHEMA_PROPS, seq=seq))
        state.last_sent_ns = frame.mono_ns
        state.pending.clear()
        return out

    def _thumbnail(self, state: EventState, jpeg: Jpeg) -> Message:
        topic = self.topics.thumbnail(state.id)
        state.thumbnail = ThumbnailRef(topic=topic, sha256=jpeg.sha256, width=jpeg.width, height=jpeg.height)
        return Message(topic, jpeg.data, Kind.THUMBNAIL, content_type="image/jpeg")

    def _path(self, state: EventState) -> list[tuple[float, float]]:
        points = state.path
        n = self.cfg.path_points
        if len(points) <= n:
            return [(x, y) for _, x, y in points]
        step = (len(points) - 1) / (n - 1)
        return [(points[round(i * step)][1], points[round(i * step)][2]) for i in range(n)]
