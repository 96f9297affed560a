"""Cases: a name, a reason, who opened it, a set of events, and a hold that retention respects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update

from edge_agent.station.evidence import auditlog
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.ops import insert_ignore, now_us
from edge_agent.station.store.schema import case_events, cases, events


class CaseError(ValueError):
    """A case operation that cannot be done; the message says why and what to do."""


def _case(conn: Connection, name: str) -> Any:
    row = conn.execute(select(cases).where(cases.c.name == name)).first()
    if row is None:
        raise CaseError(f"no case named {name!r} (list them with `edge-agent station case list`)")
    return row


def open_case(engine: Engine, name: str, reason: str, opened_by: str, held: bool = True) -> None:
    if not name.strip() or len(name) > 128:
        raise CaseError("a case needs a name of 1 to 128 characters")
    with engine.begin() as conn:
        if conn.execute(select(cases.c.id).where(cases.c.name == name)).first():
            raise CaseError(f"case {name!r} already exists")
        conn.execute(
            insert(cases).values(name=name, reason=reason, opened_by=opened_by, opened_us=now_us(), held=held)
        )
        auditlog.append(conn, opened_by, "case-open", {"case": name, "reason": reason, "held": held})


def add_events(engine: Engine, name: str, refs: list[tuple[str, str]], actor: str) -> int:
    """Add events (device, event id) to a case; every one must be in the archive."""
    with engine.begin() as conn:
        case = _case(conn, name)
        added = 0
        for device, event_id in refs:
            if not conn.execute(
                select(events.c.id).where(and_(events.c.device == device, events.c.event_id == event_id))
            ).first():
                raise CaseError(f"event {device}/{event_id} is not in the archive")
            added += insert_ignore(
                conn,
                case_events,
                {
                    "case_id": case.id,
                    "device": device,
                    "event_id": event_id,
                    "added_by": actor,
                    "added_us": now_us(),
                },
            )
        auditlog.append(conn, actor, "case-add", {"case": name, "events": [f"{d}/{e}" for d, e in refs]})
    return added


def set_hold(engine: Engine, name: str, held: bool, actor: str) -> None:
    with engine.begin() as conn:
        case = _case(conn, name)
        conn.execute(update(cases).where(cases.c.id == case.id).values(held=held))
        auditlog.append(conn, actor, "hold" if held else "release", {"case": name})


def case_info(conn: Connection, name: str) -> dict[str, Any]:
    case = _case(conn, name)
    refs = conn.execute(
        select(case_events.c.device, case_events.c.event_id)
        .where(case_events.c.case_id == case.id)
        .order_by(case_events.c.device, case_events.c.event_id)
    ).all()
    return {
        "name": case.name,
        "reason": case.reason,
        "opened_by": case.opened_by,
        "opened_at": to_iso(case.opened_us),
        "held": case.held,
        "events": [f"{d}/{e}" for d, e in refs],
    }


def list_cases(conn: Connection) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "reason": c.reason,
            "opened_by": c.opened_by,
            "opened_at": to_iso(c.opened_us),
            "held": c.held,
        }
        for c in conn.execute(select(cases).order_by(cases.c.opened_us.desc()))
    ]


def iso_now() -> str:
    return to_iso(int(datetime.now(UTC).timestamp() * 1e6)) or ""
