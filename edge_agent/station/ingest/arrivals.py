"""Segments arriving from the poles the station asked: chunks written in order, checked when whole.

In the archive's transaction (`Arrivals.store`): a chunk is taken only for a segment the station
asked for (its `footage_files` row is `wanted` or `arriving`) and whose chain record it has, with
the record's size and name; its new bytes are written and fsynced (`FootageFiles.append`) before
the row that counts them commits. When the last byte has come the file is hashed: the record's
sha256 makes it `verified`, any other `mismatch` (kept, flagged, with the sentence saying so). A
chunk sent twice (QoS 1) or after the segment is done changes nothing. What the pole says it cannot
send (its reply's `unavailable`, or a notice later) makes the segment `unavailable` with the
pole's reason; a reply that refuses the whole ask puts the pole's words on the segments asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, select, update

from edge_agent.contract.footage import check_segment, parse_record
from edge_agent.station.ingest.footage import segment_where
from edge_agent.station.ingest.inbox import ChunkRecord, ClipNoticeRecord, Reject
from edge_agent.station.store.footage_files import FootageFiles, SegmentKey
from edge_agent.station.store.footage_tables import footage_files, footage_segments

OPEN = ("wanted", "arriving")


@dataclass
class ArrivalNews:
    rejects: list[tuple[int, str, Reject]] = field(default_factory=list)  # (received_us, broker, why)
    stored: int = 0
    duplicates: int = 0
    verified: int = 0
    mismatched: int = 0


def _key_where(table: object, key: SegmentKey) -> object:
    return segment_where(table, key.device, key.camera, key.chain, key.idx)


class Arrivals:
    def __init__(self, files: FootageFiles | None) -> None:
        self.files = files

    def store(
        self,
        conn: Connection,
        chunks: list[tuple[int, str, ChunkRecord]],
        notices: list[tuple[int, ClipNoticeRecord]],
    ) -> ArrivalNews:
        news = ArrivalNews()
        for at, broker, chunk in chunks:
            why = self._chunk(conn, chunk, at, news)
            if why:
                news.rejects.append((at, broker, Reject(chunk.topic, why, chunk.data[:0])))
        for at, notice in notices:
            self._notice(conn, notice, at)
        return news

    def _chunk(self, conn: Connection, chunk: ChunkRecord, at: int, news: ArrivalNews) -> str:
        """Take one chunk; the reason it is refused, or "" when it was taken (or a duplicate)."""
        h = chunk.header
        key = SegmentKey(chunk.device, chunk.camera, h.chain, h.index)
        if self.files is None:
            return "footage chunk: this station keeps no footage"
        f = conn.execute(select(footage_files).where(_key_where(footage_files, key))).first()
        if f is None:
            return f"footage chunk of segment {h.index} of chain {h.chain}, which the station did not ask for"
        if f.state not in OPEN:
            news.duplicates += 1
            return ""
        seg = conn.execute(
            select(footage_segments.c.bytes, footage_segments.c.sha256, footage_segments.c.name).where(
                _key_where(footage_segments, key)
            )
        ).first()
        if seg is None:  # cannot happen: a segment is asked for from its record
            return f"footage chunk of segment {h.index}: the station has no record of it"
        if (h.size, h.name) != (seg.bytes, seg.name):
            return (
                f"footage chunk says segment {h.index} is {h.name} of {h.size} bytes; "
                f"its record says {seg.name} of {seg.bytes}"
            )
        before = self.files.size(key)
        have = self.files.append(key, h.offset, chunk.data)
        if have == before:
            news.duplicates += 1
        else:
            news.stored += 1
        state, reason = "arriving", ""
        if have >= seg.bytes:
            digest = self.files.finish(key, seg.sha256)
            if digest == seg.sha256:
                state = "verified"
                news.verified += 1
            else:
                record = parse_record(
                    conn.execute(
                        select(footage_segments.c.raw).where(_key_where(footage_segments, key))
                    ).scalar_one()
                )
                state, reason = "mismatch", "; ".join(check_segment(record, digest, have))
                news.mismatched += 1
        conn.execute(
            update(footage_files)
            .where(_key_where(footage_files, key))
            .values(state=state, have_bytes=have, reason=reason, updated_us=at)
        )
        return ""

    def _notice(self, conn: Connection, notice: ClipNoticeRecord, at: int) -> None:
        c = footage_files.c
        for u in notice.unavailable:
            key = SegmentKey(notice.device, u.camera, u.chain, u.index)
            changed = conn.execute(
                update(footage_files)
                .where(and_(_key_where(footage_files, key), c.state.in_(OPEN)))
                .values(state="unavailable", reason=u.reason, updated_us=at)
            )
            if changed.rowcount and self.files is not None:
                self.files.discard(key)
        if notice.error:
            where = and_(c.device == notice.device, c.state == "wanted")
            if notice.request and notice.request.startswith("a") and notice.request[1:].isdigit():
                where = and_(where, c.asked_us == int(notice.request[1:]))
            conn.execute(
                update(footage_files).where(where).values(reason=f"the pole answered: {notice.error[:300]}")
            )
