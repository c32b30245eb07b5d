"""When each consent's last timestamp expires, for `intake archive timestamp`.

Revision ID: 0011_timestamps
Revises: 0009_translations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_timestamps"
down_revision = "0009_translations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_timestamps",
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_consent_timestamps_consent_id_consents"),
        ),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_consent_timestamps")),
    )
    op.create_index(
        op.f("ix_consent_timestamps_expires_at"),
        "consent_timestamps",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_timestamps_expires_at"), table_name="consent_timestamps")
    op.drop_table("consent_timestamps")
