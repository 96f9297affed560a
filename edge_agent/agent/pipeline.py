"""The data path in one screen: source → motion → detector → tracker → events → sinks.

The only module that knows every stage. It runs in the caller's thread; the capture thread
(live sources) and the MQTT thread live inside their own objects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edge_agent.agent.pipeline_messages import MotionSwitch, health_message
from edge_agent.agent.sink import Sink
from edge_agent.config import Settings
from edge_agent.contract import Message, Topics
from edge_agent.delivery.seqstore import SeqStore
from edge_agent.detection import Detector
from edge_agent.events import EventBuilder, MotionAlarm
from edge_agent.motion import MotionDetector, MotionResult
from edge_agent.sources import Frame, Source
from edge_agent.tracking import Tracker

log = logging.getLogger(__name__)

STAGES = ("motion", "detector", "tracker", "events", "publish")
# The motion alarm (alarms on motion alone) is counted with the events.


@dataclass
class PipelineStats:
    frames_in: int = 0
    frames_processed: int = 0
    frames_with_motion: int = 0
    detector_runs: int = 0
    messages: int = 0
    stage_cpu_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    started_mono_ns: int = field(default_factory=time.monotonic_ns)


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        source: Source,
        sinks: Iterable[Sink],
        detector: Detector | None = None,
        next_seq: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.sinks = list(sinks)
        self.topics = Topics(settings.mqtt.prefix, settings.device_id, settings.camera.id)
        self.detector = detector or Detector(settings.detector)
        self.tracker = Tracker(settings.tracker)
        next_seq = next_seq or SeqStore(settings.state_dir / "seq").next  # no outbox: a file
        self.events = EventBuilder(settings, self.topics, self.detector.model_id, next_seq)
        self.motion_alarm = MotionAlarm(settings.alarms, settings.zones)
        self.motion: MotionDetector | None = None  # built on the first frame (needs its size)
        self.motion_switch = MotionSwitch(self.topics, settings.pipeline.motion_off_delay_s)
        self.stats = PipelineStats()
        self.last_frame: Frame | None = None
        self._pending: list[Callable[[Frame], list[Message]]] = []
        self._changes: list[Callable[[], None]] = []  # applied between frames or while idle
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.heartbeat_ns = time.monotonic_ns()  # the pipeline thread's last sign of life
        self.source.on_idle = self.idle

    # -- one frame ---------------------------------------------------------------------------

    def step(self, frame: Frame) -> list[Message]:
        """Run every stage on one frame; return the messages it produced (already published)."""
        cpu = self.stats.stage_cpu_ns
        t0 = time.thread_time_ns()
        if self.motion is None:
            self.motion = MotionDetector(
                self.settings.motion, frame.width, frame.height, self.motion_alarm.min_height
            )
        moved: MotionResult = self.motion.process(frame)
        t1 = time.thread_time_ns()
        tracks = self.tracker.moving_boxes()
        detections = self.detector.detect(frame, moved.boxes, tracks)
        t2 = time.thread_time_ns()
        tracked = self.tracker.update(frame, detections)
        t3 = time.thread_time_ns()
        out = self.events.process(frame, tracked)
        out += self.events.motion(frame, self.motion_alarm.process(frame, moved, tracked.active))
        t4 = time.thread_time_ns()
        out += self.motion_switch.update(frame, bool(moved.boxes))
        out += [health_message(self.topics, frame, alert) for alert in moved.alerts]
        out += self._run_pending(frame)
        self._publish(out)
        cpu["motion"] += t1 - t0
        cpu["detector"] += t2 - t1
        cpu["tracker"] += t3 - t2
        cpu["events"] += t4 - t3
        cpu["publish"] += time.thread_time_ns() - t4
        self.stats.frames_processed += 1
        self.stats.frames_with_motion += bool(moved.boxes)
        self.stats.detector_runs += detections is not None
        self.last_frame = frame
        return out

    # -- the loop ----------------------------------------------------------------------------

    def run(self, on_frame: Callable[[Frame], None] | None = None) -> None:
        """Process frames until the source ends or stop() is called; then end every track."""
        for frame in self.source.frames():
            self.heartbeat_ns = time.monotonic_ns()
            self.stats.frames_in += 1
            self.step(frame)
            if on_frame is not None:
                on_frame(frame)
            if self._stop.is_set():
                break
        self.finish()

    def idle(self) -> None:
        """No frame for a while (live camera down): stay alive, end tracks the camera lost.

        A track whose object has not been seen for `tracker.max_unseen_s` of wall-clock time
        while the camera is gone has ended: its end event goes out now, not when frames return
        (by then the object is long gone, and its track would be matched to someone else).
        """
        self.heartbeat_ns = now = time.monotonic_ns()
        self._apply_changes()
        last = self.last_frame
        if last is None or not self.tracker.active:
            return
        if now - last.mono_ns >= self.settings.tracker.max_unseen_s * 1e9:
            ended = self.tracker.end_all()
            log.info("camera gone for %.0f s: ended %d tracks", (now - last.mono_ns) / 1e9, len(ended))
            self._publish(self.events.motion(last, self.motion_alarm.end_all()) + self.events.flush(last))

    def finish(self) -> None:
        """End every live track (end events), as at the end of a file or on shutdown."""
        if self.last_frame is not None:
            last = self.last_frame
            self._publish(self.events.motion(last, self.motion_alarm.end_all()) + self.events.flush(last))

    def stop(self) -> None:
        self._stop.set()
        self.source.close()

    # -- requests from other threads (commands) ----------------------------------------------

    def request(self, action: Callable[[Frame], list[Message]]) -> None:
        """Run `action(frame)` on the pipeline thread at the next frame (e.g. a snapshot)."""
        with self._lock:
            self._pending.append(action)

    def request_reload(self, settings: Settings, detector: Detector | None = None) -> None:
        """Use `settings` (and a new detector, if its settings changed) from the next frame on,
        or within a second while the camera is down."""
        with self._lock:
            self._changes.append(lambda: self.apply(settings, detector))

    def _apply_changes(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
        for change in changes:
            change()

    def apply(self, settings: Settings, detector: Detector | None = None) -> None:
        old, self.settings = self.settings, settings
        if settings.motion != old.motion:
            self.motion = None  # re-learns the background with the new settings
        if detector is not None:
            self.detector = detector
        self.tracker.cfg = settings.tracker
        self.events.reconfigure(settings)
        self.motion_alarm.reconfigure(settings.alarms, settings.zones)
        if self.motion is not None:
            self.motion.presence_height = self.motion_alarm.min_height
        self.motion_switch.off_delay_ns = int(settings.pipeline.motion_off_delay_s * 1e9)
        log.info("configuration reloaded")

    def request_snapshot(self) -> None:
        self.request(lambda frame: [self.events.snapshot(frame)])

    def _run_pending(self, frame: Frame) -> list[Message]:
        self._apply_changes()
        with self._lock:
            pending, self._pending = self._pending, []
        out: list[Message] = []
        for action in pending:
            out += action(frame)
        return out

    def _publish(self, messages: list[Message]) -> None:
        for message in messages:
            for sink in self.sinks:
                sink.publish(message)
        self.stats.messages += len(messages)
