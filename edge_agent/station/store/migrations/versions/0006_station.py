"""station: the ward's id on every row a city replicates (events, devices, cameras, seq gaps)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 01:00:00

Existing rows get "ward" (the default station id); `edge-agent station city-publish` stamps the
station's own id into the rows and the column's default before a city subscribes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("events", "devices", "cameras", "seq_gaps")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("station", sa.String(length=64), nullable=False, server_default="ward")
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("station")
