"""The pole's Ed25519 signing key on real files: made 0600, reloaded the same, repaired, or refused.

A key file is never replaced: a symlink, a garbage file, a key of another type or another user's
file is refused with a sentence naming it, and left exactly as it was.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_agent.recording.keys import KEY_FILE, PoleKey, PoleKeyError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def pem(private: object, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return private.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def test_made_0600_even_with_umask_000(tmp_path: Path, umask_000: None) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    path = tmp_path / "state" / KEY_FILE
    assert key.created and key.path == path and mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != KEY_FILE], "no temporary file left"
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert len(key.public_raw) == 32 and base64.b64decode(key.public_b64) == key.public_raw
    assert len(key.fingerprint) == 16


def test_reloaded_the_same_and_signs(tmp_path: Path) -> None:
    made = PoleKey.load_or_create(tmp_path)
    again = PoleKey.load_or_create(tmp_path)
    assert not again.created and again.repaired == ""
    assert again.public_raw == made.public_raw and again.fingerprint == made.fingerprint
    signature = again.sign(b"head")
    Ed25519PublicKey.from_public_bytes(made.public_raw).verify(signature, b"head")  # raises if not


def test_key_readable_by_others_repaired(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    made = PoleKey.load_or_create(tmp_path)
    made.path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="edge_agent.recording.keys"):
        key = PoleKey.load_or_create(tmp_path)
    assert mode(key.path) == 0o600
    assert key.repaired and "0644" in key.repaired and str(key.path) in key.repaired
    assert key.public_raw == made.public_raw
    assert any("0644" in r.getMessage() for r in caplog.records)
    assert PoleKey.load_or_create(tmp_path).repaired == "", "repaired once, then nothing to repair"


def test_symlink_refused_and_left(tmp_path: Path) -> None:
    elsewhere = PoleKey.load_or_create(tmp_path / "elsewhere")
    state = tmp_path / "state"
    state.mkdir()
    link = state / KEY_FILE
    link.symlink_to(elsewhere.path)
    with pytest.raises(PoleKeyError, match="symbolic link") as info:
        PoleKey.load_or_create(state)
    assert str(link) in str(info.value)
    assert link.is_symlink() and os.readlink(link) == str(elsewhere.path)


def test_dangling_symlink_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "target.pem"
    state = tmp_path / "state"
    state.mkdir()
    (state / KEY_FILE).symlink_to(target)
    with pytest.raises(PoleKeyError, match="symbolic link"):
        PoleKey.load_or_create(state)
    assert not target.exists(), "a key was written through the symlink"


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key at all\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ids=["empty", "text", "broken-pem"],
)
def test_garbage_refused_named_and_not_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(PoleKeyError, match="not a readable unencrypted PEM private key") as info:
        PoleKey.load_or_create(tmp_path)
    assert str(path) in str(info.value) and "left as it is" in str(info.value)
    assert path.read_bytes() == content


def test_encrypted_and_oversized_keys_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    encrypted = pem(ed25519.Ed25519PrivateKey.generate(), password=b"pw")
    path.write_bytes(encrypted)
    with pytest.raises(PoleKeyError, match="unencrypted"):
        PoleKey.load_or_create(tmp_path)
    assert path.read_bytes() == encrypted
    path.write_bytes(b"A" * 5000)
    with pytest.raises(PoleKeyError, match="too big"):
        PoleKey.load_or_create(tmp_path)
    assert path.stat().st_size == 5000


@pytest.mark.parametrize(
    "make",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        lambda: ec.generate_private_key(ec.SECP256R1()),
    ],
    ids=["rsa", "ec"],
)
def test_other_key_types_refused(tmp_path: Path, make: object) -> None:
    path = tmp_path / KEY_FILE
    data = pem(make())  # type: ignore[operator]
    path.write_bytes(data)
    with pytest.raises(PoleKeyError, match=r"not an Ed25519 key") as info:
        PoleKey.load_or_create(tmp_path)
    assert str(path) in str(info.value) and "PrivateKey" in str(info.value)
    assert path.read_bytes() == data


def test_directory_in_its_place_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).mkdir()
    with pytest.raises(PoleKeyError, match="not a regular file"):
        PoleKey.load_or_create(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_someone_elses_key_refused(tmp_path: Path) -> None:
    made = PoleKey.load_or_create(tmp_path)
    os.chown(made.path, 12345, 12345)
    with pytest.raises(PoleKeyError, match="belongs to user 12345") as info:
        PoleKey.load_or_create(tmp_path)
    assert str(made.path) in str(info.value)
    assert made.path.stat().st_uid == 12345


def test_repr_has_no_private_material(tmp_path: Path) -> None:
    key = PoleKey.load_or_create(tmp_path)
    private = serialization.load_pem_private_key(key.path.read_bytes(), password=None)
    raw = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = b"".join(key.path.read_bytes().splitlines()[1:-1]).decode()
    shown = f"{key!r} {key!s} {key:}"
    assert key.fingerprint in shown
    for secret in (raw.hex(), base64.b64encode(raw).decode(), body, body[:20], str(raw)):
        assert secret not in shown
    assert "PRIVATE" not in shown
