"""Password hashing with argon2id (argon2-cffi); the hash string carries its own parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Checked when a name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class PasswordError(ValueError):
    """A password that may not be used; the message says why."""


def check_strength(password: str, name: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if name.lower() in password.lower():
        raise PasswordError("a password must not contain the account's name")


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _hasher).hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
