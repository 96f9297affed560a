"""The footage a pole says it recorded, checked as it comes: chain links, signed heads, pinned keys.

In the archive's transaction (`Footage.store`): each segment record is stored once per
(device, camera, chain, index); its `link` is checked against the record before it (`ok`,
`broken`, `first`, or `waiting` until that one comes, then settled); a record that differs from
the one already stored at its place is refused with a sentence (a second copy that is not the
first is a forgery or a pole that lost its state). A signed head is checked with the pole's
pinned key over the stored record it names (`ok` / `bad` with the reason), or stays `no key` /
`waiting` until they come, then settled. The pole's key comes in its `stats`
(`recording.public_key`): the first one seen is pinned; a different one later is kept as
`offered`, never pinned by itself, and counted (the alerts tell people).

Volumes are small (one record per kept segment, one head per `sign_every`), so statements go
row by row; what is known of the keys is cached, and the cache changes only once the batch has
committed (`committed`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select, update

from edge_agent.contract.footage import (
    ZERO_HASH,
    FootageError,
    SegmentRecord,
    SignedHead,
    check_head,
    key_fingerprint,
    parse_head,
    parse_record,
    public_key_from,
    record_hash,
)
from edge_agent.station.ingest.eventrows import us
from edge_agent.station.ingest.inbox import FootageRecord, Reject
from edge_agent.station.store.footage_tables import footage_heads, footage_segments, pole_keys
from edge_agent.station.store.ops import insert_ignore


@dataclass
class FootageNews:
    """What one batch did, for the caller's result and the key cache once it commits."""

    rejects: list[tuple[int, str, Reject]] = field(default_factory=list)  # (received_us, broker, why)
    counts: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    pinned: dict[str, bytes] = field(default_factory=dict)

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def segment_where(table: Any, device: str, camera: str, chain: str, idx: int) -> Any:
    """The row of one segment (device, camera, chain, index) in a footage table."""
    c = table.c
    return and_(c.device == device, c.camera == camera, c.chain == chain, c.idx == idx)


class Footage:
    def __init__(self) -> None:
        self._keys: dict[str, bytes | None] = {}  # device -> its pinned key (None: none yet)

    def committed(self, news: FootageNews) -> None:
        self._keys.update(news.pinned)

    def store(
        self,
        conn: Connection,
        items: Iterable[tuple[int, str, FootageRecord]],
        stats: Iterable[tuple[int, str, bytes]] = (),
    ) -> FootageNews:
        """`items`: (received_us, broker, record); `stats`: (received_us, device, raw stats)."""
        news = FootageNews()
        for at, device, raw in stats:
            self._offer_key(conn, device, raw, at, news)
        for at, broker, rec in items:
            if isinstance(rec.item, SegmentRecord):
                self._segment(conn, rec, rec.item, at, broker, news)
            else:
                self._head(conn, rec, rec.item, at, news)
        return news

    # -- keys ----------------------------------------------------------------------------------

    def _pinned(self, conn: Connection, device: str, news: FootageNews) -> bytes | None:
        if device in news.pinned:
            return news.pinned[device]
        if device not in self._keys:
            row = conn.execute(select(pole_keys.c.public_key).where(pole_keys.c.device == device)).first()
            self._keys[device] = base64.b64decode(row.public_key) if row else None
        return self._keys[device]

    def _offer_key(self, conn: Connection, device: str, raw: bytes, at: int, news: FootageNews) -> None:
        try:
            offered = json.loads(raw).get("recording", {}).get("public_key")
            key = public_key_from(offered) if isinstance(offered, str) else None
        except (ValueError, AttributeError, FootageError):
            news.count("footage: unreadable pole key in stats")
            return
        if key is None:
            return
        pinned = self._pinned(conn, device, news)
        b64, fingerprint = base64.b64encode(key).decode(), key_fingerprint(key)
        if pinned is None:
            insert_ignore(
                conn,
                pole_keys,
                {"device": device, "fingerprint": fingerprint, "public_key": b64, "pinned_us": at},
            )
            news.pinned[device] = key
            self._recheck_heads(conn, device, key, "no key")
        elif pinned != key:
            changed = conn.execute(
                update(pole_keys)
                .where(
                    and_(pole_keys.c.device == device, pole_keys.c.offered_public_key.is_distinct_from(b64))
                )
                .values(offered_fingerprint=fingerprint, offered_public_key=b64, offered_us=at)
            )
            if changed.rowcount:
                news.count("footage: pole key changed")

    # -- records -------------------------------------------------------------------------------

    def _segment(
        self, conn: Connection, rec: FootageRecord, r: SegmentRecord, at: int, broker: str, news: FootageNews
    ) -> None:
        digest = record_hash(r)
        row = {
            "device": r.device,
            "camera": r.camera,
            "chain": r.chain,
            "idx": r.index,
            "name": r.name,
            "bytes": r.bytes,
            "sha256": r.sha256,
            "start_us": us(r.start),
            "end_us": us(r.end),
            "clock_synced": r.clock_synced,
            "record_hash": digest,
            "prev": r.prev,
            "link": "waiting",
            "received_us": at,
            "raw": rec.raw,
        }
        if not insert_ignore(conn, footage_segments, row):
            stored = conn.execute(
                select(footage_segments.c.record_hash).where(
                    segment_where(footage_segments, r.device, r.camera, r.chain, r.index)
                )
            ).scalar_one()
            if stored == digest:
                news.duplicates += 1
            else:
                news.rejects.append(
                    (
                        at,
                        broker,
                        Reject(
                            rec.topic,
                            f"footage record {r.index} of chain {r.chain} differs from the one the station "
                            "already has at that place: a forgery, or a pole that lost its recording state",
                            rec.raw,
                        ),
                    )
                )
            return
        news.stored += 1
        link = self._link(conn, r)
        conn.execute(
            update(footage_segments)
            .where(segment_where(footage_segments, r.device, r.camera, r.chain, r.index))
            .values(link=link)
        )
        after = segment_where(footage_segments, r.device, r.camera, r.chain, r.index + 1)
        nxt = conn.execute(select(footage_segments.c.prev, footage_segments.c.link).where(after)).first()
        if nxt is not None and nxt.link == "waiting":
            conn.execute(
                update(footage_segments).where(after).values(link="ok" if nxt.prev == digest else "broken")
            )
        if link == "broken":
            news.count("footage: broken link")
        self._recheck_heads(conn, r.device, self._pinned(conn, r.device, news), "waiting", r)

    def _link(self, conn: Connection, r: SegmentRecord) -> str:
        if r.index == 0:
            return "first" if r.prev == ZERO_HASH else "broken"
        before = conn.execute(
            select(footage_segments.c.record_hash).where(
                segment_where(footage_segments, r.device, r.camera, r.chain, r.index - 1)
            )
        ).scalar()
        if before is None:
            return "waiting"
        return "ok" if before == r.prev else "broken"

    # -- heads ---------------------------------------------------------------------------------

    def _head(self, conn: Connection, rec: FootageRecord, h: SignedHead, at: int, news: FootageNews) -> None:
        status, problem = self._judge(conn, h, self._pinned(conn, h.device, news))
        row = {
            "device": h.device,
            "camera": h.camera,
            "chain": h.chain,
            "idx": h.index,
            "head": h.head,
            "key": h.key,
            "status": status,
            "problem": problem,
            "received_us": at,
            "raw": rec.raw,
        }
        if insert_ignore(conn, footage_heads, row):
            news.stored += 1
            if status == "bad":
                news.count("footage: badly signed head")
        else:
            news.duplicates += 1

    def _judge(self, conn: Connection, h: SignedHead, key: bytes | None) -> tuple[str, str]:
        if key is None:
            return "no key", "the pole's key is not known yet (it comes in the pole's stats)"
        raw = conn.execute(
            select(footage_segments.c.raw).where(
                segment_where(footage_segments, h.device, h.camera, h.chain, h.index)
            )
        ).scalar()
        record = None
        if raw is not None:
            record = parse_record(raw)
        problems = check_head(h, key, record)
        if problems:
            return "bad", "; ".join(problems)
        return ("ok", "") if record is not None else ("waiting", "the record it signs has not come yet")

    def _recheck_heads(
        self,
        conn: Connection,
        device: str,
        key: bytes | None,
        status: str,
        record: SegmentRecord | None = None,
    ) -> None:
        """Settle the heads that were waiting for this key or this record."""
        c = footage_heads.c
        where = and_(c.device == device, c.status == status)
        if record is not None:
            where = and_(where, c.camera == record.camera, c.chain == record.chain, c.idx == record.index)
        for row in conn.execute(select(c.camera, c.chain, c.idx, c.raw).where(where)).all():
            new_status, problem = self._judge(conn, parse_head(row.raw), key)
            conn.execute(
                update(footage_heads)
                .where(segment_where(footage_heads, device, row.camera, row.chain, row.idx))
                .values(status=new_status, problem=problem)
            )
