"""The tables of accounts, sessions, failed logins, pole maintenance and case exports.

They join the archive's `metadata` (so Alembic and the schema test see one schema) and are
created by migration 0002.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text

from edge_agent.station.store.schema import Key, metadata

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # admin | police | volunteer | resident
    Column("password_hash", Text, nullable=False),  # argon2id, with its parameters
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("disabled", Boolean, nullable=False),
)

# A session is known by the sha256 of its cookie's token: a stolen database opens no session.
sessions = Table(
    "sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user", String(64), ForeignKey("users.name"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Index("ix_sessions_user", "user"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_login_failures_name", "name", "at_us"),
    Index("ix_login_failures_ip", "ip", "at_us"),
)

# A pole a volunteer is working on: its alerts are muted until the switch is turned off.
maintenance = Table(
    "maintenance",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("by", String(64), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
)

case_exports = Table(
    "case_exports",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("case_name", String(128), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("by", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("report", Text, nullable=False),
    Index("ix_case_exports_case", "case_name", "at_us"),
)
