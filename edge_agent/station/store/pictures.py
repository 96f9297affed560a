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
        self._folders: set[str] = set()  # `ab/cd` folders known to exist (a mkdir each costs)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.jpg"

    def put(self, data: bytes, sync: bool = True, sha256: str | None = None) -> str:
        """Store `data` and return its sha256; durable now (sync) or after `sync()`.

        `sha256` saves hashing again when the caller has just hashed `data` (the inbox has)."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        try:
            if os.stat(path).st_size == len(data):
                return sha
        except FileNotFoundError:
            pass
        folder = sha[:2] + "/" + sha[2:4]
        if folder not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            fh = open(tmp, "wb")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:  # the folder went since (removed by hand): make it again
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(tmp, "wb")  # noqa: SIM115
        with fh:
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
