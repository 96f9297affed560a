"""The device's event sequence number, kept across restarts without an fsync per event.

Numbers are reserved in blocks: the file holds the end of the reserved block, written atomically
(temporary file, fsync, rename) once per block. After a crash or a restart, numbering resumes at
the end of the last reserved block, so a number is never given twice; a few are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

BLOCK = 100


class SeqStore:
    def __init__(self, path: Path, block: int = BLOCK) -> None:
        self.path = path
        self.block = block
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._next = int(path.read_text().strip() or 0) + 1
        except FileNotFoundError:
            self._next = 1
        except ValueError:
            raise RuntimeError(f"sequence file {path} is damaged: remove it to restart numbering") from None
        self._reserved = self._next - 1

    def next(self) -> int:
        if self._next > self._reserved:
            self._reserve(self._next + self.block - 1)
        n = self._next
        self._next += 1
        return n

    def _reserve(self, upto: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            fh.write(f"{upto}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._reserved = upto
