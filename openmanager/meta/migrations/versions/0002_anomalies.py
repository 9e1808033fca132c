"""Anomalies found by the detection job, with their evidence.

Revision ID: 0002_anomalies
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_anomalies"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("server", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_anomalies"),
    )
    op.create_index("anomalies_at", "anomalies", ["at"])
    op.create_index("anomalies_server_at", "anomalies", ["server", "at"])


def downgrade() -> None:
    op.drop_index("anomalies_server_at", table_name="anomalies")
    op.drop_index("anomalies_at", table_name="anomalies")
    op.drop_table("anomalies")
