"""The outbox: every outgoing message is stored in SQLite before it is sent, and deleted only
when the broker has acknowledged it. It survives broker outages, restarts and power loss.

Writes are cheap and durable where it matters: SQLite in WAL mode with `synchronous=NORMAL`,
so a commit is a plain write (safe against a crash or SIGKILL of the agent) and the fsync happens
at the checkpoint that `sync()` runs once per `flush_interval_s` — one fsync per interval, not
one per message, which spares the SD card; a power cut can cost at most that interval. An event
or alarm is committed as soon as it is put (with the thumbnail put just before it); other
messages (pictures, stats, motion) and the acknowledgements are committed in batches by the
delivery thread.

Bounded in bytes: when full, the oldest thumbnails and snapshots go first, then the oldest other
messages (events last); every drop is counted by kind and reported in stats.
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

log = logging.getLogger(__name__)

PICTURES = (Kind.THUMBNAIL.value, Kind.SNAPSHOT.value)
IMMEDIATE = (Kind.EVENT, Kind.ALARM)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    kind TEXT NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    properties TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


INSERT_ROW = (
    "INSERT INTO outbox (topic, payload, kind, qos, retain, content_type, properties, size)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class OutboxError(RuntimeError):
    """The outbox database cannot be opened or written (disk full, permissions, damage)."""


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    message: Message


class Outbox:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pending: list[Message] = []
        self._acked: list[int] = []
        self._dirty = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM outbox").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(
                f"outbox {path} cannot be opened: {exc} (check the disk and permissions)"
            ) from None
        self._bytes, self._depth = int(row[0]), int(row[1])
        self.drops: dict[str, int] = self._load_counters()
        self.write_errors = 0

    # -- producer side (pipeline thread) -------------------------------------------------

    def put(self, message: Message) -> None:
        with self._lock:
            self._pending.append(message)
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

    # -- delivery side --------------------------------------------------------------------

    def ack(self, row_id: int) -> None:
        with self._lock:
            self._acked.append(row_id)

    def flush(self) -> None:
        """Commit pending messages and acknowledgements in one transaction; then enforce the bound.

        On a write error (disk full) the batch stays in memory and is tried again next time:
        nothing captured is lost while the process lives.
        """
        with self._lock:
            pending, acked = self._pending, self._acked
            if not pending and not acked:
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if acked:
                    self._delete(acked)
                for m in pending:
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
                self._enforce_bound()
                self._db.execute("COMMIT")
                self._dirty = True
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._resync()
                self.write_errors += 1
                log.error(
                    "outbox %s: write failed (%s); %d messages kept in memory, retrying",
                    self.path,
                    exc,
                    len(pending),
                )
                return
            self._pending, self._acked = [], []

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
                    self._db.execute(
                        "INSERT INTO counters (name, value) VALUES (?, 1) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + 1",
                        (f"dropped:{kind}",),
                    )

    def _resync(self) -> None:
        row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM outbox").fetchone()
        self._bytes, self._depth = int(row[0]), int(row[1])

    def _load_counters(self) -> dict[str, int]:
        rows = self._db.execute("SELECT name, value FROM counters WHERE name LIKE 'dropped:%'").fetchall()
        return {name.split(":", 1)[1]: int(value) for name, value in rows}

    def read(self, after_id: int, limit: int) -> list[Row]:
        """Stored messages with id > after_id, oldest first (what has been flushed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, kind, qos, retain, content_type, properties FROM outbox "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
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
    def bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        self.flush()
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
