"""Search the archive: poles, cameras, time range, labels, zones, lines, least score, stationary.

Newest first; keyset pagination (the cursor is the last row's start time and id), so page 1,000
costs what page 1 does. Indexes on (device, label, start), (device, start) and (start) make the
usual questions ("one label at one pole in 30 minutes", "latest 100 of one pole") index range scans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, or_, select, tuple_

from edge_agent.contract import iso_ms
from edge_agent.station.query import localtime
from edge_agent.station.store.schema import events

MAX_LIMIT = 500
CURSOR = re.compile(r"^(-?[0-9]{1,20})\.([0-9]{1,20})$")


class QueryError(ValueError):
    """A search parameter that cannot be used; the message names it and what is allowed."""


def parse_time(text: str, name: str, zone: tzinfo | None = None) -> int:
    """ISO 8601 → µs since the epoch; a time without an offset is on the station's clock."""
    try:
        return localtime.parse_time(text, name, zone)
    except localtime.TimeError as exc:
        raise QueryError(str(exc)) from None


def to_iso(us: int | None) -> str | None:
    return None if us is None else iso_ms(datetime.fromtimestamp(us / 1_000_000, UTC))


@dataclass
class Query:
    stations: list[str] = field(default_factory=list)  # wards, at a city (a ward's rows are its own)
    devices: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    from_us: int | None = None
    to_us: int | None = None
    min_score: float | None = None
    stationary: bool | None = None
    limit: int = 100
    cursor: str | None = None

    def check(self) -> Query:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit: must be 1..{MAX_LIMIT} (got {self.limit})")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise QueryError(f"min_score: must be 0..1 (got {self.min_score})")
        if self.from_us is not None and self.to_us is not None and self.from_us > self.to_us:
            raise QueryError("from: must not be after to")
        if self.cursor is not None and not CURSOR.match(self.cursor):
            raise QueryError("cursor: not a cursor this station gave (use next_cursor from a result)")
        for name in ("stations", "devices", "cameras", "labels", "zones", "lines"):
            for v in getattr(self, name):
                if not re.match(r"^[A-Za-z0-9_.:-]{1,96}$", v):
                    raise QueryError(f"{name}: {v!r} is not an id ([A-Za-z0-9_.:-])")
        return self

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


def _row(r: Any) -> dict[str, Any]:
    ok = r.thumb_status == "ok"
    return {
        "station": r.station,
        "device": r.device,
        "camera": r.camera,
        "event_id": r.event_id,
        "label": r.label,
        "start": to_iso(r.start_us),
        "end": to_iso(r.end_us),
        "state": r.last_type,
        "score": round(r.score, 3),
        "stationary": r.stationary,
        "zones": [z for z in r.zones.split(",") if z],
        "lines": [x for x in r.lines.split(",") if x],
        "clock_synced": r.clock_synced,
        "thumbnail_status": r.thumb_status,
        "thumbnail_sha256": r.thumb_sha256 if ok else None,
        "received": to_iso(r.first_received_us),
        "messages": r.messages,
        "last_seq": r.last_seq,
    }


def search(conn: Connection, q: Query) -> dict[str, Any]:
    q.check()
    cond = []
    if q.stations:
        cond.append(events.c.station.in_(q.stations))
    if q.devices:
        cond.append(events.c.device.in_(q.devices))
    if q.cameras:
        cond.append(events.c.camera.in_(q.cameras))
    if q.labels:
        cond.append(events.c.label.in_(q.labels))
    if q.zones:
        cond.append(or_(*(events.c.zones.like(f"%,{z},%") for z in q.zones)))
    if q.lines:
        cond.append(or_(*(events.c.lines.like(f"%,{x},%") for x in q.lines)))
    if q.from_us is not None:
        cond.append(events.c.start_us >= q.from_us)
    if q.to_us is not None:
        cond.append(events.c.start_us <= q.to_us)
    if q.min_score is not None:
        cond.append(events.c.score >= q.min_score)
    if q.stationary is not None:
        cond.append(events.c.stationary == q.stationary)
    if q.cursor:
        m = CURSOR.match(q.cursor)
        assert m is not None
        cond.append(tuple_(events.c.start_us, events.c.id) < tuple_(int(m.group(1)), int(m.group(2))))
    stmt = (
        select(events)
        .where(and_(True, *cond))
        .order_by(events.c.start_us.desc(), events.c.id.desc())
        .limit(q.limit + 1)
    )
    rows = conn.execute(stmt).all()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return {
        "events": [_row(r) for r in rows],
        "next_cursor": f"{rows[-1].start_us}.{rows[-1].id}" if more else None,
    }


def event_detail(conn: Connection, device: str, event_id: str) -> dict[str, Any] | None:
    from edge_agent.station.store.schema import event_messages, picture_uses

    row = conn.execute(
        select(events).where(and_(events.c.device == device, events.c.event_id == event_id))
    ).first()
    if row is None:
        return None
    out = _row(row)
    msgs = conn.execute(
        select(event_messages)
        .where(and_(event_messages.c.device == device, event_messages.c.event_id == event_id))
        .order_by(event_messages.c.seq)
    ).all()
    out["messages_received"] = [
        {
            "seq": m.seq,
            "type": m.type,
            "received": to_iso(m.received_us),
            "broker": m.broker,
            "clock_synced": m.clock_synced,
            "thumbnail_sha256": m.thumb_sha256,
        }
        for m in msgs
    ]
    uses = conn.execute(
        select(picture_uses.c.sha256, picture_uses.c.received_us)
        .where(and_(picture_uses.c.device == device, picture_uses.c.event_id == event_id))
        .order_by(picture_uses.c.received_us)
    ).all()
    named = {m.thumb_sha256 for m in msgs}
    out["thumbnail_versions"] = [
        {"sha256": u.sha256, "received": to_iso(u.received_us), "named_by_event": u.sha256 in named}
        for u in uses
    ]
    return out
