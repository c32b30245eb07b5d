"""One-time links to the patient's own copy, for their phone.

Revision ID: 0006_patient_copies
Revises: 0005_staff_security
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_patient_copies"
down_revision = "0005_staff_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_copies",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_patient_copies_consent_id_consents"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_patient_copies")),
    )
    op.create_index(
        op.f("ix_patient_copies_consent_id"), "patient_copies", ["consent_id"], unique=False
    )
    op.create_index(
        op.f("ix_patient_copies_expires_at"), "patient_copies", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_copies_expires_at"), table_name="patient_copies")
    op.drop_index(op.f("ix_patient_copies_consent_id"), table_name="patient_copies")
    op.drop_table("patient_copies")
