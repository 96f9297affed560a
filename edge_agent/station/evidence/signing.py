"""The station's Ed25519 signing key: created once, kept private, and named by a fingerprint.

The private key is an unencrypted PKCS#8 PEM file, mode 0600, in a folder of mode 0700: the
station signs exports unattended, so the file's permissions are its protection (back it up: a bag
is verified against the station's public key, and a new key means new fingerprints).

The fingerprint is the sha256 (lowercase hex) of the public key's DER SubjectPublicKeyInfo, so
anyone can recompute it without this project:

    openssl pkey -pubin -in station-public-key.pem -outform DER | sha256sum
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KeyFileError",
    "fingerprint",
    "load_or_create_key",
    "load_public_key",
    "public_key_pem",
]

# A PEM private key is a few hundred bytes; anything far larger is not one.
_MAX_KEY_FILE = 64 * 1024


class KeyFileError(ValueError):
    """The station's key file exists but cannot be used; the message names the file and the fix."""


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The station's private key at `path`, created (0600, parent folder 0700) when missing.

    Two processes starting at once end up with the same key: the new key is written to a
    temporary file and linked into place only if no key appeared meanwhile.
    Raises `KeyFileError` when the file exists but is not an unencrypted Ed25519 private key PEM.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        _create_key(path)
    return _load_private_key(path)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half of `key` as a SubjectPublicKeyInfo PEM (what a bag carries)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in `public_pem`; `ValueError` with a plain reason when it is not one."""
    if not isinstance(public_pem, bytes | bytearray):
        raise ValueError(f"a public key must be PEM bytes, not {type(public_pem).__name__}")
    try:
        public = serialization.load_pem_public_key(bytes(public_pem))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ValueError(f"not a public key in PEM format ({_first_line(error)})") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key (it is {_key_kind(public)})")
    return public


def fingerprint(public_pem: bytes) -> str:
    """sha256 hex of the public key's DER SubjectPublicKeyInfo; `ValueError` if `public_pem` is no key."""
    der = load_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _create_key(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        # link() never replaces: a key another process created meanwhile wins and is loaded.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(parent)


def _load_private_key(path: Path) -> Ed25519PrivateKey:
    fix = (
        "restore the station's key from its backup, or move the file aside to let the station "
        "create a new key (bags signed with the old key then verify only against the old public key)"
    )
    try:
        if not path.is_file():
            raise KeyFileError(f"station key {path} is not a regular file: {fix}")
        with path.open("rb") as file:
            data = file.read(_MAX_KEY_FILE + 1)
    except OSError as error:
        raise KeyFileError(f"cannot read the station key {path} ({error.strerror}): {fix}") from None
    if len(data) > _MAX_KEY_FILE:
        raise KeyFileError(f"station key {path} is too large to be a PEM key: {fix}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(
            f"station key {path} is encrypted with a password; the station needs it unencrypted "
            f"(mode 0600): {fix}"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as error:
        raise KeyFileError(
            f"station key {path} is not a private key in PEM format ({_first_line(error)}): {fix}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"station key {path} is {_key_kind(key)}, not an Ed25519 key: {fix}")
    return key


def _key_kind(key: object) -> str:
    name = type(key).__name__.removeprefix("_")
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    return f"a {name} key"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
