"""Stored rows → notices: what ingest kept that someone should be told.

The watcher reads forward from where it stopped (a cursor per stream, in `notify_cursors`) and
keeps what it last said of each pole (`notify_poles`); both are written in the caller's
transaction together with the outbox rows the notices become, so a restart neither repeats nor
skips a fact. Ingest is the only writer of the rows it reads, so their ids grow in commit order.

- alarm and health device messages: one notice each (health: the condition raised or cleared);
- a sequence gap still open `GAP_WAIT_S` after it was seen (a late message fills most gaps);
- a pole offline or silent for `alert_after_s`: offline; reminders at `reminders_s`; back
  online; `flap_changes` offline alerts within `flap_window_s`: one "flapping" notice, then
  quiet about that pole until it has been stable for the window.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from edge_agent.station.config import StationSettings
from edge_agent.station.fleet.state import DOWN, fleet, overdue
from edge_agent.station.notify.notice import Notice
from edge_agent.station.query.localtime import instant
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.notify_tables import notify_cursors, notify_poles
from edge_agent.station.store.ops import insert_ignore
from edge_agent.station.store.schema import cameras, device_messages, seq_gaps

GAP_WAIT_S = 300.0
POLES_EVERY_US = 1_000_000
BATCH = 500


def _us(iso: str | None) -> int | None:
    return None if iso is None else int(instant(iso).timestamp() * 1e6)


def cursor(conn: Connection, name: str) -> int:
    value = conn.execute(select(notify_cursors.c.value).where(notify_cursors.c.name == name)).scalar()
    if value is None:
        insert_ignore(conn, notify_cursors, {"name": name, "value": 0})
        return 0
    return int(value)


def set_cursor(conn: Connection, name: str, value: int) -> None:
    conn.execute(update(notify_cursors).where(notify_cursors.c.name == name).values(value=value))


def snapshot_of(conn: Connection, device: str, camera: str = "") -> str | None:
    q = select(cameras.c.snapshot_sha256).where(
        cameras.c.device == device, cameras.c.snapshot_sha256.is_not(None)
    )
    if camera:
        q = q.where(cameras.c.camera == camera)
    return conn.execute(q.limit(1)).scalar()


class Watcher:
    def __init__(self, settings: StationSettings) -> None:
        self.settings = settings
        self.notify = settings.notify
        self._next_poles_us = 0  # the fleet is read at most every POLES_EVERY_US, not per batch
        self._last_poles_us = 0

    def collect(self, conn: Connection, now_us: int) -> list[Notice]:
        out = [*self._device_messages(conn), *self._gaps(conn, now_us)]
        if now_us >= self._next_poles_us or now_us < self._last_poles_us:  # (a test's clock may go back)
            self._last_poles_us, self._next_poles_us = now_us, now_us + POLES_EVERY_US
            out += self._poles(conn, now_us)
        return out

    # -- alarms and camera health ------------------------------------------------------------

    def _device_messages(self, conn: Connection) -> list[Notice]:
        start = cursor(conn, "device_messages")
        rows = conn.execute(
            select(device_messages)
            .where(device_messages.c.id > start, device_messages.c.kind.in_(("alarm", "health")))
            .order_by(device_messages.c.id)
            .limit(BATCH)
        ).all()
        out = [n for r in rows if (n := self._one(conn, r)) is not None]
        if rows:
            set_cursor(conn, "device_messages", int(rows[-1].id))
        return out

    def _one(self, conn: Connection, r: Any) -> Notice | None:
        try:
            body = json.loads(r.raw)
        except ValueError:
            return None  # ingest checked it is a JSON object; nothing else to tell
        if r.kind == "alarm":
            event = str(body.get("event", ""))[:96]
            return Notice(
                "alarm",
                f"alarm:{r.id}",
                r.device,
                r.camera,
                int(r.received_us),
                {
                    "rule": str(body.get("rule", ""))[:64],
                    "zone": str(body.get("zone", ""))[:64],
                    "label": str(body.get("label", ""))[:32],
                    "event": event,
                    "time": str(body.get("time") or to_iso(r.received_us))[:40],
                },
                event_id=event or None,
            )
        condition = str(body.get("kind", "camera"))[:32]
        active = bool(body.get("active", True))
        return Notice(
            "camera_health" if active else "camera_recovered",
            f"health:{r.id}",
            r.device,
            r.camera,
            int(r.received_us),
            {
                "condition": condition,
                "detail": str(body.get("detail", ""))[:300],
                "time": to_iso(r.received_us),
            },
            picture_sha256=snapshot_of(conn, r.device, r.camera),
        )

    # -- gaps --------------------------------------------------------------------------------

    def _gaps(self, conn: Connection, now_us: int) -> list[Notice]:
        start = cursor(conn, "seq_gaps")
        rows = conn.execute(
            select(seq_gaps)
            .where(seq_gaps.c.id > start, seq_gaps.c.detected_us <= now_us - int(GAP_WAIT_S * 1e6))
            .order_by(seq_gaps.c.id)
            .limit(BATCH)
        ).all()
        if rows:
            set_cursor(conn, "seq_gaps", int(rows[-1].id))
        return [
            Notice(
                "seq_gap",
                f"gap:{r.id}",
                r.device,
                "",
                int(r.detected_us),
                {
                    "first_seq": int(r.first_seq),
                    "last_seq": int(r.last_seq),
                    "missing": int(r.last_seq - r.first_seq + 1),
                    "time": to_iso(r.detected_us),
                },
            )
            for r in rows
        ]

    # -- poles up and down -------------------------------------------------------------------

    def _poles(self, conn: Connection, now_us: int) -> list[Notice]:
        f = self.settings.fleet
        out: list[Notice] = []
        known = {r.device: r for r in conn.execute(select(notify_poles))}
        for pole in fleet(conn, now_us, f.stale_after_s):
            device = pole["device"]
            row = known.get(device)
            if row is None:
                insert_ignore(
                    conn, notify_poles, {"device": device, "state": "up", "reminders": 0, "alerts": "[]"}
                )
                row = conn.execute(select(notify_poles).where(notify_poles.c.device == device)).one()
            down = pole["state"] in DOWN
            values, notice = self._pole_step(row, pole, down, now_us)
            if values:
                conn.execute(update(notify_poles).where(notify_poles.c.device == device).values(**values))
            if notice is not None:
                out.append(
                    Notice(
                        notice[0],
                        notice[1],
                        device,
                        "",
                        now_us,
                        notice[2],
                        picture_sha256=snapshot_of(conn, device),
                        group=False,
                    )
                )
        return out

    def _pole_step(
        self, row: Any, pole: dict[str, Any], down: bool, now_us: int
    ) -> tuple[dict[str, Any], tuple[str, str, dict[str, Any]] | None]:
        n = self.notify
        window_us = int(n.flap_window_s * 1e6)
        device = pole["device"]
        stats = pole.get("stats_age_s")
        last_heard = to_iso(now_us - int(stats * 1e6)) if stats is not None else pole["since"]
        alerts = [t for t in json.loads(row.alerts or "[]") if now_us - t <= window_us]
        flapping = row.flapping_us is not None
        if flapping and (not alerts or now_us - max(alerts) > window_us) and not down:
            return {"flapping_us": None, "alerts": json.dumps(alerts)}, None
        if down:
            since = _us(pole["since"]) or now_us
            if row.state == "up":
                return {
                    "state": pole["state"],
                    "down_since_us": since,
                    "alerted_us": None,
                    "reminders": 0,
                }, None
            down_since = int(row.down_since_us or since)
            facts = {
                "state": pole["state"],
                "since": to_iso(down_since),
                "last_heard": last_heard,
                "time": to_iso(down_since),
            }
            late = overdue(pole, down_since, now_us, self.settings.fleet.alert_after_s)
            if row.alerted_us is None and late:
                alerts.append(now_us)
                values: dict[str, Any] = {"alerted_us": now_us, "alerts": json.dumps(alerts)}
                if flapping:
                    return values, None
                if len(alerts) >= n.flap_changes:
                    values["flapping_us"] = now_us
                    window = f"{round(n.flap_window_s / 60)} min"
                    return values, (
                        "pole_flapping",
                        f"flapping:{device}:{now_us}",
                        {"changes": len(alerts), "window": window, "time": to_iso(now_us)},
                    )
                return values, ("pole_offline", f"offline:{device}:{down_since}", facts)
            due = [r for r in n.reminders_s if now_us - down_since >= r * 1e6]
            if row.alerted_us is not None and len(due) > row.reminders and not flapping:
                facts["down_for"] = duration((now_us - down_since) / 1e6)
                return {"reminders": len(due)}, (
                    "pole_reminder",
                    f"reminder:{device}:{down_since}:{len(due)}",
                    facts,
                )
            return {}, None
        if row.state == "up":
            return {}, None
        values = {"state": "up", "down_since_us": None, "alerted_us": None, "reminders": 0}
        if row.alerted_us is None or flapping:
            return values, None
        down_since = int(row.down_since_us or now_us)
        return values, (
            "pole_back",
            f"back:{device}:{down_since}",
            {
                "since": to_iso(down_since),
                "down_for": duration((now_us - down_since) / 1e6),
                "time": to_iso(now_us),
            },
        )


def duration(seconds: float) -> str:
    """A length of time as a message says it: 45 min, 3 h 05 min, 2 d 4 h."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"
