"""Translations: the language each consent was signed in, and who reviewed a translation.

Revision ID: 0009_translations
Revises: 0008_course
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_translations"
down_revision = "0008_course"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=16), server_default="en", nullable=False)
        )
    op.create_table(
        "translation_reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("form_id", sa.String(length=100), nullable=False),
        sa.Column("form_version", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translation_reviews")),
        sa.UniqueConstraint("text_sha256", name=op.f("uq_translation_reviews_text_sha256")),
    )


def downgrade() -> None:
    op.drop_table("translation_reviews")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("language")
