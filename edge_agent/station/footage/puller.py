"""The station's side of pulling: ask online poles for what is wanted, close what is finished.

`Puller.run_once(now)` (the housekeeping loop, every couple of seconds): for each online pole,
the segments still `wanted` (never asked, asked more than `ask_every_s` ago, or asked before the
pole last came online) or `arriving` without a byte for `ask_every_s`, grouped by camera and
chain, go out as `ClipRequest`s of at most `MAX_SEGMENTS`, each segment from the bytes already
here, through `send(device, payload)` (the pole's `cmd/clip` on the brokers the station reads).
A pole that is offline is not asked: its segments wait, and the request says so. Requests whose
every segment is verified, flagged or unavailable are closed. With `auto_alarms`, every alarm's
event is asked for by itself once the event has ended (or two minutes after the alarm).

The pole keeps no upload state: after its reboot, a broker or a station restart, asking again
with the offsets the station has is all it takes to resume.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from sqlalchemy import Engine, and_, or_, select, update

from edge_agent.contract.clips import MAX_SEGMENTS, ClipRequest, WantedSegment, request_payload
from edge_agent.station.footage.requests import SETTLE_US, ClipError, ask_event, cover
from edge_agent.station.store.footage_tables import clip_requests, clip_segments, footage_files
from edge_agent.station.store.schema import counters, device_messages, devices, events

log = logging.getLogger(__name__)

CURSOR = "cursor: footage alarms"
ALARM_WAIT_US = 120 * 1_000_000
Send = Callable[[str, bytes], bool]


class Puller:
    def __init__(
        self,
        engine: Engine,
        send: Send,
        ask_every_s: float = 60.0,
        pre_s: float = 5.0,
        post_s: float = 5.0,
        auto_alarms: bool = False,
    ) -> None:
        self.engine = engine
        self.send = send
        self.ask_every_us = int(ask_every_s * 1e6)
        self.pre_s, self.post_s = pre_s, post_s
        self.auto_alarms = auto_alarms

    def run_once(self, now: int) -> int:
        """One pass; the number of clip requests sent to poles."""
        if self.auto_alarms:
            self._alarms(now)
        self._refresh(now)
        sent = self._ask(now)
        self._close(now)
        return sent

    # -- asking --------------------------------------------------------------------------------

    def _due(self, now: int) -> list[tuple[str, str, str, int, str, int]]:
        f, d = footage_files.c, devices.c
        stale = now - self.ask_every_us
        wanted = and_(
            f.state == "wanted",
            or_(f.asked_us.is_(None), f.asked_us < stale, f.asked_us < d.status_us),
        )
        stalled = and_(
            f.state == "arriving", f.updated_us < stale, or_(f.asked_us.is_(None), f.asked_us < stale)
        )
        q = (
            select(f.device, f.camera, f.chain, f.idx, f.name, f.have_bytes)
            .select_from(footage_files.join(devices, d.device == f.device))
            .where(and_(d.status == "online", or_(wanted, stalled)))
            .order_by(f.device, f.camera, f.chain, f.idx)
            .limit(MAX_SEGMENTS * 64)
        )
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]

    def _ask(self, now: int) -> int:
        groups: dict[tuple[str, str, str], list[WantedSegment]] = {}
        for device, camera, chain, idx, name, have in self._due(now):
            groups.setdefault((device, camera, chain), []).append(
                WantedSegment(index=idx, name=name, offset=have)
            )
        sent = 0
        for (device, camera, chain), wanted in groups.items():
            for start in range(0, len(wanted), MAX_SEGMENTS):
                part = wanted[start : start + MAX_SEGMENTS]
                ask = ClipRequest(request=f"a{now}", camera=camera, chain=chain, segments=part)
                if not self.send(device, request_payload(ask)):
                    log.warning("could not ask %s for %d segments: no broker connected", device, len(part))
                    return sent
                sent += 1
                f = footage_files.c
                with self.engine.begin() as conn:
                    conn.execute(
                        update(footage_files)
                        .where(and_(f.device == device, f.camera == camera, f.chain == chain))
                        .where(f.idx.in_([w.index for w in part]))
                        .values(asked_us=now)
                    )
        return sent

    # -- finishing -----------------------------------------------------------------------------

    def _refresh(self, now: int) -> None:
        """Requests of the last few minutes gain the segments whose records came since."""
        r = clip_requests.c
        with self.engine.begin() as conn:
            recent = conn.execute(select(r.id).where(r.requested_us > now - SETTLE_US)).scalars().all()
            for rid in recent:
                cover(conn, int(rid), now)

    def _close(self, now: int) -> None:
        r, c, f = clip_requests.c, clip_segments.c, footage_files.c
        open_segments = (
            select(c.request_id)
            .select_from(
                clip_segments.join(clip_requests, r.id == c.request_id).join(
                    footage_files,
                    and_(f.device == r.device, f.camera == r.camera, f.chain == c.chain, f.idx == c.idx),
                )
            )
            .where(and_(r.closed_us.is_(None), f.state.in_(("wanted", "arriving"))))
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(clip_requests)
                .where(and_(r.closed_us.is_(None), r.id.not_in(open_segments)))
                .values(closed_us=now)
            )

    # -- automatic pulls -------------------------------------------------------------------------

    def _alarms(self, now: int) -> None:
        m, e = device_messages.c, events.c
        with self.engine.begin() as conn:
            cursor = conn.execute(select(counters.c.value).where(counters.c.name == CURSOR)).scalar()
            if cursor is None:  # the first start: alarms from before are not pulled
                top = conn.execute(select(m.id).order_by(m.id.desc()).limit(1)).scalar() or 0
                conn.execute(counters.insert().values(name=CURSOR, value=top))
                return
            rows = conn.execute(  # by id from the cursor: every other kind is passed over too
                select(m.id, m.kind, m.device, m.received_us, m.raw)
                .where(m.id > cursor)
                .order_by(m.id)
                .limit(2000)
            ).all()
            done = cursor
            for row in rows:
                if row.kind != "alarm":
                    done = row.id
                    continue
                try:
                    event_id = str(json.loads(row.raw)["event"])
                except (ValueError, KeyError, TypeError):
                    done = row.id
                    continue
                ended = conn.execute(
                    select(e.end_us).where(and_(e.device == row.device, e.event_id == event_id))
                ).first()
                if (ended is None or ended.end_us is None) and now - row.received_us < ALARM_WAIT_US:
                    break  # the event is still going on: its clip is asked for once it ends
                try:
                    ask_event(conn, row.device, event_id, "alarm rule", self.pre_s, self.post_s)
                except ClipError as exc:
                    log.info("alarm at %s: no clip asked: %s", row.device, exc)
                done = row.id
            if done != cursor:
                conn.execute(update(counters).where(counters.c.name == CURSOR).values(value=done))
