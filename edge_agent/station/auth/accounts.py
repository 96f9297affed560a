"""Accounts: create, list, disable, change a password, and log in (rate-limited)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, insert, select, update

from edge_agent.station.auth import ratelimit
from edge_agent.station.auth.passwords import check_strength, hash_password, verify_password
from edge_agent.station.auth.roles import Role
from edge_agent.station.evidence import auditlog
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.web_tables import sessions, users

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    retry_after_s: int = 0  # > 0: too many failures, wait this long


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise AccountError(
            f"{name!r} is not an account name: 1 to 64 of a-z 0-9 . _ - (lower case, no spaces)"
        )
    return name


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise AccountError(
            f"{text!r} is not a role; use one of: {', '.join(r.value for r in Role)}"
        ) from None


def add_user(
    engine: Engine,
    name: str,
    role: str,
    password: str,
    created_by: str,
    hasher: PasswordHasher | None = None,
) -> User:
    check_name(name)
    r = parse_role(role)
    try:
        check_strength(password, name)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    with engine.begin() as conn:
        if conn.execute(select(users.c.name).where(users.c.name == name)).first():
            raise AccountError(f"account {name!r} already exists")
        conn.execute(
            insert(users).values(
                name=name,
                role=r.value,
                password_hash=hash_password(password, hasher),
                created_us=now_us(),
                created_by=created_by[:128],
                disabled=False,
            )
        )
        auditlog.append(conn, created_by, "account-add", {"account": name, "role": r.value})
    return User(name, r)


def set_password(engine: Engine, name: str, password: str, actor: str) -> None:
    try:
        check_strength(password, name)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    with engine.begin() as conn:
        done = conn.execute(
            update(users).where(users.c.name == name).values(password_hash=hash_password(password))
        )
        if not done.rowcount:
            raise AccountError(f"no account named {name!r}")
        conn.execute(sessions.delete().where(sessions.c.user == name))
        auditlog.append(conn, actor, "account-password", {"account": name})


def set_disabled(engine: Engine, name: str, disabled: bool, actor: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(users).where(users.c.name == name).values(disabled=disabled))
        if not done.rowcount:
            raise AccountError(f"no account named {name!r}")
        if disabled:
            conn.execute(sessions.delete().where(sessions.c.user == name))
        auditlog.append(conn, actor, "account-disable" if disabled else "account-enable", {"account": name})


def list_users(conn: Connection) -> list[dict[str, object]]:
    return [
        {"name": r.name, "role": r.role, "disabled": r.disabled, "created_by": r.created_by}
        for r in conn.execute(select(users).order_by(users.c.role, users.c.name))
    ]


def login(
    engine: Engine, name: str, password: str, ip: str, max_failures: int, window_s: float
) -> LoginResult:
    """Check a name and password; every failure counts towards the account's and address's limit."""
    name = name.strip().lower()[:64]
    now = now_us()
    with engine.begin() as conn:
        wait = ratelimit.retry_after_s(conn, name, ip, now, max_failures, window_s)
        if wait:
            return LoginResult(None, wait)
        row = conn.execute(select(users).where(users.c.name == name)).first()
        ok = verify_password(row.password_hash if row else None, password)
        if not ok or row is None or row.disabled:
            ratelimit.record_failure(conn, name, ip, now)
            auditlog.append(conn, name or "?", "login-failed", {"ip": ip})
            return LoginResult(None)
        ratelimit.forget(conn, name, now, window_s)
        auditlog.append(conn, name, "login", {"ip": ip})
        return LoginResult(User(row.name, Role(row.role)))
