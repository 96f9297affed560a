"""The maintenance switch: a volunteer working on a pole mutes its offline alerts until done."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, delete, select

from edge_agent.station.evidence import auditlog
from edge_agent.station.store.ops import insert_ignore, now_us
from edge_agent.station.store.web_tables import maintenance


def set_maintenance(engine: Engine, device: str, on: bool, by: str, note: str = "") -> None:
    with engine.begin() as conn:
        if on:
            insert_ignore(
                conn, maintenance, {"device": device, "by": by, "since_us": now_us(), "note": note[:500]}
            )
        else:
            conn.execute(delete(maintenance).where(maintenance.c.device == device))
        auditlog.append(conn, by, "maintenance-on" if on else "maintenance-off", {"pole": device})


def muted(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(maintenance.c.device)).scalars())


def muting(engine: Engine, publish: Callable[[str, bytes], bool]) -> Callable[[str, bytes], bool]:
    """Wrap the offline alerts' publish: a raised alert for a pole in maintenance is held back
    (not sent, not marked sent, so it goes out if the pole is still down when the switch is
    turned off); a cleared alert always goes out."""

    def publish_unless_muted(topic: str, payload: bytes) -> bool:
        device = topic.rsplit("/", 1)[-1]
        if b'"active": true' in payload and device in muted(engine):
            return False
        return publish(topic, payload)

    return publish_unless_muted
