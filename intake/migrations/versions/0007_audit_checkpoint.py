"""The audit checkpoint: how far the audit chain was last found to hold.

Revision ID: 0007_audit_checkpoint
Revises: 0006_patient_copies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_checkpoint"
down_revision = "0006_patient_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    checkpoint = sa.table(
        "audit_checkpoint", sa.column("id"), sa.column("seq"), sa.column("sha256")
    )
    op.bulk_insert(checkpoint, [{"id": 1, "seq": 0, "sha256": "0" * 64}])


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
