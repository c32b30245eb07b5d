"""The export's pages read in order from an index: archived consents by signing day, then id.

Without it every page of `intake export` sorted all the archived consents again (SQLite: "USE
TEMP B-TREE FOR ORDER BY"), so an export grew with the square of the archive.

Revision ID: 0014_export_order
Revises: 0013_staff_language
"""

from __future__ import annotations

from alembic import op

revision = "0014_export_order"
down_revision = "0013_staff_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_consents_export", "consents", ["status", "signed_on", "id"])


def downgrade() -> None:
    op.drop_index("ix_consents_export", table_name="consents")
