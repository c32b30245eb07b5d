"""The language the staff pages speak to each staff account (none: the clinic's).

Revision ID: 0013_staff_language
Revises: 0011_timestamps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_staff_language"
down_revision = "0012_patient_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would copy and drop `staff`, which the
    # audit trail and the records reference.
    op.drop_column("staff", "language")
