"""`edge-agent run`: the live service — camera, pipeline, delivery, stats, commands, systemd.

Threads: the capture thread (inside the source), paho's network thread and the delivery thread
(inside Delivery), a supervisor thread here; the pipeline runs in the main thread.

systemd: READY=1 as soon as the service is up (a camera that is down is not a failed start);
WATCHDOG=1 while every thread is alive — the pipeline shows a sign of life at least every second
(frames, or idle ticks while the camera is down), the capture, delivery and paho threads run — so
a hung inference or a dead thread gets the agent restarted, and a network camera that is down
does not. `STATUS=` says how the camera and the broker are, with no password in it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent import __version__, config
from edge_agent.agent.health import Counters, StatsBuilder
from edge_agent.agent.notify import Notifier, watchdog_interval_s
from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.pipeline_messages import camera_message
from edge_agent.agent.sink import Sink
from edge_agent.contract import Topics, redact
from edge_agent.delivery.commands import Commands
from edge_agent.delivery.mqtt import Delivery
from edge_agent.detection import Detector
from edge_agent.recording.encoded import keyframe_period
from edge_agent.recording.recorder import Recorder
from edge_agent.recording.uploader import Uploader
from edge_agent.sources import Source, open_camera

if TYPE_CHECKING:
    from edge_agent.sources.picamera import Record

log = logging.getLogger(__name__)

RESTART_SECTIONS = ("device_id", "state_dir", "camera", "mqtt", "outbox", "homeassistant", "recording")
DEFAULT_WATCHDOG_S = 60.0
MIN_STALL_S = 3.0  # the pipeline ticks at least every second; a silence this long is a hang


class Service:
    def __init__(
        self, settings: config.Settings, config_path: Path | None, source: Source | None = None
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.notifier = Notifier()
        check_state_dir(settings.state_dir)
        self.commands = Commands()
        self.delivery: Delivery | None = None
        sinks: list[Sink] = []
        if settings.mqtt.url:
            self.delivery = Delivery(settings, on_command=self.commands)  # connects in run()
            sinks.append(self.delivery)
        else:
            log.warning("mqtt.url is not set: events are made but published nowhere")
        self.recorder: Recorder | None = None
        if settings.recording.enabled:
            self.recorder = Recorder(
                settings.recording,
                settings.device_id,
                settings.camera.id,
                settings.camera.source,
                settings.state_dir,
                Topics(settings.mqtt.prefix, settings.device_id, settings.camera.id),
                publish=self.delivery.publish if self.delivery else None,
            )
            sinks.append(self.recorder)  # events and motion decide which segments are kept
        self.source: Source = source or open_camera(
            settings.camera, settings.motion.height, self._picamera_record(settings)
        )
        self.uploader: Uploader | None = None
        if self.recorder is not None and self.delivery is not None:
            self.uploader = self._uploader(self.recorder, self.delivery)
        next_seq = self.delivery.outbox.next_seq if self.delivery else None
        self.pipeline = Pipeline(settings, self.source, sinks, next_seq=next_seq)
        self.stats = StatsBuilder(
            self.pipeline.topics.stats, settings.state_dir, self.pipeline.detector.model_id
        )
        self._stop = threading.Event()
        self._camera_ok: bool | None = None
        self._unhealthy = ""
        self.commands.add("snapshot", self._cmd_snapshot)
        self.commands.add("stats", lambda args: self._stats_body(advance=False))
        self.commands.add("reload", self._cmd_reload)
        if self.uploader is not None:
            self.commands.add("clip", self._cmd_clip)  # the station pulls footage

    def _picamera_record(self, settings: config.Settings) -> Record | None:
        """What the Pi camera source encodes its main stream into, when it is recorded."""
        output = self.recorder.picamera_output if self.recorder is not None else None
        if output is None or settings.camera.source != "picamera2":
            return None
        period = keyframe_period(settings.camera.fps, settings.recording.segment_s)
        return output, settings.recording.bitrate, period

    def _cmd_clip(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.recorder is not None and self.uploader is not None
        self.recorder.sign_now()  # the head the station gets covers every segment it asks for
        return self.uploader.request(args)

    def _uploader(self, recorder: Recorder, delivery: Delivery) -> Uploader:
        return Uploader(
            recorder.folder,
            recorder.budget,
            recorder.camera,
            recorder.topics,
            publish_now=delivery.publish_now,
            publish=delivery.publish,
            connected=lambda: delivery.connected,
            depth=lambda: delivery.depth,
            upload_kbps=self.settings.recording.upload_kbps,
        )

    # -- commands (paho's thread) -----------------------------------------------------------

    def _cmd_snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        self.pipeline.request_snapshot()
        if not self.source.stats.connected:
            return {
                "queued": True,
                "detail": "the camera is down: the snapshot is taken when frames come back",
                "topic": self.pipeline.topics.snapshot,
            }
        return {"queued": True, "detail": "taken at the next frame", "topic": self.pipeline.topics.snapshot}

    def _cmd_reload(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            new = config.load(self.config_path)
        except config.ConfigError as exc:
            return {
                "ok": False,
                "error": "invalid configuration, still running on the old one",
                "problems": [redact(p) for p in exc.problems],
            }
        detector = None
        if new.detector != self.pipeline.settings.detector:
            try:
                detector = Detector(new.detector)
            except Exception as exc:
                return {
                    "ok": False,
                    "error": redact(f"detector: {exc}; still running on the old configuration"),
                }
        restart = [k for k in RESTART_SECTIONS if getattr(new, k) != getattr(self.pipeline.settings, k)]
        self.pipeline.request_reload(new, detector)
        return {
            "accepted": True,
            "applied": False,
            "detail": "valid; applied by the pipeline within about a second",
            "restart_needed_for": restart,
        }

    # -- stats and status ---------------------------------------------------------------------

    def _counters(self) -> Counters:
        p = self.pipeline
        return Counters(
            frames_in=p.stats.frames_in,
            frames_processed=p.stats.frames_processed,
            frames_dropped=self.source.stats.frames_dropped,
            inferences=p.detector.inferences,
            inference_ms_total=p.detector.inference_ms_total,
            camera_ok=self.source.stats.connected,
            motion=p.motion_switch.on,
            profile=p.detector.profile,
        )

    def _stats_body(self, advance: bool = True) -> dict[str, Any]:
        body = self.stats.build(
            self._counters(), self.delivery.figures() if self.delivery else {}, advance=advance
        )
        body["camera_error"] = self.source.stats.last_error or None
        if self.recorder is not None:
            body["recording"] = self.recorder.stats()
            if self.uploader is not None:
                body["recording"]["upload"] = self.uploader.stats()
        return body

    def camera_state(self) -> str:
        s = self.source.stats
        if s.connected:
            return "camera ok"
        if not s.last_error:
            return "waiting for the camera's first frame"
        return redact(f"camera lost ({s.last_error})")

    def status_line(self) -> str:
        camera = self.camera_state()
        if self._unhealthy:
            camera = f"NOT HEALTHY: {self._unhealthy}; {camera}"
        if self.delivery is None:
            return f"{camera}; no broker configured"
        d = self.delivery.figures()
        broker = "broker connected" if d["broker_connected"] else f"broker down for {d['broker_since_s']} s"
        return f"{camera}; {broker}; outbox {d['outbox_depth']} messages"

    def liveness(self) -> str:
        """Empty when every thread is alive; else what is not (then the watchdog starves)."""
        stall_s = max((watchdog_interval_s() or DEFAULT_WATCHDOG_S) / 2, MIN_STALL_S)
        quiet_s = (time.monotonic_ns() - self.pipeline.heartbeat_ns) / 1e9
        if quiet_s > stall_s:
            return f"the pipeline has shown no sign of life for {quiet_s:.0f} s"
        if not self.source.alive():
            return "the camera's capture thread has died"
        if self.delivery is not None and not self.delivery.alive():
            return "the delivery or MQTT thread has died"
        if self.recorder is not None and not self.recorder.alive():
            return "the recording thread has died"
        if self.uploader is not None and not self.uploader.alive():
            return "the footage upload thread has died"
        return ""

    def _supervise(self) -> None:
        period = min(2.0, (watchdog_interval_s() or DEFAULT_WATCHDOG_S) / 4)
        next_stats = time.monotonic() + self.settings.health.stats_interval_s
        while not self._stop.wait(period):
            why = self.liveness()
            if why and why != self._unhealthy:
                log.error("%s: no longer feeding systemd's watchdog, so it restarts the agent", why)
            self._unhealthy = why
            if not why:
                self.notifier.watchdog()
            self.notifier.status(self.status_line())
            self._report_camera()
            if time.monotonic() >= next_stats and self.delivery is not None:
                next_stats = time.monotonic() + self.settings.health.stats_interval_s
                self.delivery.publish(self.stats.message_from(self._stats_body()))

    def _report_camera(self) -> None:
        """A `health` message when the camera is lost (active) and when it is back (cleared)."""
        ok, error = self.source.stats.connected, self.source.stats.last_error
        if ok == self._camera_ok or (not ok and not error):
            return
        if self._camera_ok is None and ok:  # the first frame: nothing to clear
            self._camera_ok = ok
            return
        self._camera_ok = ok
        if self.delivery is not None:
            detail = "frames again" if ok else redact(error)
            self.delivery.publish(camera_message(self.pipeline.topics, active=not ok, detail=detail))

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> int:
        if self.delivery is not None:
            self.delivery.start()  # the command handlers are in place
        if self.recorder is not None:
            self.recorder.start()
        if self.uploader is not None:
            self.uploader.start()
        thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        thread.start()
        self.notifier.ready()
        self.notifier.status("running: waiting for the camera's first frame")
        try:
            self.pipeline.run()
        finally:
            self.notifier.stopping()
            self._stop.set()
            self.source.close()
            if self.uploader is not None:
                self.uploader.stop()  # what it held is released; the station asks again
            if self.recorder is not None:
                self.recorder.close()  # the last segment decided, the chain's head signed and sent
            if self.delivery is not None:
                self.delivery.close()  # sends the end events first, then `offline`
        return 0

    def stop(self) -> None:
        self.pipeline.stop()


def check_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise OSError(
            exc.errno, f"state directory {path} is not writable ({exc.strerror})", str(path)
        ) from None


def install_sigterm(handler: Callable[[], None]) -> None:
    """SIGTERM (systemctl stop) and SIGINT end the loop cleanly: tracks ended, outbox flushed."""
    signal.signal(signal.SIGTERM, lambda *_: handler())
    signal.signal(signal.SIGINT, lambda *_: handler())


def run_service(settings: config.Settings, config_path: Path | None) -> int:
    service = Service(settings, config_path)
    install_sigterm(service.stop)
    log.info(
        "edge-agent %s running: device %s, camera %s from %s (%s)",
        __version__,
        settings.device_id,
        settings.camera.id,
        redact(str(settings.camera.source)),
        service.pipeline.detector.model_id,
    )
    return service.run()
