"""The station's copies of pole segments: `<dir>/<device>/<camera>/<chain>/<index>.mp4`, bytes as sent.

A segment arrives in chunks, in order; `append(key, offset, data)` writes the part of `data`
beyond what is on disk (a chunk delivered twice writes nothing) into `….mp4.part` and fsyncs it,
so the bytes are on disk before the row that counts them commits. `finish(key)` hashes the whole
file and renames it to `….mp4` when its sha256 is the record's, or to `….mismatch.mp4` when it is
not: kept for the investigator, never served as good. Every name is built from validated parts
(ids of `[a-z0-9_-]`, a chain of hex digits, an integer), so no path leaves the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

PART = re.compile(r"^[a-z0-9_-]{1,64}$")
CHAIN = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True, slots=True, order=True)
class SegmentKey:
    device: str
    camera: str
    chain: str
    idx: int

    def __post_init__(self) -> None:
        if not (PART.match(self.device) and PART.match(self.camera) and CHAIN.match(self.chain)):
            raise ValueError(f"not a segment key: {self}")
        if self.idx < 0:
            raise ValueError(f"not a segment index: {self.idx}")


class FootageFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, key: SegmentKey) -> Path:
        return self.root / key.device / key.camera / key.chain

    def path(self, key: SegmentKey) -> Path:
        """The verified copy (the only one the pages play)."""
        return self.folder(key) / f"{key.idx:012d}.mp4"

    def part(self, key: SegmentKey) -> Path:
        return self.folder(key) / f"{key.idx:012d}.mp4.part"

    def mismatch(self, key: SegmentKey) -> Path:
        return self.folder(key) / f"{key.idx:012d}.mismatch.mp4"

    def size(self, key: SegmentKey) -> int:
        try:
            return self.part(key).stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, key: SegmentKey, offset: int, data: bytes) -> int:
        """Write what of `data` (at `offset`) is new; the bytes on disk after it, fsynced.

        A chunk that starts beyond the end of what is on disk writes nothing (a gap: the pole is
        asked again from the end)."""
        part = self.part(key)
        have = self.size(key)
        if offset > have or offset + len(data) <= have:
            return have
        part.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o640)
        try:
            os.lseek(fd, have, os.SEEK_SET)
            view = memoryview(data)[have - offset :]
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return offset + len(data)

    def finish(self, key: SegmentKey, sha256: str) -> str:
        """Hash the arrived segment; it becomes the good copy only when that is `sha256` (the
        record's), else the flagged one. Returns the digest it has."""
        part = self.part(key)
        with part.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        os.replace(part, self.path(key) if digest == sha256 else self.mismatch(key))
        return digest

    def discard(self, key: SegmentKey) -> None:
        """Drop what arrived of a segment that will not be completed (or is asked again from 0)."""
        for path in (self.part(key), self.mismatch(key)):
            path.unlink(missing_ok=True)

    def remove(self, key: SegmentKey) -> int:
        """Delete every copy of a segment (retention); the bytes freed."""
        freed = 0
        for path in (self.path(key), self.part(key), self.mismatch(key)):
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                pass
        return freed
