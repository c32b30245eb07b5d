"""Enrolled tablets, their one-time codes, per-minute counts; a consent's tablet and its void.

Revision ID: 0004_tablets
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_tablets"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tablets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("enrolled_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tablets")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_tablets_token_sha256")),
    )
    op.create_table(
        "tablet_codes",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_tablet_codes")),
    )
    op.create_table(
        "rate_counts",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("minute", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "minute", name=op.f("pk_rate_counts")),
    )
    op.create_index("ix_rate_counts_minute", "rate_counts", ["minute"])
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("device_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("voided_by", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("void_reason")
        batch.drop_column("voided_by")
        batch.drop_column("voided_at")
        batch.drop_column("device_id")
    op.drop_index("ix_rate_counts_minute", table_name="rate_counts")
    op.drop_table("rate_counts")
    op.drop_table("tablet_codes")
    op.drop_table("tablets")
