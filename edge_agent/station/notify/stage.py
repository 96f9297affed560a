"""The alerts' threads: every `poll_s` (sooner when ingest stored something) one reads what is
new into the outbox in one transaction and escalates what nobody acknowledged; one thread per
channel sends what is due on it, so a channel that hangs (a mail relay timing out) or throttles
holds back no other."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import tzinfo

from sqlalchemy import Connection, Engine

from edge_agent.station.config import StationSettings
from edge_agent.station.notify.acks import load_key, unacknowledged
from edge_agent.station.notify.channels import Channels
from edge_agent.station.notify.fanout import FanOut
from edge_agent.station.notify.footage_watch import footage_notices
from edge_agent.station.notify.notice import Notice
from edge_agent.station.notify.sender import Sender
from edge_agent.station.notify.station_watch import StationWatcher
from edge_agent.station.notify.watch import Watcher
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore

log = logging.getLogger("edge_agent.station.notify")
ESCALATE_LOOKBACK_US = 2 * 86_400_000_000


class Notify(threading.Thread):
    def __init__(
        self,
        engine: Engine,
        settings: StationSettings,
        store: PictureStore,
        zone: tzinfo,
        broker_up: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(name="station-notify", daemon=True)
        self.engine, self.settings = engine, settings
        n = settings.notify
        self.watcher = Watcher(settings)
        self.station = StationWatcher(settings, zone, broker_up)
        self.fanout = FanOut(settings, zone)
        self.channels = Channels(n, n.retry.timeout_s)
        self.sender = Sender(engine, settings, self.channels, store, load_key(settings.ack_key_path), zone)
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self._due = {name: threading.Event() for name in self.channels.names()}

    def collect(self, now: int) -> int:
        """New facts → outbox rows, with the watcher's position, in one transaction."""
        with self.engine.begin() as conn:
            self.fanout.begin(conn, now)
            pending = sum(self.fanout.add(conn, n, now) for n in self.watcher.collect(conn, now))
            pending += sum(self.fanout.add(conn, n, now) for n in footage_notices(conn))
            troubles, digests = self.station.collect(conn, now)
            pending += sum(self.fanout.add(conn, n, now) for n in troubles)
            for name, notice in digests:
                pending += self.fanout.add(conn, notice, now, only=self.settings.notify.subscription(name))
            pending += self._escalate(conn, now)
            self.fanout.flush(conn)
        return pending

    def _escalate(self, conn: Connection, now: int) -> int:
        n = self.settings.notify
        added = 0
        for sub in n.subscriptions:
            if sub.escalate_to is None:
                continue
            target = n.subscription(sub.escalate_to)
            late = now - int(sub.escalate_after_s * 1e6)
            for row in unacknowledged(conn, sub.name, late, now - ESCALATE_LOOKBACK_US):
                facts = json.loads(row.facts) | {"escalated_from": sub.name}
                notice = Notice(
                    "alarm",
                    row.source,
                    row.device,
                    row.camera,
                    now,
                    facts,
                    picture_sha256=row.picture_sha256,
                    event_id=row.event_id,
                    group=False,
                )
                added += self.fanout.add(conn, notice, now, only=target, suffix="|esc")
        return added

    def tick(self) -> None:
        """One pass of everything in the calling thread (the tests drive the stage this way)."""
        now = now_us()
        self.collect(now)
        if self.settings.notify.enabled:
            self.sender.send_due(now)

    def run(self) -> None:
        self.sender.recover()
        senders = [
            threading.Thread(target=self._send_loop, args=(name, event), name=f"notify-{name}", daemon=True)
            for name, event in self._due.items()
        ]
        if self.settings.notify.enabled:
            for t in senders:
                t.start()
        while not self.stopped.is_set():
            try:
                if self.collect(now_us()):
                    for event in self._due.values():
                        event.set()
            except Exception:
                log.exception("notify: reading the stored messages failed (will retry)")
            self.wake.wait(self.settings.notify.poll_s)
            self.wake.clear()

    def _send_loop(self, channel: str, due: threading.Event) -> None:
        while not self.stopped.is_set():
            try:
                self.sender.send_due(now_us(), channel)
            except Exception:
                log.exception("notify: sending on %s failed (will retry)", channel)
            due.wait(self.settings.notify.poll_s)
            due.clear()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        for event in self._due.values():
            event.set()
