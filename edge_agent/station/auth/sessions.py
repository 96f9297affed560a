"""Sessions: a random token in an HttpOnly, Secure, SameSite cookie; its sha256 in the database,
with the session's CSRF token and its expiry."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine, and_, delete, insert, select

from edge_agent.station.auth.accounts import User
from edge_agent.station.auth.roles import Role
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.web_tables import sessions, users

COOKIE = "edge_station_session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(engine: Engine, user: User, hours: float) -> str:
    """A new session for `user`; returns the cookie's token (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    now = now_us()
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.expires_us < now))
        conn.execute(
            insert(sessions).values(
                token_sha256=_digest(token),
                user=user.name,
                csrf=secrets.token_urlsafe(32),
                created_us=now,
                expires_us=now + int(hours * 3600e6),
            )
        )
    return token


def lookup(engine: Engine, token: str | None) -> tuple[User, str] | None:
    """The session's user and CSRF token, or None (no cookie, unknown, expired, account disabled)."""
    if not token or len(token) > 128:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.name, users.c.role, sessions.c.csrf)
            .select_from(sessions.join(users, users.c.name == sessions.c.user))
            .where(
                and_(
                    sessions.c.token_sha256 == _digest(token),
                    sessions.c.expires_us > now_us(),
                    users.c.disabled.is_(False),
                )
            )
        ).first()
    return None if row is None else (User(row.name, Role(row.role)), row.csrf)


def end(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_sha256 == _digest(token)))
