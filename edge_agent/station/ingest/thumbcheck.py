"""The thumbnail check's second half: an event whose named thumbnail has not come in time.

`mismatch` if a picture came under the event's thumbnail topic that no message of the event names
(its bytes do not hash to the sha256 the event names), else `missing`. Neither is ever shown as a
good picture.
"""

from __future__ import annotations

from sqlalchemy import Engine, and_, select, update

from edge_agent.station.store.ops import bump
from edge_agent.station.store.schema import event_messages, events, picture_uses


def flag_thumbnails(engine: Engine, older_than_us: int) -> int:
    flagged = 0
    with engine.begin() as conn:
        rows = conn.execute(
            select(events.c.id, events.c.device, events.c.event_id).where(
                and_(events.c.thumb_status == "pending", events.c.last_received_us < older_than_us)
            )
        ).all()
        for r in rows:
            named = select(event_messages.c.thumb_sha256).where(
                and_(
                    event_messages.c.device == r.device,
                    event_messages.c.event_id == r.event_id,
                    event_messages.c.thumb_sha256.is_not(None),
                )
            )
            other = conn.execute(
                select(picture_uses.c.id)
                .where(
                    and_(
                        picture_uses.c.kind == "thumbnail",
                        picture_uses.c.device == r.device,
                        picture_uses.c.event_id == r.event_id,
                        picture_uses.c.sha256.not_in(named),
                    )
                )
                .limit(1)
            ).first()
            status = "mismatch" if other else "missing"
            conn.execute(update(events).where(events.c.id == r.id).values(thumb_status=status))
            flagged += 1
        bump(conn, {"thumbnails flagged": flagged})
    return flagged
