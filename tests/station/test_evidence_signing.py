"""The station's signing key: created private once, reused, and a bad key file named with its fix."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from edge_agent.station.evidence.signing import (
    KeyFileError,
    fingerprint,
    load_or_create_key,
    public_key_pem,
)


def test_key_is_created_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "station.pem"
    key = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_or_create_key(path)
    assert public_key_pem(again) == public_key_pem(key)
    assert [p.name for p in path.parent.iterdir()] == ["station.pem"]  # no temporary left behind


def test_existing_parent_folder_is_left_as_it_is(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    load_or_create_key(tmp_path / "station.pem")
    assert tmp_path.stat().st_mode & 0o777 == 0o755


def test_signature_verifies_with_the_public_pem(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.pem")
    public = serialization.load_pem_public_key(public_key_pem(key))
    public.verify(key.sign(b"manifest"), b"manifest")  # raises if wrong


def test_fingerprint_is_sha256_of_the_der_public_key(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.pem")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert fingerprint(public_key_pem(key)) == hashlib.sha256(der).hexdigest()
    other = load_or_create_key(tmp_path / "other.pem")
    assert fingerprint(public_key_pem(other)) != fingerprint(public_key_pem(key))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_fingerprint_matches_what_openssl_computes(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.pem")
    (tmp_path / "pub.pem").write_bytes(public_key_pem(key))
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(tmp_path / "pub.pem"), "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    assert hashlib.sha256(der).hexdigest() == fingerprint(public_key_pem(key))


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "not a private key in PEM format"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not a private key in PEM format",
        ),
        (b"\x00\xff" * 100, "not a private key in PEM format"),
    ],
)
def test_corrupt_key_file_names_the_file_and_the_fix(tmp_path: Path, content: bytes, cause: str) -> None:
    path = tmp_path / "station.pem"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as caught:
        load_or_create_key(path)
    message = str(caught.value)
    assert str(path) in message and cause in message
    assert "move the file aside" in message and "backup" in message
    assert path.read_bytes() == content  # never overwritten


def test_wrong_kind_of_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.pem"
    ec = generate_private_key(SECP256R1())
    path.write_bytes(
        ec.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(KeyFileError, match="not an Ed25519 key") as caught:
        load_or_create_key(path)
    assert str(path) in str(caught.value)


def test_password_protected_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "station.pem"
    key = load_or_create_key(tmp_path / "plain.pem")
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match="encrypted with a password"):
        load_or_create_key(path)


def test_a_folder_where_the_key_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "station.pem").mkdir()
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create_key(tmp_path / "station.pem")


def test_a_dangling_link_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "station.pem"
    os.symlink(tmp_path / "gone.pem", path)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create_key(path)
    assert not (tmp_path / "gone.pem").exists()


def test_fingerprint_of_garbage_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="not a public key in PEM format"):
        fingerprint(b"hello")
