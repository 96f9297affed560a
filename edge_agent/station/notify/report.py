"""What the outbox says, for the admin page, the CLI and the event page: counts by state, the
latest rows and every dead letter, the snoozes, one alarm's messages; and a dead letter sent
again by hand (audited)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from edge_agent.station.evidence import auditlog
from edge_agent.station.notify.snooze import snoozes
from edge_agent.station.store.notify_tables import notify_outbox
from edge_agent.station.store.ops import now_us

DEAD_SHOWN = 50


@dataclass
class Overview:
    states: Counter[str]
    rows: list[Any]  # newest first, then dead letters not among them
    snoozes: list[Any]


def overview(conn: Connection, at_us: int, limit: int = 30) -> Overview:
    o = notify_outbox.c
    states = Counter(
        {r.state: int(r.n) for r in conn.execute(select(o.state, func.count().label("n")).group_by(o.state))}
    )
    recent = list(conn.execute(select(notify_outbox).order_by(o.id.desc()).limit(limit)))
    dead = list(
        conn.execute(select(notify_outbox).where(o.state == "dead").order_by(o.id.desc()).limit(DEAD_SHOWN))
    )
    seen = {r.id for r in recent}
    return Overview(states, recent + [r for r in dead if r.id not in seen], snoozes(conn, at_us))


def alarm_messages(conn: Connection, device: str, event_id: str) -> list[Any]:
    """Every message about an event's alarms (escalations included), oldest first."""
    o = notify_outbox.c
    return list(
        conn.execute(
            select(notify_outbox)
            .where(o.device == device, o.event_id == event_id, o.kind == "alarm")
            .order_by(o.id)
        )
    )


def send_again(engine: Engine, row_id: int, by: str) -> bool:
    """A dead letter (or a skipped message) to be sent again now, with fresh tries."""
    o = notify_outbox.c
    with engine.begin() as conn:
        n = conn.execute(
            update(notify_outbox)
            .where(o.id == row_id, o.state.in_(("dead", "skipped")))
            .values(state="pending", attempts=0, due_us=now_us(), reason=f"sent again by {by}")
        ).rowcount
        if n:
            auditlog.append(conn, by, "notify-send-again", {"outbox": row_id})
    return bool(n)
