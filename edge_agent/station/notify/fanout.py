"""A notice → outbox rows, one per subscription and channel that wants it, each with its state.

A row is `pending` (to be sent), or kept with the reason it is not: `skipped` (quiet hours, a
snooze, the pole in maintenance) or `grouped` (a storm of the same kind on one pole within the
subscription's `group_window_s`, or past its `max_per_hour`: counted in one `summary` row sent
when the window ends — "12 more alarms at pole 17 in the last 5 min"). Every row is written
with `key` unique, so fanning the same notice out twice adds nothing.

A pass (`begin` … `flush`) reads maintenance and snoozes once and writes its rows in one
multi-row insert: a storm of 10,000 alarms must not hold the database (SQLite has one writer)
against ingest. The grouping windows and hourly counts are kept in memory — the alerts' thread
is the only writer of the outbox — and read from the table the first time a key is met.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime, time, tzinfo
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from edge_agent.station.config import StationSettings
from edge_agent.station.config.notify import SubscriptionConfig
from edge_agent.station.notify.notice import Notice
from edge_agent.station.notify.snooze import snoozes
from edge_agent.station.query.localtime import iso_local
from edge_agent.station.store.notify_tables import notify_outbox
from edge_agent.station.store.ops import insert_ignore
from edge_agent.station.store.web_tables import maintenance

LIVE = ("pending", "sending", "sent")
MAINTENANCE_KINDS = {
    "pole_offline",
    "pole_reminder",
    "pole_back",
    "pole_flapping",
    "camera_health",
    "camera_recovered",
    "seq_gap",
}
HOUR_US = 3_600_000_000


def in_quiet_hours(quiet: tuple[time, time], now_us: int, zone: tzinfo) -> bool:
    t = datetime.fromtimestamp(now_us / 1e6, UTC).astimezone(zone).time()
    start, end = quiet
    return start <= t < end if start <= end else (t >= start or t < end)


class FanOut:
    def __init__(self, settings: StationSettings, zone: tzinfo) -> None:
        self.settings = settings
        self.notify = settings.notify
        self.zone = zone
        self._first: dict[tuple[str, str, str, str], int | None] = {}  # window start per thread
        self._hour: dict[tuple[str, str], deque[int]] = {}  # live messages' times per channel
        self._rows: list[dict[str, Any]] = []
        self._summaries: set[str] = set()  # summary rows made by this process
        self._maintenance: dict[str, Any] = {}
        self._snoozes: list[Any] = []

    def subscriptions_for(self, notice: Notice) -> list[SubscriptionConfig]:
        out = []
        for sub in self.notify.subscriptions:
            poles = self.notify.poles_of(sub)
            station_wide = notice.device == ""  # the station's own troubles: every subscriber of the kind
            if notice.kind in sub.kinds and (station_wide or poles is None or notice.device in poles):
                out.append(sub)
        return out

    def begin(self, conn: Connection, now_us: int) -> None:
        self._maintenance = {m.device: m for m in conn.execute(select(maintenance))}
        self._snoozes = snoozes(conn, now_us)
        self._rows = []

    def flush(self, conn: Connection) -> None:
        if not self._rows:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(notify_outbox).on_conflict_do_nothing(), self._rows)
        self._rows = []

    def add(
        self,
        conn: Connection,
        notice: Notice,
        now_us: int,
        only: SubscriptionConfig | None = None,
        suffix: str = "",
    ) -> int:
        """Queue the notice's rows for `flush` (to `only`, when given, with `suffix` on their
        keys: an escalation); returns how many are to be sent now."""
        subs = [only] if only is not None else self.subscriptions_for(notice)
        pending = 0
        for sub in subs:
            reason = self._skip_reason(sub, notice, now_us)
            for channel in sub.channels:
                state, why, group_key = (
                    ("skipped", reason, None) if reason else self._limits(conn, sub, channel, notice, now_us)
                )
                self._rows.append(
                    {
                        "key": f"{notice.source}|{sub.name}|{channel}"[: 255 - len(suffix)] + suffix,
                        "source": notice.source[:200],
                        "kind": notice.kind,
                        "subscription": sub.name,
                        "channel": channel,
                        "device": notice.device,
                        "camera": notice.camera,
                        "facts": json.dumps(notice.facts, ensure_ascii=False, sort_keys=True),
                        "picture_sha256": notice.picture_sha256,
                        "event_id": notice.event_id,
                        "state": state,
                        "reason": why,
                        "group_key": group_key,
                        "attempts": 0,
                        "created_us": now_us,
                        "due_us": now_us,
                        "sent_us": None,
                        "ack_us": None,
                        "ack_by": None,
                    }
                )
                pending += state == "pending"
        return pending

    def _skip_reason(self, sub: SubscriptionConfig, n: Notice, now_us: int) -> str:
        m = self._maintenance.get(n.device)
        if n.kind in MAINTENANCE_KINDS and m is not None:
            return f"pole in maintenance (by {m.by} since {iso_local(int(m.since_us), self.zone)})"
        snooze = next(
            (
                z
                for z in self._snoozes
                if z.device == n.device and z.camera in ("", n.camera) and z.until_us > now_us
            ),
            None,
        )
        if snooze is not None:
            what = f"{n.device}/{snooze.camera}" if snooze.camera else n.device
            return f"{what} snoozed by {snooze.by} until {iso_local(int(snooze.until_us), self.zone)}"
        quiet = sub.quiet_range()
        if (
            quiet is not None
            and (n.kind != "alarm" or sub.quiet_alarms)
            and in_quiet_hours(quiet, now_us, self.zone)
        ):
            return f"quiet hours {sub.quiet_hours} ({getattr(self.zone, 'key', self.zone)})"
        return ""

    def _window_start(self, conn: Connection, key: tuple[str, str, str, str], since_us: int) -> int | None:
        if key not in self._first:
            o = notify_outbox.c
            sub, channel, kind, device = key
            self._first[key] = conn.execute(
                select(o.created_us)
                .where(
                    o.subscription == sub,
                    o.channel == channel,
                    o.kind == kind,
                    o.device == device,
                    o.state.in_(LIVE),
                    o.created_us >= since_us,
                )
                .order_by(o.created_us)
                .limit(1)
            ).scalar()
        first = self._first[key]
        return first if first is not None and first >= since_us else None

    def _last_hour(self, conn: Connection, sub: str, channel: str, now_us: int) -> deque[int]:
        times = self._hour.get((sub, channel))
        if times is None:
            o = notify_outbox.c
            times = self._hour[(sub, channel)] = deque(
                conn.execute(
                    select(o.created_us)
                    .where(
                        o.subscription == sub,
                        o.channel == channel,
                        o.state.in_(LIVE),
                        o.kind != "summary",
                        o.created_us >= now_us - HOUR_US,
                    )
                    .order_by(o.created_us)
                ).scalars()
            )
        while times and times[0] < now_us - HOUR_US:
            times.popleft()
        return times

    def _limits(
        self, conn: Connection, sub: SubscriptionConfig, channel: str, n: Notice, now_us: int
    ) -> tuple[str, str, str | None]:
        key = (sub.name, channel, n.kind, n.device)
        if n.group and sub.group_window_s > 0:
            window_us = int(sub.group_window_s * 1e6)
            first = self._window_start(conn, key, now_us - window_us)
            if first is not None:
                group = f"group:{sub.name}:{channel}:{n.kind}:{n.device}:{first}"
                self._summary(conn, group, sub, channel, n, first + window_us, now_us, sub.group_window_s)
                when = iso_local(first, self.zone)
                return (
                    "grouped",
                    f"grouped with the {n.kind} of {when} (within {sub.group_window_s:.0f} s)",
                    group,
                )
        times = self._last_hour(conn, sub.name, channel, now_us)
        if len(times) >= sub.max_per_hour:
            bucket = now_us // HOUR_US
            group = f"limit:{sub.name}:{channel}:{bucket}"
            self._summary(conn, group, sub, channel, n, (bucket + 1) * HOUR_US, now_us, 3600.0, device="")
            return (
                "grouped",
                f"over {sub.max_per_hour} messages an hour: counted in the hour's summary",
                group,
            )
        times.append(now_us)
        self._first[key] = now_us
        return "pending", "", None

    def _summary(
        self,
        conn: Connection,
        key: str,
        sub: SubscriptionConfig,
        channel: str,
        n: Notice,
        due_us: int,
        now_us: int,
        window_s: float,
        device: str | None = None,
    ) -> None:
        if key in self._summaries:
            return
        self._summaries.add(key)
        facts: dict[str, Any] = {"what": n.kind, "window": f"{round(window_s / 60)} min"}
        insert_ignore(
            conn,
            notify_outbox,
            {
                "key": key[:255],
                "source": key[:200],
                "kind": "summary",
                "subscription": sub.name,
                "channel": channel,
                "device": n.device if device is None else device,
                "camera": "",
                "facts": json.dumps(facts, sort_keys=True),
                "picture_sha256": None,
                "event_id": None,
                "state": "pending",
                "reason": "",
                "group_key": None,
                "attempts": 0,
                "created_us": now_us,
                "due_us": due_us,
            },
        )
