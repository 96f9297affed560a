"""A ward for the alert tests: an archive, its pictures, a `[notify]` config, messages stored as
ingest stores them, and the alerts' stage driven pass by pass."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent.station import config
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.notify.stage import Notify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from tests.station.factory import alarm, event, jpeg, thumbnail

S = 1_000_000


class Ward:
    def __init__(self, tmp_path: Path, db_url: str, notify: dict[str, Any], **fleet: Any) -> None:
        self.settings = config.load(
            None,
            overrides={
                "station_id": "phuong7",
                "state_dir": str(tmp_path / "state"),
                "time_zone": "Asia/Ho_Chi_Minh",
                "fleet": {"stale_after_s": 180, "alert_after_s": 60, **fleet},
                "notify": notify,
            },
        )
        self.engine = connect(db_url)
        self.archive = Archive(self.engine)
        self.store = PictureStore(self.settings.pictures_dir)
        self.stage = Notify(self.engine, self.settings, self.store, self.settings.zone[0])

    def put(self, at_us: int, topic: str, payload: bytes) -> None:
        record = classify("edge", topic, payload, 2**22)
        data = getattr(record, "data", None)
        if data is not None:
            self.store.put(data)
        self.archive.store([Received("ward", at_us, record)])

    def alarm(self, at_us: int, device: str = "pole17", n: int = 1, thumb: bool = True) -> bytes:
        """An event with its thumbnail and the alarm it fired, as a pole sends them."""
        picture = jpeg(1000 + n)
        self.put(
            at_us, *event(device, n, thumb=picture if thumb else None, zones=["gate"], label="motorcycle")
        )
        if thumb:
            self.put(at_us, *thumbnail(device, n, picture))
        self.put(at_us, *alarm(device, n, datetime(2026, 12, 6, 14, 10, 20, tzinfo=UTC)))
        return picture

    def run(self, now_us: int) -> None:
        """One pass of the alerts' stage at `now_us` (the tests' own clock)."""
        self.stage.collect(now_us)
        self.stage.sender.send_due(now_us)

    def web_app(self) -> Any:
        """The station's pages over this ward, its alerts included (cookies over plain HTTP)."""
        from edge_agent.station.web.app import create_web_app

        root = self.settings.state_dir
        return create_web_app(
            self.engine,
            self.store,
            self.settings.web.model_copy(update={"cookie_secure": False}),
            station_id=self.settings.station_id,
            key_path=root / "station-ed25519.pem",
            exports_dir=root / "exports",
            zone=self.settings.zone[0],
            ack_key_path=self.settings.ack_key_path,
            notify=self.settings.notify,
        )

    def rows(self) -> list[Any]:
        from sqlalchemy import select

        from edge_agent.station.store.notify_tables import notify_outbox

        with self.engine.connect() as conn:
            return list(conn.execute(select(notify_outbox).order_by(notify_outbox.c.id)))

    def close(self) -> None:
        self.engine.dispose()
