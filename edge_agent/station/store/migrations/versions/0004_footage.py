"""footage: the poles' chains of segment records, their signed heads, the pinned pole keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Alembic imports every revision before it migrates: this puts the footage tables on the
# archive's metadata too, so whoever compares the code's schema with the database sees them.
import edge_agent.station.store.footage_tables  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "footage_segments",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("link", sa.String(length=8), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("device", "camera", "chain", "idx"),
    )
    op.create_index("ix_footage_segments_time", "footage_segments", ["device", "camera", "start_us"])
    op.create_table(
        "footage_heads",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("device", "camera", "chain", "idx"),
    )
    op.create_table(
        "pole_keys",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("pinned_us", sa.BigInteger(), nullable=False),
        sa.Column("offered_fingerprint", sa.String(length=16), nullable=True),
        sa.Column("offered_public_key", sa.String(length=64), nullable=True),
        sa.Column("offered_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("device"),
    )


def downgrade() -> None:
    op.drop_table("pole_keys")
    op.drop_table("footage_heads")
    op.drop_index("ix_footage_segments_time", table_name="footage_segments")
    op.drop_table("footage_segments")
