"""The recording folder's byte budget: oldest segments go first, held ones and everything else stay.

`Budget(directory, max_bytes, min_free_bytes)` keeps the folder's files under `max_bytes` and
the filesystem's free space (for unprivileged users, `os.statvfs`) above `min_free_bytes`, so
recording never fills the card that holds the outbox. `enforce()` deletes segment files —
`{camera}-{number}.mp4` and `….torn.mp4`, nothing else — oldest first: by number within a
camera (the chain's order, immune to a clock that jumped), and between cameras the one whose
oldest segment was closed first. Only names listed by `os.scandir` of the folder itself are
ever unlinked, relative to the folder's own descriptor, and never a symlink or a file in a
sub-folder, so no path outside the folder can be touched. Segments named in `held` (a case
asked for them and they are not uploaded yet) are not deleted; when only held segments are
left the budget says so once. It returns what it deleted.

`Wear` counts the bytes written per day (UTC), for the SD card's wear in `stats`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.recording.segment_file import SEGMENT_NAME

log = logging.getLogger(__name__)

WEAR_DAYS = 31


@dataclass(frozen=True)
class _File:
    name: str
    camera: str
    number: int
    size: int
    mtime_ns: int


class Budget:
    """Deletes the oldest segments of `directory` while it is over budget."""

    def __init__(self, directory: Path, max_bytes: int, min_free_bytes: int = 0) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.held: set[str] = set()
        self.deleted = 0  # files deleted since start
        self._warned_held = False

    def hold(self, names: Iterable[str]) -> None:
        self.held.update(names)

    def release(self, names: Iterable[str]) -> None:
        self.held.difference_update(names)

    def free_bytes(self) -> int:
        st = os.statvfs(self.directory)
        return st.f_bavail * st.f_frsize

    def used_bytes(self) -> int:
        """Bytes of the regular files directly in the folder (segments, chains, anything)."""
        return sum(size for _, size, _ in self._entries())

    def enforce(self) -> list[str]:
        """Delete oldest segments until under budget; the names deleted, oldest first."""
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            return self._enforce(fd)
        finally:
            os.close(fd)

    def _entries(self) -> list[tuple[str, int, int]]:
        out = []
        with os.scandir(self.directory) as it:
            for entry in it:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    out.append((entry.name, info.st_size, info.st_mtime_ns))
        return out

    def _enforce(self, dir_fd: int) -> list[str]:
        entries = self._entries()
        used = sum(size for _, size, _ in entries)
        free = self.free_bytes()
        over_bytes = used - self.max_bytes
        under_free = self.min_free_bytes - free
        if over_bytes <= 0 and under_free <= 0:
            self._warned_held = False
            return []
        queues: dict[str, list[_File]] = {}
        for name, size, mtime in entries:
            m = SEGMENT_NAME.match(name)
            if m and not name.endswith(".part") and name not in self.held:
                f = _File(name, m["camera"], int(m["number"]), size, mtime)
                queues.setdefault(f.camera, []).append(f)
        for files in queues.values():
            files.sort(key=lambda f: (f.number, f.name), reverse=True)  # oldest at the end: pop()
        deleted: list[str] = []
        while (over_bytes > 0 or under_free > 0) and any(queues.values()):
            camera = min((c for c in queues if queues[c]), key=lambda c: queues[c][-1].mtime_ns)
            f = queues[camera].pop()
            try:
                os.unlink(f.name, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.error("recording budget: cannot delete %s: %s", f.name, exc.strerror or exc)
                continue
            deleted.append(f.name)
            over_bytes -= f.size
            under_free -= f.size
        self.deleted += len(deleted)
        if deleted:
            log.info(
                "recording budget: deleted %d oldest segment(s), %s to %s",
                len(deleted),
                deleted[0],
                deleted[-1],
            )
        if (over_bytes > 0 or under_free > 0) and not self._warned_held:
            self._warned_held = True
            why = (
                f"{over_bytes:,} bytes over recording.max_bytes"
                if over_bytes > 0
                else f"{max(under_free, 0):,} bytes under recording.min_free_bytes of free space"
            )
            log.warning(
                "recording budget: still %s, and nothing is left to delete (%d held segment(s) "
                "are kept until uploaded; other files in %s are not the recorder's)",
                why,
                len(self.held),
                self.directory,
            )
        return deleted


class Wear:
    """Bytes written per UTC day, kept for `WEAR_DAYS` days in a small JSON file when saved."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.days: dict[str, int] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
                self.days = {str(k): int(v) for k, v in data.items() if isinstance(v, int)}
            except (OSError, ValueError, AttributeError):
                log.warning("recording: %s is unreadable; bytes-written counts start again", path)

    def add(self, n: int, when: datetime | None = None) -> None:
        day = (when or datetime.now(UTC)).astimezone(UTC).date().isoformat()
        is_new_day = day not in self.days
        self.days[day] = self.days.get(day, 0) + n
        if is_new_day:
            for old in sorted(self.days)[:-WEAR_DAYS]:
                del self.days[old]
            self.save()  # once a day: the counter itself must not wear the card

    def today(self) -> int:
        return self.days.get(datetime.now(UTC).date().isoformat(), 0)

    def save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.days, sort_keys=True))
        os.replace(tmp, self.path)
