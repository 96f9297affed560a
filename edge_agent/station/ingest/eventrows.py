"""The `events` rows (one per object pass) from a batch's new event messages, set-based.

The rows the batch touches are read with one look-up, merged in memory in the order the
messages came, then written with one multi-row INSERT (events seen for the first time) and one
executemany UPDATE (the others). The newest message (highest seq) describes the event; a late
one adds its score, zones, lines, clock status and count but changes nothing else.

The thumbnail check's first half: when the newest message names a thumbnail, the event is `ok`
if that picture has come (before, or anywhere in this batch), else `pending`; a thumbnail that
comes later turns it `ok` (`thumb_ok`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from edge_agent.contract import Event
from edge_agent.station.store.statements import (
    EVENT_UPDATED,
    Statements,
    chunks,
    events_by_keys,
    thumbs_present,
)

Thumb = tuple[str, str, str]  # device, event_id, sha256


def us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _tags(values: list[str]) -> str:
    return "," + ",".join(sorted(set(values))) + "," if values else ""


def _merge_tags(old: str, new: list[str]) -> str:
    return _tags([v for v in old.strip(",").split(",") if v] + new)


@dataclass
class _Row:
    values: dict[str, Any]
    id: int | None  # None: a new row
    named: bool = False  # a newest message set its thumbnail in this batch


def _new(e: Event, received_us: int) -> dict[str, Any]:
    return {
        "device": e.device,
        "camera": e.camera,
        "event_id": e.id,
        "label": e.label,
        "start_us": us(e.start),
        "end_us": us(e.end) if e.end else None,
        "last_type": e.type,
        "last_seq": e.seq,
        "score": max(e.score, e.top_score or 0.0),
        "stationary": e.stationary,
        "zones": _tags(e.zones),
        "lines": _tags([c.line for c in e.crossings]),
        "clock_synced": e.clock.synced,
        "thumb_sha256": e.thumbnail.sha256 if e.thumbnail else None,
        "thumb_status": "none",
        "first_received_us": received_us,
        "last_received_us": received_us,
        "messages": 1,
    }


def _merge(v: dict[str, Any], e: Event, received_us: int) -> bool:
    """Fold one more message into the row's values; True when it is the newest."""
    newest = e.seq > v["last_seq"]
    v["score"] = max(v["score"], e.score, e.top_score or 0.0)
    v["zones"] = _merge_tags(v["zones"], e.zones)
    v["lines"] = _merge_tags(v["lines"], [c.line for c in e.crossings])
    v["clock_synced"] = bool(v["clock_synced"]) and e.clock.synced
    v["last_received_us"] = max(v["last_received_us"], received_us)
    v["messages"] += 1
    if newest:
        v["label"], v["last_type"], v["last_seq"] = e.label, e.type, e.seq
        v["stationary"] = e.stationary
        if e.end:
            v["end_us"] = us(e.end)
        v["thumb_sha256"] = e.thumbnail.sha256 if e.thumbnail else None
    return newest


def store_events(
    conn: Connection, sql: Statements, new: Sequence[tuple[Event, int]], came: set[Thumb]
) -> set[tuple[str, str]]:
    """Write the events rows for the batch's new messages `(event, received_us)`, in the order
    they came; `came` holds the thumbnails of this batch. Returns the events written."""
    keys = list(dict.fromkeys((e.device, e.id) for e, _ in new))
    rows: dict[tuple[str, str], _Row] = {}
    for part in chunks(keys):
        for r in conn.execute(events_by_keys(part)):
            values = dict(r._mapping)
            rows[(r.device, r.event_id)] = _Row(values, values.pop("id"))
    for e, at in new:
        row = rows.get((e.device, e.id))
        if row is None:
            rows[(e.device, e.id)] = _Row(_new(e, at), None, named=True)
        elif _merge(row.values, e, at):
            row.named = True
    _thumb_status(conn, rows, came)
    inserts = [r.values for r in rows.values() if r.id is None]
    updates = [
        {"k_id": r.id, **{k: r.values[k] for k in EVENT_UPDATED}} for r in rows.values() if r.id is not None
    ]
    if inserts:
        sql.insert_events(conn, inserts)
    if updates:
        sql.update_events(conn, updates)
    return set(rows)


def _thumb_status(conn: Connection, rows: dict[tuple[str, str], _Row], came: set[Thumb]) -> None:
    ask = [
        (d, eid, r.values["thumb_sha256"])
        for (d, eid), r in rows.items()
        if r.named and r.values["thumb_sha256"] and (d, eid, r.values["thumb_sha256"]) not in came
    ]
    present = set(came)
    for part in chunks(ask):
        present |= {(d, eid, sha) for d, eid, sha in conn.execute(thumbs_present(part))}
    for (d, eid), r in rows.items():
        sha = r.values["thumb_sha256"]
        if r.named:
            r.values["thumb_status"] = (
                "none" if sha is None else "ok" if (d, eid, sha) in present else "pending"
            )
        elif sha is not None and (d, eid, sha) in came:
            r.values["thumb_status"] = "ok"
