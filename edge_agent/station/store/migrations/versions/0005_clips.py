"""clips: the segments the station asked poles for, its copies of them, and the clip requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edge_agent.station.store.footage_tables  # noqa: F401  (the tables join the metadata)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "footage_files",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("have_bytes", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("asked_us", sa.BigInteger(), nullable=True),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device", "camera", "chain", "idx"),
    )
    op.create_index("ix_footage_files_state", "footage_files", ["state", "device"])
    op.create_table(
        "clip_requests",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=True),
        sa.Column("from_us", sa.BigInteger(), nullable=False),
        sa.Column("to_us", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_us", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("closed_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clip_requests_event", "clip_requests", ["device", "event_id"])
    op.create_index("ix_clip_requests_open", "clip_requests", ["closed_us"])
    op.create_table(
        "clip_segments",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["clip_requests.id"]),
        sa.PrimaryKeyConstraint("request_id", "chain", "idx"),
    )


def downgrade() -> None:
    op.drop_table("clip_segments")
    op.drop_index("ix_clip_requests_open", table_name="clip_requests")
    op.drop_index("ix_clip_requests_event", table_name="clip_requests")
    op.drop_table("clip_requests")
    op.drop_index("ix_footage_files_state", table_name="footage_files")
    op.drop_table("footage_files")
