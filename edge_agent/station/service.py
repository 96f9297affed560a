"""`station run`: ingest from every broker, the housekeeping loop, and the JSON API under uvicorn."""

from __future__ import annotations

import logging
import threading

import uvicorn
from sqlalchemy import Engine

from edge_agent.station.api import create_app
from edge_agent.station.archive import Archive
from edge_agent.station.config import StationSettings
from edge_agent.station.db.engine import connect
from edge_agent.station.db.ops import now_us
from edge_agent.station.fleet import OfflineAlerts
from edge_agent.station.ingest import Ingest
from edge_agent.station.pictures import PictureStore
from edge_agent.station.retention import Retention

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
                self.alerts.check(now, self.publish)
                if now / 1e6 - last_retention >= r.interval_s:
                    last_retention = now / 1e6
                    d = self.retention.run(now, r.events_days, r.pictures_days, r.disk_min_free_percent)
                    if d.events or d.uses:
                        log.info("retention: %d events, %d pictures, %d bytes", d.events, d.pictures, d.bytes)
            except Exception:
                log.exception("housekeeping failed (will retry)")


def run(settings: StationSettings, engine: Engine | None = None) -> int:
    engine = engine or connect(settings.database_url)
    store = PictureStore(settings.pictures_dir)
    archive = Archive(engine)
    ingest = Ingest(settings, archive, store)
    house = Housekeeping(settings, archive, ingest, Retention(engine, store))
    ingest.start()
    house.start()
    app = create_app(engine, store, settings.fleet.stale_after_s)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.http.host, port=settings.http.port, log_level=settings.log_level)
    )
    try:
        server.run()
    finally:
        house.stopped.set()
        ingest.stop()
        engine.dispose()
    return 0
