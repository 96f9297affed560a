"""the first schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-02 07:45:38.964160
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cameras",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("health", sa.LargeBinary(), nullable=True),
        sa.Column("health_us", sa.BigInteger(), nullable=True),
        sa.Column("motion", sa.String(length=8), nullable=True),
        sa.Column("last_event_us", sa.BigInteger(), nullable=True),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("device", "camera"),
    )
    op.create_table(
        "cases",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("opened_us", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=96), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "device_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("dedupe", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe", name="uq_device_messages_dedupe"),
    )
    with op.batch_alter_table("device_messages", schema=None) as batch_op:
        batch_op.create_index("ix_device_messages_device", ["device", "kind", "received_us"], unique=False)
        batch_op.create_index(
            "ix_device_messages_received", ["received_us"], unique=False, postgresql_using="brin"
        )

    op.create_table(
        "devices",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("status_us", sa.BigInteger(), nullable=True),
        sa.Column("stats_us", sa.BigInteger(), nullable=True),
        sa.Column("stats", sa.LargeBinary(), nullable=True),
        sa.Column("last_event_us", sa.BigInteger(), nullable=True),
        sa.Column("max_seq", sa.BigInteger(), nullable=True),
        sa.Column("alerted_us", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device"),
    )
    op.create_table(
        "event_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("pole_us", sa.BigInteger(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("thumb_sha256", sa.String(length=64), nullable=True),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device", "seq", name="uq_event_messages_device_seq"),
    )
    with op.batch_alter_table("event_messages", schema=None) as batch_op:
        batch_op.create_index("ix_event_messages_event", ["device", "event_id"], unique=False)
        batch_op.create_index(
            "ix_event_messages_received", ["received_us"], unique=False, postgresql_using="brin"
        )

    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=True),
        sa.Column("last_type", sa.String(length=8), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("stationary", sa.Boolean(), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("clock_synced", sa.Boolean(), nullable=False),
        sa.Column("thumb_sha256", sa.String(length=64), nullable=True),
        sa.Column("thumb_status", sa.String(length=12), nullable=False),
        sa.Column("first_received_us", sa.BigInteger(), nullable=False),
        sa.Column("last_received_us", sa.BigInteger(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device", "event_id", name="uq_events_device_event"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_device_label_start", ["device", "label", "start_us", "id"], unique=False
        )
        batch_op.create_index("ix_events_device_start", ["device", "start_us", "id"], unique=False)
        batch_op.create_index("ix_events_label_start", ["label", "start_us", "id"], unique=False)
        batch_op.create_index("ix_events_start", ["start_us", "id"], unique=False)
        batch_op.create_index("ix_events_thumb_status", ["thumb_status", "last_received_us"], unique=False)
        batch_op.create_index("ix_events_received", ["first_received_us"], unique=False)

    op.create_table(
        "pictures",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_received_us", sa.BigInteger(), nullable=False),
        sa.Column("last_used_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "rejects",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.create_index("ix_rejects_received", ["received_us"], unique=False, postgresql_using="brin")

    op.create_table(
        "seq_gaps",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("seq_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_seq_gaps_device", ["device", "first_seq"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("case_id", "device", "event_id"),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_event", ["device", "event_id"], unique=False)

    op.create_table(
        "picture_uses",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["pictures.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "device", "camera", "event_id", "sha256", name="uq_picture_uses"),
    )
    with op.batch_alter_table("picture_uses", schema=None) as batch_op:
        batch_op.create_index("ix_picture_uses_event", ["device", "event_id"], unique=False)
        batch_op.create_index(
            "ix_picture_uses_received", ["received_us"], unique=False, postgresql_using="brin"
        )


def downgrade() -> None:
    with op.batch_alter_table("picture_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_picture_uses_received")
        batch_op.drop_index("ix_picture_uses_event")

    op.drop_table("picture_uses")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_event")

    op.drop_table("case_events")
    with op.batch_alter_table("seq_gaps", schema=None) as batch_op:
        batch_op.drop_index("ix_seq_gaps_device")

    op.drop_table("seq_gaps")
    with op.batch_alter_table("rejects", schema=None) as batch_op:
        batch_op.drop_index("ix_rejects_received")

    op.drop_table("rejects")
    op.drop_table("pictures")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_thumb_status")
        batch_op.drop_index("ix_events_received")
        batch_op.drop_index("ix_events_start")
        batch_op.drop_index("ix_events_label_start")
        batch_op.drop_index("ix_events_device_start")
        batch_op.drop_index("ix_events_device_label_start")

    op.drop_table("events")
    with op.batch_alter_table("event_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_event_messages_received")
        batch_op.drop_index("ix_event_messages_event")

    op.drop_table("event_messages")
    op.drop_table("devices")
    with op.batch_alter_table("device_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_device_messages_received")
        batch_op.drop_index("ix_device_messages_device")

    op.drop_table("device_messages")
    op.drop_table("counters")
    op.drop_table("cases")
    op.drop_table("cameras")
    op.drop_table("audit")
