"""`station run`: ingest from every broker, the housekeeping loop, and the JSON API under uvicorn."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn
from sqlalchemy import Engine

from edge_agent.contract import Topics
from edge_agent.station.config import StationSettings
from edge_agent.station.fleet.live_look import LiveLook
from edge_agent.station.fleet.maintenance import muting
from edge_agent.station.fleet.offline import OfflineAlerts
from edge_agent.station.footage.puller import Puller
from edge_agent.station.ingest.archive import Archive
from edge_agent.station.ingest.subscriber import Ingest
from edge_agent.station.notify.stage import Notify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.footage_retention import FootageRetention
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.retention import Retention
from edge_agent.station.web import live
from edge_agent.station.web.app import create_web_app

log = logging.getLogger("edge_agent.station")
TICK_S = 2.0


class Housekeeping(threading.Thread):
    """Flags late thumbnails, raises and clears offline alerts, runs retention."""

    def __init__(
        self, settings: StationSettings, archive: Archive, ingest: Ingest, retention: Retention
    ) -> None:
        super().__init__(name="station-housekeeping", daemon=True)
        self.settings, self.archive, self.ingest, self.retention = settings, archive, ingest, retention
        f = settings.fleet
        self.alerts = OfflineAlerts(archive.engine, f.stale_after_s, f.alert_after_s, f.alert_topic)
        v = settings.footage
        self.puller = Puller(
            archive.engine, commander(ingest, "clip"), v.ask_every_s, v.pre_s, v.post_s, v.auto_alarms
        )
        self.stopped = threading.Event()

    def publish(self, topic: str, payload: bytes) -> bool:
        for c in self.ingest.clients:
            if c.connected.is_set():
                return c.client.publish(topic, payload, qos=1, retain=True).rc == 0
        return False

    def run(self) -> None:
        last_retention = 0.0
        r = self.settings.retention
        while not self.stopped.wait(TICK_S):
            try:
                now = now_us()
                self.archive.flag_thumbnails(now - int(self.settings.ingest.thumbnail_wait_s * 1e6))
                self.alerts.check(now, muting(self.archive.engine, self.publish))
                self.puller.run_once(now)
                if now / 1e6 - last_retention >= r.interval_s:
                    last_retention = now / 1e6
                    v = self.settings.footage
                    d = self.retention.run(
                        now,
                        r.events_days,
                        r.pictures_days,
                        r.disk_min_free_percent,
                        v.keep_days,
                        v.records_days,
                    )
                    if d.events or d.uses:
                        log.info("retention: %d events, %d pictures, %d bytes", d.events, d.pictures, d.bytes)
                    f = self.retention.footage_deleted
                    if f.segments or f.records:
                        log.info(
                            "retention: %d footage segments (%d bytes), %d records",
                            f.segments,
                            f.bytes,
                            f.records,
                        )
            except Exception:
                log.exception("housekeeping failed (will retry)")


class _Server(uvicorn.Server):
    """uvicorn's server, which also tells the live pages' streams to end when asked to stop."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        live.STOPPING.set()
        super().handle_exit(sig, frame)


def _exit_cleanly(_sig: int, _frame: object) -> None:
    raise SystemExit(0)


def commander(ingest: Ingest, name: str) -> Callable[[str, bytes], bool]:
    """Send a pole the command `name` with a payload, on every broker connected now (a pole is on
    one; the shipped ACL lets the station write `P/+/cmd/#`). True when some broker took it."""

    def send(device: str, payload: bytes) -> bool:
        sent = False
        for c in ingest.clients:
            if c.connected.is_set():
                topic = Topics(c.broker.prefix, device, "").command(name)
                sent |= c.client.publish(topic, payload, qos=1).rc == 0
        return sent

    return send


def asker(ingest: Ingest) -> Callable[[str], bool]:
    """Live look's `ask`: the pole's `snapshot` command."""
    send = commander(ingest, "snapshot")
    return lambda device: send(device, b"{}")


def run(settings: StationSettings, engine: Engine | None = None) -> int:
    engine = engine or connect(settings.database_url)
    store = PictureStore(settings.pictures_dir)
    archive = Archive(engine, FootageFiles(settings.footage_dir))
    ingest = Ingest(settings, archive, store)
    footage = FootageRetention(engine, FootageFiles(settings.footage_dir))
    house = Housekeeping(settings, archive, ingest, Retention(engine, store, footage=footage))
    zone, source = settings.zone
    log.info("times on the pages and in forms: %s (from %s)", getattr(zone, "key", zone), source)
    notify = (
        Notify(engine, settings, store, zone, lambda: any(c.connected.is_set() for c in ingest.clients))
        if settings.notify.subscriptions
        else None
    )
    if notify is not None:
        ingest.on_stored = notify.wake.set  # an alarm is read the moment it is stored
        log.info(
            "alerts: %d channels, %d subscriptions%s",
            len(settings.notify.channels),
            len(settings.notify.subscriptions),
            "" if settings.notify.enabled else " (sending is off: notify.enabled = false)",
        )
    else:
        log.info("alerts: no [[notify.subscriptions]] in the config, nobody is told")
    ingest.start()
    house.start()
    if notify is not None:
        notify.start()
    app = create_web_app(
        engine,
        store,
        settings.web,
        station_id=settings.station_id,
        key_path=settings.key_path,
        exports_dir=settings.state_dir / "exports",
        stale_after_s=settings.fleet.stale_after_s,
        zone=zone,
        ack_key_path=settings.ack_key_path,
        notify=settings.notify,
        look=LiveLook(asker(ingest)),
        footage=settings.footage,
        footage_files=FootageFiles(settings.footage_dir),
    )
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.http.host,
            port=settings.http.port,
            log_level=settings.log_level,
            timeout_graceful_shutdown=5,  # open live pages (server-sent events) do not hold a stop
        )
    )
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it found:
    # make that one end the process through Python, so the cleanup below still runs (exit 0).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run()
    finally:
        house.stopped.set()
        if notify is not None:
            notify.stop()
        ingest.stop()
        engine.dispose()
    return 0
