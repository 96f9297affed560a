"""`edge-agent run`: the live service — camera, pipeline, delivery, stats, commands, systemd.

Threads: the capture thread (inside the source), paho's network thread and the delivery thread
(inside Delivery), a small stats thread here; the pipeline runs in the main thread.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent import config
from edge_agent.agent.health import Counters, StatsBuilder
from edge_agent.agent.notify import Notifier
from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.sink import Sink
from edge_agent.delivery.commands import Commands
from edge_agent.delivery.mqtt import Delivery
from edge_agent.detection import Detector
from edge_agent.sources import Source, open_camera

log = logging.getLogger(__name__)

RESTART_SECTIONS = ("device_id", "state_dir", "camera", "mqtt", "outbox", "homeassistant")


class Service:
    def __init__(self, settings: config.Settings, config_path: Path | None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.notifier = Notifier()
        check_state_dir(settings.state_dir)
        self.source: Source = open_camera(settings.camera, settings.motion.height)
        self.commands = Commands()
        self.delivery: Delivery | None = None
        sinks: list[Sink] = []
        if settings.mqtt.url:
            self.delivery = Delivery(settings, on_command=self.commands)
            sinks.append(self.delivery)
        else:
            log.warning("mqtt.url is not set: events are made but published nowhere")
        self.pipeline = Pipeline(settings, self.source, sinks, self.notifier)
        self.stats = StatsBuilder(
            self.pipeline.topics.stats, settings.state_dir, self.pipeline.detector.model_id
        )
        self._stop = threading.Event()
        self.commands.add("snapshot", self._cmd_snapshot)
        self.commands.add("stats", lambda args: self._stats_body())
        self.commands.add("reload", self._cmd_reload)

    # -- commands (paho's thread) -----------------------------------------------------------

    def _cmd_snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        self.pipeline.request_snapshot()
        return {"topic": self.pipeline.topics.snapshot}

    def _cmd_reload(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            new = config.load(self.config_path)
        except config.ConfigError as exc:
            return {
                "ok": False,
                "error": "invalid configuration, still running on the old one",
                "problems": exc.problems,
            }
        detector = None
        if new.detector != self.pipeline.settings.detector:
            try:
                detector = Detector(new.detector)
            except Exception as exc:
                return {"ok": False, "error": f"detector: {exc}; still running on the old configuration"}
        restart = [k for k in RESTART_SECTIONS if getattr(new, k) != getattr(self.pipeline.settings, k)]
        self.pipeline.request_reload(new, detector)
        return {"applied": True, "restart_needed_for": restart}

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
        )

    def _stats_body(self) -> dict[str, Any]:
        return self.stats.build(self._counters(), self.delivery.figures() if self.delivery else {})

    def status_line(self) -> str:
        camera = (
            "camera ok" if self.source.stats.connected else f"camera lost ({self.source.stats.last_error})"
        )
        if self.delivery is None:
            return f"{camera}; no broker configured"
        d = self.delivery.figures()
        broker = "broker connected" if d["broker_connected"] else f"broker down for {d['broker_since_s']} s"
        return f"{camera}; {broker}; outbox {d['outbox_depth']} messages"

    def _stats_loop(self) -> None:
        interval = self.settings.health.stats_interval_s
        next_stats = 0.0
        while not self._stop.wait(2.0):
            self.notifier.status(self.status_line())
            next_stats -= 2.0
            if next_stats <= 0 and self.delivery is not None:
                next_stats = interval
                self.delivery.publish(self.stats.message(self._counters(), self.delivery.figures()))

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> int:
        thread = threading.Thread(target=self._stats_loop, name="stats", daemon=True)
        thread.start()
        self.notifier.status("starting: waiting for the first frames")
        try:
            self.pipeline.run()
        finally:
            self.notifier.stopping()
            self._stop.set()
            self.source.close()
            if self.delivery is not None:
                self.delivery.close()
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
        "edge-agent %s running: device %s, camera %s (%s)",
        settings.device_id,
        settings.camera.id,
        settings.camera.source,
        service.pipeline.detector.model_id,
    )
    return service.run()
