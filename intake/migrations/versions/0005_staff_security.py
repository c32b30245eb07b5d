"""Staff accounts at ASVS level 2: login throttles, TOTP second factors, recovery codes, and
what a login proved and when.

Revision ID: 0005_staff_security
Revises: 0004_tablets
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_staff_security"
down_revision = "0004_tablets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=True),
        sa.Column("wait_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_table(
        "staff_second_factors",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_second_factors_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_second_factors")),
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_recovery_codes_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_staff_recovery_codes")),
    )
    op.create_index(op.f("ix_staff_recovery_codes_staff_id"), "staff_recovery_codes", ["staff_id"])
    with op.batch_alter_table("staff_sessions") as batch:
        batch.add_column(sa.Column("authenticated_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("code_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("code_due")
        batch.drop_column("authenticated_at")
    op.drop_index(op.f("ix_staff_recovery_codes_staff_id"), table_name="staff_recovery_codes")
    op.drop_table("staff_recovery_codes")
    op.drop_table("staff_second_factors")
    op.drop_table("login_throttles")
