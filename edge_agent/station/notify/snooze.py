"""A pole or one camera silenced for a while (a volunteer knows the camera is covered by a
market stall until Sunday): its messages are kept with the reason, not sent. In the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select

from edge_agent.station.evidence import auditlog
from edge_agent.station.store.notify_tables import notify_snoozes
from edge_agent.station.store.ops import now_us


def snooze(engine: Engine, device: str, camera: str, seconds: float, by: str, note: str = "") -> int:
    """Silence `device` (every camera when `camera` is "") for `seconds`; returns the end (µs)."""
    now = now_us()
    until = now + int(seconds * 1e6)
    with engine.begin() as conn:
        conn.execute(
            insert(notify_snoozes).values(
                device=device, camera=camera, until_us=until, by=by, note=note[:500], created_us=now
            )
        )
        auditlog.append(
            conn,
            by,
            "notify-snooze",
            {"pole": device, "camera": camera, "seconds": seconds, "note": note[:200]},
        )
    return until


def unsnooze(engine: Engine, device: str, camera: str, by: str) -> int:
    with engine.begin() as conn:
        n = conn.execute(
            delete(notify_snoozes).where(notify_snoozes.c.device == device, notify_snoozes.c.camera == camera)
        ).rowcount
        auditlog.append(conn, by, "notify-unsnooze", {"pole": device, "camera": camera})
    return int(n or 0)


def active_snooze(conn: Connection, device: str, camera: str, at_us: int) -> Any:
    s = notify_snoozes.c
    return conn.execute(
        select(notify_snoozes)
        .where(s.device == device, s.until_us > at_us, or_(s.camera == "", s.camera == camera))
        .order_by(s.until_us.desc())
        .limit(1)
    ).first()


def snoozes(conn: Connection, at_us: int) -> list[Any]:
    s = notify_snoozes.c
    return list(conn.execute(select(notify_snoozes).where(s.until_us > at_us).order_by(s.device, s.camera)))
