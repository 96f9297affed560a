"""Due outbox rows → channels: retry with exponential backoff, a dead letter after `attempts`.

A row is claimed (`sending`, attempts + 1) and committed before the network is touched, and
marked `sent` right after; a station killed between the two finds it `sending` at start and sends
it again. So "once" is: exactly once for every message not in flight at the moment of a crash,
and at least once for the one that was (the webhook gets the same `Idempotency-Key` both times;
email and Telegram may show it twice). A channel that fails is not tried again in the same pass,
so one dead service does not spend every row's attempts at once.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import tzinfo
from typing import Any

from sqlalchemy import Engine, func, select, update

from edge_agent.station.config import StationSettings
from edge_agent.station.notify.acks import make_token
from edge_agent.station.notify.channels import Channels, Outcome
from edge_agent.station.notify.messages import render
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.notify_tables import notify_outbox
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import events

log = logging.getLogger("edge_agent.station.notify")
THUMB_WAIT_US = 5_000_000  # an alarm waits this long for its event's thumbnail
PASS_ROWS = 50


class Sender:
    def __init__(
        self,
        engine: Engine,
        settings: StationSettings,
        channels: Channels,
        store: PictureStore,
        ack_key: bytes,
        zone: tzinfo,
    ) -> None:
        self.engine, self.settings, self.channels, self.store = engine, settings, channels, store
        self.notify = settings.notify
        self.ack_key = ack_key
        self.zone = zone

    def recover(self) -> int:
        """Rows a stopped station left `sending`: pending again (see the module's note)."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(notify_outbox)
                .where(notify_outbox.c.state == "sending")
                .values(state="pending", reason="the station stopped while sending it: sent again")
            ).rowcount
        if n:
            log.warning("notify: %d messages were being sent when the station stopped: sending again", n)
        return int(n or 0)

    def send_due(self, now_us: int, channel: str | None = None) -> int:
        """Send what is due (on one channel, or on all); returns how many went."""
        o = notify_outbox.c
        q = select(notify_outbox).where(o.state == "pending", o.due_us <= now_us)
        if channel is not None:
            q = q.where(o.channel == channel)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(o.due_us, o.id).limit(PASS_ROWS)).all()
        failed: set[str] = set()
        sent = 0
        for row in rows:
            if row.channel in failed:
                continue
            outcome = self._one(row, now_us)
            if outcome is None:
                continue
            if outcome.ok:
                sent += 1
            else:
                failed.add(row.channel)
        return sent

    def _one(self, row: Any, now_us: int) -> Outcome | None:
        o = notify_outbox.c
        with self.engine.begin() as conn:
            picture = row.picture_sha256
            if row.kind == "alarm" and picture is None and row.event_id:
                ev = conn.execute(
                    select(events.c.thumb_sha256, events.c.thumb_status).where(
                        events.c.device == row.device, events.c.event_id == row.event_id
                    )
                ).first()
                if ev is not None and ev.thumb_sha256 and ev.thumb_status == "ok":
                    picture = ev.thumb_sha256
                elif (ev is None or ev.thumb_status == "pending") and now_us - row.created_us < THUMB_WAIT_US:
                    conn.execute(update(notify_outbox).where(o.id == row.id).values(due_us=now_us + 500_000))
                    return None  # its picture is on its way
            count = 0
            if row.kind == "summary":
                count = conn.execute(
                    select(func.count()).select_from(notify_outbox).where(o.group_key == row.key)
                ).scalar_one()
            claimed = conn.execute(
                update(notify_outbox)
                .where(o.id == row.id, o.state == "pending")
                .values(state="sending", attempts=o.attempts + 1, picture_sha256=picture)
            ).rowcount
        if not claimed:
            return None
        title, body = self._text(row, count)
        path = self.store.path(picture) if picture else None
        outcome = self.channels.send(
            row.channel, title, body, path if path is not None and path.is_file() else None, key=row.key
        )
        self._done(row, outcome, now_us)
        return outcome

    def _text(self, row: Any, count: int) -> tuple[str, str]:
        facts: dict[str, Any] = json.loads(row.facts)
        base = self.notify.base_url
        facts.setdefault("time", to_iso(row.created_us))
        facts |= {"station": self.settings.station_id, "pole": row.device, "camera": row.camera or "-"}
        if row.kind == "alarm" and facts.get("event"):
            facts["link"] = f"{base}/events/{row.device}/{facts['event']}"
            expires = int(row.created_us / 1e6 + self.notify.ack_valid_s)
            facts["ack_link"] = f"{base}/notify/ack/{make_token(self.ack_key, int(row.id), expires)}"
        elif row.device:
            facts["link"] = f"{base}/poles/{row.device}"
        else:
            facts["link"] = f"{base}/fleet"
        if row.kind == "summary":
            facts["count"] = count
        language = self.channels.languages.get(row.channel, self.notify.language)
        return render(row.kind, facts, language, self.zone, self.notify.templates)

    def _done(self, row: Any, outcome: Outcome, now_us: int) -> None:
        o = notify_outbox.c
        r = self.notify.retry
        attempts = int(row.attempts) + 1
        if outcome.ok:
            values: dict[str, Any] = {"state": "sent", "sent_us": now_us, "reason": ""}
            log.info("notify: %s to %s/%s sent (%s)", row.kind, row.subscription, row.channel, row.source)
        elif attempts >= r.attempts:
            values = {"state": "dead", "reason": outcome.error[:1000]}
            log.error(
                "notify: %s to %s/%s is a dead letter after %d tries: %s",
                row.kind,
                row.subscription,
                row.channel,
                attempts,
                outcome.error,
            )
        else:
            wait = min(r.backoff_max_s, r.backoff_min_s * 2 ** (attempts - 1)) * random.uniform(0.8, 1.0)
            values = {"state": "pending", "due_us": now_us + int(wait * 1e6), "reason": outcome.error[:1000]}
            log.warning(
                "notify: %s to %s/%s failed (try %d of %d, next in %.0f s): %s",
                row.kind,
                row.subscription,
                row.channel,
                attempts,
                r.attempts,
                wait,
                outcome.error,
            )
        with self.engine.begin() as conn:
            conn.execute(update(notify_outbox).where(o.id == row.id).values(**values))
