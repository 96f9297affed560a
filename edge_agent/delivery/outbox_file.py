"""Opening the outbox's SQLite file — and healing a damaged one instead of reboot-looping.

An SD card that lost power mid-write, or wore out, can leave `outbox.db` (or its `-wal`) as
random bytes, truncated, or "database disk image is malformed". Refusing to start would only make
systemd restart the agent until the Pi reboots, for ever. So a file that SQLite calls damaged is
moved aside as `outbox.db.damaged-<UTC time>` (kept for a technician, never deleted by us), a
fresh one is started, and this is logged once and counted in stats. Only a directory that cannot
hold a database at all (permissions, read-only, missing mount) is an `OutboxError` (exit 5).

The sequence number's floor: the outbox stores the highest `seq` it has issued in the same
transaction as the message that carries it; a small hint file (`seq`, written at each checkpoint,
not per message) keeps it too, so that after a damaged database numbering resumes *above*
everything ever sent — by `SEQ_MARGIN`, more than could be issued between two checkpoints. The
jump is a gap a consumer sees, and rightly: the damaged file's unsent messages are lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

SEQ_MARGIN = 1000
RESERVE_BYTES = 512 * 1024

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


class OutboxError(RuntimeError):
    """The outbox's directory cannot hold a database (permissions, read-only, missing)."""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # The WAL is copied into the database every 512 kB (and shrinks back to that size): the
        # WAL can only be emptied by a checkpoint that needs room in the database file, so on a
        # nearly full disk it must never hold much.
        db.execute("PRAGMA wal_autocheckpoint=128")
        db.execute(f"PRAGMA journal_size_limit={RESERVE_BYTES}")
        # Debian's SQLite zeroes every freed page (secure_delete=1): deleting a picture would then
        # write the whole picture again — impossible on a full disk, and wear on any SD card.
        db.execute("PRAGMA secure_delete=FAST")
        (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        db.executescript(SCHEMA)
        db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
    except BaseException:
        db.close()
        raise
    return db


def _unusable(path: Path, exc: BaseException) -> OutboxError:
    return OutboxError(
        f"outbox {path} cannot be opened: {exc} (check that the state directory exists, "
        "is writable by the agent and its disk is mounted)"
    )


def move_aside(path: Path, why: str) -> Path:
    """Rename `path` (and its -wal/-shm) to `<name>.damaged-<time>`; return the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    log.error(
        "outbox %s is damaged (%s): moved aside to %s and started a fresh one; its unsent "
        "messages are lost (the gap in seq shows how many)",
        path,
        why,
        target.name,
    )
    return target


def open_db(path: Path) -> tuple[sqlite3.Connection, bool]:
    """The outbox database, and whether a damaged file had to be moved aside to get it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(path, exc) from None
    try:
        return _connect(path), False
    except sqlite3.OperationalError as exc:
        if not _damage(exc):
            raise _unusable(path, exc) from None
        why: BaseException = exc
    except sqlite3.DatabaseError as exc:  # not a database, malformed, quick_check failed
        why = exc
    try:
        move_aside(path, str(why))
        return _connect(path), True
    except (sqlite3.Error, OSError) as exc:
        raise _unusable(path, exc) from None


def _damage(exc: sqlite3.Error) -> bool:
    """An OperationalError that means a damaged file rather than an unusable directory."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_IOERR_SHORT_READ)


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether an error raised while writing means the file is damaged (heal it)."""
    if isinstance(exc, sqlite3.OperationalError):
        return _damage(exc)
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError)


def is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


class SeqHint:
    """The `seq` file: the highest sequence number issued, as of the last checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = self.read()

    def read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii", errors="strict").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            log.error("sequence file %s cannot be read (%s); ignoring it", self.path, exc)
            return 0
        if not text.isdigit() or len(text) > 18:
            log.error("sequence file %s is damaged (%.20r); ignoring it", self.path, text)
            return 0
        return int(text)

    def write(self, value: int) -> None:
        if value <= self.written:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with tmp.open("w", encoding="ascii") as fh:
                fh.write(f"{value}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self.written = value
        except OSError as exc:  # disk full: the database still holds the exact value
            log.warning("sequence file %s not updated: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()


class Reserve:
    """A few hundred kB of disk held back (`outbox.reserve`) for the day the disk is full.

    On a full disk SQLite cannot even write the deletion that would make room (the WAL must grow
    first). Deleting this file first gives it the room; it is made again once writes succeed.
    """

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = path
        self.size = size
        self.held = False
        self.ensure()

    def ensure(self) -> None:
        """Hold the reserve again (after a good write), if there is room for it."""
        if self.held:
            return
        try:
            with self.path.open("wb") as fh:
                os.posix_fallocate(fh.fileno(), 0, self.size)
            self.held = True
        except OSError:  # no room for it yet: try again after the next good write
            with contextlib.suppress(OSError):
                self.path.unlink()

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        self.held = False
