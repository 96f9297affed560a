"""accounts, sessions, failed logins, pole maintenance and case exports (the web pages)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 08:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Alembic imports every revision before it migrates: this puts the web pages' tables on the
# archive's metadata too, so whoever compares the code's schema with the database sees them.
import edge_agent.station.store.web_tables  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user"], ["users.name"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_sessions_user", "sessions", ["user"])
    op.create_table(
        "login_failures",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_name", "login_failures", ["name", "at_us"])
    op.create_index("ix_login_failures_ip", "login_failures", ["ip", "at_us"])
    op.create_table(
        "maintenance",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("device"),
    )
    op.create_table(
        "case_exports",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("case_name", sa.String(length=128), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_exports_case", "case_exports", ["case_name", "at_us"])


def downgrade() -> None:
    op.drop_index("ix_case_exports_case", table_name="case_exports")
    op.drop_table("case_exports")
    op.drop_table("maintenance")
    op.drop_index("ix_login_failures_ip", table_name="login_failures")
    op.drop_index("ix_login_failures_name", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_sessions_user", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("users")
