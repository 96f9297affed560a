"""the alerts: outbox of messages to people, the watcher's cursors and pole states, snoozes, acks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Alembic imports every revision before it migrates: this puts the alerts' tables on the
# archive's metadata too, so whoever compares the code's schema with the database sees them.
import edge_agent.station.store.notify_tables  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subscription", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("picture_sha256", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=96), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("group_key", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("due_us", sa.BigInteger(), nullable=False),
        sa.Column("sent_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_notify_outbox_key"),
    )
    op.create_index("ix_notify_outbox_due", "notify_outbox", ["state", "due_us"])
    op.create_index(
        "ix_notify_outbox_recent", "notify_outbox", ["subscription", "kind", "device", "created_us"]
    )
    op.create_index("ix_notify_outbox_source", "notify_outbox", ["source"])
    op.create_index("ix_notify_outbox_group", "notify_outbox", ["group_key"])
    op.create_table(
        "notify_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "notify_poles",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("down_since_us", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("alerted_us", sa.BigInteger(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),
        sa.Column("flapping_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("device"),
    )
    op.create_table(
        "notify_snoozes",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("until_us", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notify_snoozes_device", "notify_snoozes", ["device", "until_us"])
    op.create_table(
        "notify_acks",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )


def downgrade() -> None:
    op.drop_table("notify_acks")
    op.drop_index("ix_notify_snoozes_device", table_name="notify_snoozes")
    op.drop_table("notify_snoozes")
    op.drop_table("notify_poles")
    op.drop_table("notify_cursors")
    for name in ("group", "source", "recent", "due"):
        op.drop_index(f"ix_notify_outbox_{name}", table_name="notify_outbox")
    op.drop_table("notify_outbox")
