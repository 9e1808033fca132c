"""Incidents and assistant interactions in the shape their services store (were unused drafts).

Revision ID: 0003_incidents_interactions
Revises: 0002_anomalies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_incidents_interactions"
down_revision = "0002_anomalies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("incidents")
    op.drop_table("assistant_interactions")
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("last_event_at", sa.Double(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("incidents_status_started", "incidents", ["status", "started_at"])
    op.create_table(
        "assistant_interactions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("narrator", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_assistant_interactions"),
    )
    op.create_index("assistant_interactions_at", "assistant_interactions", ["at"])


def downgrade() -> None:
    op.drop_index("assistant_interactions_at", table_name="assistant_interactions")
    op.drop_table("assistant_interactions")
    op.drop_index("incidents_status_started", table_name="incidents")
    op.drop_table("incidents")
