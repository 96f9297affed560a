"""The pole's own Ed25519 key, which signs its footage chains where they are recorded.

Made at first start in the state directory (`pole_key.pem`, PKCS#8 PEM, unencrypted: the pole
must sign unattended), with mode 0600 from the moment the file exists (created under a temporary
name with O_EXCL and renamed). A key file that others may read is repaired to 0600 with a
warning saying so; a symlink, a file of someone else or a file that is not an Ed25519 key is
refused with a `PoleKeyError` naming the file, never replaced (footage signed under the old key
would lose its proof). The private key never appears in a log, a repr or an exception; the
public key is shown as raw bytes, base64, or a short fingerprint (`stats`, the fleet page).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.contract.footage import key_fingerprint

log = logging.getLogger(__name__)

KEY_FILE = "pole_key.pem"
MAX_KEY_BYTES = 4096


class PoleKeyError(RuntimeError):
    """The key file cannot be used; the message names it and says what to do."""


class PoleKey:
    """The pole's signing key, loaded from (or made in) `state_dir`."""

    def __init__(self, private: Ed25519PrivateKey, path: Path, created: bool, repaired: str = "") -> None:
        self._private = private
        self.path = path
        self.created = created
        self.repaired = repaired  # what was repaired on load ("" when nothing was)
        self.public_raw: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"PoleKey(path={str(self.path)!r}, fingerprint={self.fingerprint!r})"

    @classmethod
    def load_or_create(cls, state_dir: Path) -> PoleKey:
        """The key in `state_dir/pole_key.pem`; made there (0600) when there is none."""
        path = state_dir / KEY_FILE
        try:
            return _load(path)
        except FileNotFoundError:
            pass
        state_dir.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never over a key another process made meanwhile
        except FileExistsError:
            tmp.unlink()
            return _load(path)
        tmp.unlink()
        key = cls(private, path, created=True)
        log.info("made the pole's footage signing key %s (fingerprint %s)", path, key.fingerprint)
        return key


def _load(path: Path) -> PoleKey:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if path.is_symlink():
            raise PoleKeyError(f"{path} is a symbolic link; the pole's key must be a plain file") from None
        raise PoleKeyError(f"{path} cannot be opened: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PoleKeyError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise PoleKeyError(
                f"{path} belongs to user {info.st_uid}, not to this agent ({os.geteuid()}): "
                "the pole's key must be its own"
            )
        repaired = ""
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            os.fchmod(fd, 0o600)
            repaired = f"{path} was readable by others (mode {mode:04o}); it is now 0600"
            log.warning("the pole's signing key %s", repaired.replace(f"{path} ", f"{path}: ", 1))
        data = os.read(fd, MAX_KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_BYTES:
        raise PoleKeyError(f"{path} is too big for an Ed25519 key (wrong file?)")
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PoleKeyError(
            f"{path} is not a readable unencrypted PEM private key; it is left as it is "
            "(move it away to make a new key: footage signed with the old one stays checkable "
            "only with the old public key)"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise PoleKeyError(f"{path} holds a {type(private).__name__}, not an Ed25519 key")
    return PoleKey(private, path, created=False, repaired=repaired)
