"""The outbox: every outgoing message is stored in SQLite before it is sent, and deleted only
when the broker has acknowledged it. It survives broker outages, restarts and power loss.

Writes are cheap and durable where it matters: SQLite in WAL mode with `synchronous=NORMAL`,
so a commit is a plain write (safe against a crash or SIGKILL of the agent) and the fsync happens
at the checkpoint that `sync()` runs once per `flush_interval_s` — one fsync per interval, not
one per message, which spares the SD card; a power cut can cost at most that interval. An event
or alarm is committed as soon as it is put (with the thumbnail put just before it); other
messages (pictures, stats, motion) and the acknowledgements are committed in batches by the
delivery thread.

Sequence numbers: `next_seq()` hands out the device's event numbers one by one, and the highest
one is stored in the same transaction as the event that carries it — so after any restart the
numbers go on from there, with no jump and no number given twice; a hole a consumer sees is a
message that was really lost.

Bounded in bytes: when full, the oldest thumbnails and snapshots go first, then the oldest other
messages (events last); every drop is counted by kind and reported in stats. When the *disk* is
full, the oldest pictures are deleted to make room for what is being stored. What still cannot
be stored waits in memory, bounded too (pictures dropped first); a message dropped there is
counted as `lost`, logged, and never claimed as kept. A damaged database file is moved aside and
a fresh one started (outbox_file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from edge_agent.contract import Kind, Message
from edge_agent.delivery.outbox_file import (
    SEQ_MARGIN,
    OutboxError,
    Reserve,
    SeqHint,
    is_damage,
    is_full,
    move_aside,
    open_db,
)

__all__ = ["Outbox", "OutboxError", "Row"]

log = logging.getLogger(__name__)

PICTURES = (Kind.THUMBNAIL.value, Kind.SNAPSHOT.value)
IMMEDIATE = (Kind.EVENT, Kind.ALARM, Kind.FOOTAGE)
MAX_PENDING_BYTES = 4 * 2**20  # what may wait in memory while the disk refuses writes
ROOM_ROWS = 32  # pictures deleted per attempt to make room on a full disk

INSERT_ROW = (
    "INSERT INTO outbox (topic, payload, kind, qos, retain, content_type, properties, size)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
BUMP = (
    "INSERT INTO counters (name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    message: Message


class Outbox:
    def __init__(self, path: Path, max_bytes: int, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_pending_bytes = max_pending_bytes
        self._lock = threading.Lock()
        self._pending: list[Message] = []
        self._pending_bytes = 0
        self._acked: list[int] = []
        self._dirty = False
        self._hint = SeqHint(path.with_name("seq"))
        self._seq = 0
        self.write_errors = 0
        self.damaged = 0
        self.lost: dict[str, int] = {}  # messages that could never be stored, by kind
        self.generation = 0  # +1 each time a damaged file is replaced: row ids start again
        self._failing = False
        self._open()
        self._reserve = Reserve(path.with_name(path.name + ".reserve"))

    def _open(self, moved_aside: bool = False) -> None:
        self._db, healed = open_db(self.path)
        counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        self.drops = {k.split(":", 1)[1]: int(v) for k, v in counters.items() if k.startswith("dropped:")}
        floor = max(int(counters.get("seq", 0)), self._hint.read(), self._seq)
        if healed or moved_aside:
            self.damaged += 1
            self._db.execute(BUMP, ("damaged", 1))
        if healed:  # at start-up: this process does not know the last number sent; jump past it
            floor += SEQ_MARGIN
        self._seq = floor
        self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('seq', ?)", (floor,))
        self._resync()

    def _heal(self, exc: sqlite3.Error) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        move_aside(self.path, str(exc))
        self._acked = []  # their rows went with the damaged file
        self._open(moved_aside=True)
        self.generation += 1

    # -- producer side (pipeline thread) -------------------------------------------------

    def next_seq(self) -> int:
        """The next event number: one more than the last, stored with the event that takes it."""
        with self._lock:
            self._seq += 1
            return self._seq

    def put(self, message: Message) -> None:
        with self._lock:
            self._pending.append(message)
            self._pending_bytes += len(message.payload)
        if message.kind in IMMEDIATE:
            self.flush()

    def sync(self) -> None:
        """Make the committed rows safe against a power cut (checkpoint: fsync of the WAL)."""
        with self._lock:
            if not self._dirty:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._dirty = False
            except sqlite3.Error as exc:
                log.warning("outbox %s: checkpoint failed: %s", self.path, exc)
            self._hint.write(self._stored_seq())

    # -- delivery side --------------------------------------------------------------------

    def ack(self, row_id: int) -> None:
        with self._lock:
            self._acked.append(row_id)

    def flush(self) -> None:
        """Commit pending messages and acknowledgements in one transaction; then enforce the bound.

        A damaged file is healed and the write tried again; a full disk gives up the oldest
        pictures and tries again; what still cannot be written waits in memory (bounded).
        """
        with self._lock:
            if not self._pending and not self._acked:
                return
            for attempt in range(3):
                try:
                    self._write()
                except sqlite3.Error as exc:
                    if self._db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    self._resync()
                    if attempt < 2 and is_damage(exc):
                        self._heal(exc)
                        continue
                    if attempt < 2 and is_full(exc) and self._make_room():
                        continue
                    self._write_failed(exc)
                    return
                break
            if self._failing:
                log.warning("outbox %s: writing again; nothing waits in memory", self.path)
            self._failing = False
            self._reserve.ensure()
            self._pending, self._acked, self._pending_bytes = [], [], 0

    def _write(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        if self._acked:
            self._delete(self._acked)
        top = 0
        for m in self._pending:
            self._db.execute(
                INSERT_ROW,
                (
                    m.topic,
                    m.payload,
                    m.kind.value,
                    m.qos,
                    int(m.retain),
                    m.content_type,
                    json.dumps(m.properties),
                    len(m.payload),
                ),
            )
            self._bytes += len(m.payload)
            self._depth += 1
            top = max(top, m.seq or 0)
        if top:
            self._db.execute("UPDATE counters SET value = MAX(value, ?) WHERE name = 'seq'", (top,))
        self._enforce_bound()
        self._db.execute("COMMIT")
        self._dirty = True

    def _make_room(self) -> bool:
        """Disk full: delete the oldest stored pictures (events are small, pictures are not)."""
        marks = ",".join("?" * len(PICTURES))
        self._reserve.release()  # room for SQLite to write the deletion itself
        try:
            rows = self._db.execute(
                f"SELECT id, kind FROM outbox WHERE kind IN ({marks}) ORDER BY id LIMIT ?",
                (*PICTURES, ROOM_ROWS),
            ).fetchall()
            if not rows:
                return False
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(rows))})", [r[0] for r in rows]
            )
            for _, kind in rows:
                self._db.execute(BUMP, (f"dropped:{kind}", 1))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            log.error("outbox %s: disk full and no room could be made: %s", self.path, exc)
            return False
        with contextlib.suppress(sqlite3.Error):  # frees the WAL; harmless when it cannot yet
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for _, kind in rows:
            self.drops[kind] = self.drops.get(kind, 0) + 1
        self._resync()
        log.warning("outbox %s: disk full; dropped the %d oldest pictures to make room", self.path, len(rows))
        return True

    def _write_failed(self, exc: sqlite3.Error) -> None:
        self.write_errors += 1
        dropped = self._bound_pending()
        if not self._failing or dropped:
            log.error(
                "outbox %s: write failed (%s); %d messages wait in memory (%d lost so far)",
                self.path,
                exc,
                len(self._pending),
                sum(self.lost.values()),
            )
        self._failing = True

    def _bound_pending(self) -> int:
        """Drop waiting messages beyond max_pending_bytes: pictures first, then the oldest."""
        dropped = 0
        for pictures_only in (True, False):
            i = 0
            while self._pending_bytes > self.max_pending_bytes and i < len(self._pending):
                m = self._pending[i]
                if pictures_only and m.kind.value not in PICTURES:
                    i += 1
                    continue
                del self._pending[i]
                self._pending_bytes -= len(m.payload)
                self.lost[m.kind.value] = self.lost.get(m.kind.value, 0) + 1
                dropped += 1
        return dropped

    def _delete(self, ids: list[int]) -> None:
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            row = self._db.execute(
                f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM outbox WHERE id IN ({marks})", part
            ).fetchone()
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", part)
            self._bytes -= int(row[0])
            self._depth -= int(row[1])

    def _enforce_bound(self) -> None:
        """Drop the oldest pictures, then the oldest other messages, until under max_bytes."""
        for kinds, negate in ((PICTURES, False), (PICTURES, True)):
            while self._bytes > self.max_bytes:
                marks = ",".join("?" * len(kinds))
                cond = f"kind {'NOT ' if negate else ''}IN ({marks})"
                rows = self._db.execute(
                    f"SELECT id, kind, size FROM outbox WHERE {cond} ORDER BY id LIMIT 64", kinds
                ).fetchall()
                if not rows:
                    break
                for row_id, kind, size in rows:
                    if self._bytes <= self.max_bytes:
                        break
                    self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    self._bytes -= size
                    self._depth -= 1
                    self.drops[kind] = self.drops.get(kind, 0) + 1
                    self._db.execute(BUMP, (f"dropped:{kind}", 1))

    def _resync(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM outbox").fetchone()
            self._bytes, self._depth = int(row[0]), int(row[1])

    def _stored_seq(self) -> int:
        try:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0]) if row else 0

    def read(self, after_id: int, limit: int) -> list[Row]:
        """Stored messages with id > after_id, oldest first (what has been flushed)."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT id, topic, payload, kind, qos, retain, content_type, properties FROM outbox "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, limit),
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                if not is_damage(exc):
                    raise
                self._heal(exc)
                return []
        return [
            Row(r[0], Message(r[1], bytes(r[2]), Kind(r[3]), r[4], bool(r[5]), r[6], json.loads(r[7])))
            for r in rows
        ]

    # -- figures --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages not yet acknowledged: stored plus waiting in memory."""
        with self._lock:
            return self._depth + len(self._pending) - len(self._acked)

    @property
    def stored(self) -> int:
        """Messages on disk (not counting what waits in memory)."""
        with self._lock:
            return self._depth - len(self._acked)

    @property
    def waiting_in_memory(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        """Store what waits; what still cannot be stored is counted as lost and logged."""
        self.flush()
        with self._lock:
            if self._pending:
                for m in self._pending:
                    self.lost[m.kind.value] = self.lost.get(m.kind.value, 0) + 1
                log.error(
                    "outbox %s: %d messages could not be stored and are lost (disk full?)",
                    self.path,
                    len(self._pending),
                )
                self._pending, self._pending_bytes = [], 0
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._hint.write(self._stored_seq())
            self._db.close()
