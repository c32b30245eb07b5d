"""A patient's details erased with their last consent (`patients.erased_at`), and withdrawals
sent to a tablet for the patient's signature (`withdrawal_handoffs`).

Revision ID: 0012_patient_erasure
Revises: 0011_timestamps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_patient_erasure"
down_revision = "0011_timestamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    op.create_table(
        "withdrawal_handoffs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_withdrawal_handoffs_consent_id_consents"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_withdrawal_handoffs_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_withdrawal_handoffs_record_id_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawal_handoffs")),
    )
    with op.batch_alter_table("withdrawal_handoffs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_withdrawal_handoffs_device", ["device_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_withdrawal_handoffs_consent", ["consent_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("withdrawal_handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_withdrawal_handoffs_consent")
        batch_op.drop_index("ix_withdrawal_handoffs_device")
    op.drop_table("withdrawal_handoffs")
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would copy and drop `patients`, which
    # consents and visits reference.
    op.drop_column("patients", "erased_at")
