"""Pictures on disk by content: `<dir>/ab/cd/<sha256>.jpg`, written durably before any row names them.

`put(data)` fsyncs the file and its folder; a batch writes with `put(data, sync=False)` and then
calls `sync()` once (syncfs(2) of the pictures' filesystem): one journal commit for the batch
instead of two per picture, before the rows that name them are committed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
from pathlib import Path

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
except OSError:
    _LIBC = None


class PictureStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.jpg"

    def put(self, data: bytes, sync: bool = True) -> str:
        """Store `data` and return its sha256; durable now (sync) or after `sync()`."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if path.exists() and path.stat().st_size == len(data):
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if sync:
            _fsync_dir(path.parent)
        return sha

    def sync(self) -> None:
        """Make every picture written so far durable (syncfs of their filesystem)."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _LIBC is not None and hasattr(_LIBC, "syncfs"):
                if _LIBC.syncfs(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(self.root))
            else:
                os.sync()
        finally:
            os.close(fd)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, sha256: str) -> int:
        """Remove one picture; the bytes freed (0 when it was not there)."""
        path = self.path(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
