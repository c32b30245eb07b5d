"""The treatment course: patients, visits, lots, injections, withdrawals and their sealed records.

Revision ID: 0008_course
Revises: 0007_audit_checkpoint
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_course"
down_revision = "0007_audit_checkpoint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("strength", sa.String(length=100), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("lot_number", sa.String(length=100), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(), nullable=True),
        sa.Column("recalled_by", sa.String(length=32), nullable=True),
        sa.Column("recall_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("uq_lots_product_lot", ["product", "lot_number"], unique=True)

    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("legal_name", sa.String(length=300), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("first_consent_id", sa.String(length=32), nullable=True),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("merged_at", sa.DateTime(), nullable=True),
        sa.Column("merged_by", sa.String(length=32), nullable=True),
        sa.Column("merge_reason", sa.Text(), nullable=True),
        sa.Column("last_entry_on", sa.Date(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("doses_given", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["patients.id"], name=op.f("fk_patients_merged_into_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_date_of_birth", ["date_of_birth", "id"], unique=False)
        batch_op.create_index("ix_patients_last_entry", ["last_entry_on", "id"], unique=False)
        batch_op.create_index("ix_patients_merged_into", ["merged_into"], unique=False)
        batch_op.create_index("ix_patients_next_due", ["next_due_on", "id"], unique=False)

    op.create_table(
        "patient_names",
        sa.Column(
            "word",
            sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_names_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("word", "patient_id", name=op.f("pk_patient_names")),
    )
    with op.batch_alter_table("patient_names", schema=None) as batch_op:
        batch_op.create_index("ix_patient_names_patient_id", ["patient_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("body_json", sa.LargeBinary(), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf_size", sa.Integer(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("submit_key", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_records_consent_id_consents")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_records_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("submit_key", name=op.f("uq_records_submit_key")),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_kind", ["kind", "created_at", "id"], unique=False)
        batch_op.create_index("ix_records_patient", ["patient_id", "created_at"], unique=False)
        batch_op.create_index("ix_records_pdf_sha256", ["pdf_sha256"], unique=False)
        batch_op.create_index("ix_records_status", ["status", "created_at"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_by", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(), nullable=True),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_visits_consent_id_consents")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_visits_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_visits_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_device", ["device_id", "status"], unique=False)
        batch_op.create_index("ix_visits_patient", ["patient_id", "started_at"], unique=False)
        batch_op.create_index("ix_visits_status", ["status", "started_at", "id"], unique=False)

    op.create_table(
        "withdrawals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("patient_signed", sa.Boolean(), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_withdrawals_consent_id_consents")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_withdrawals_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_withdrawals_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.UniqueConstraint("consent_id", name=op.f("uq_withdrawals_consent_id")),
    )
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_withdrawals_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "injections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("visit_id", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("lot_id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=True),
        sa.Column("visit_key", sa.String(length=32), nullable=True),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("route", sa.String(length=10), nullable=False),
        sa.Column("site", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("reaction", sa.String(length=10), nullable=False),
        sa.Column("reaction_action", sa.Text(), nullable=True),
        sa.Column("clinician_id", sa.String(length=32), nullable=False),
        sa.Column("clinician_name", sa.String(length=200), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("supersedes", sa.String(length=32), nullable=True),
        sa.Column("superseded_by", sa.String(length=32), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_injections_consent_id_consents")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_injections_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_injections_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_injections_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_injections_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_injections")),
        sa.UniqueConstraint("visit_key", name=op.f("uq_injections_visit_key")),
    )
    with op.batch_alter_table("injections", schema=None) as batch_op:
        batch_op.create_index("ix_injections_given", ["given_at", "id"], unique=False)
        batch_op.create_index("ix_injections_lot", ["lot_id", "given_at"], unique=False)
        batch_op.create_index("ix_injections_patient", ["patient_id", "given_at"], unique=False)

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_consents_patient", ["patient_id", "created_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_consents_patient_id_patients"), "patients", ["patient_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_consents_patient_id_patients"), type_="foreignkey")
        batch_op.drop_index("ix_consents_patient")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("patient_id")

    with op.batch_alter_table("injections", schema=None) as batch_op:
        batch_op.drop_index("ix_injections_patient")
        batch_op.drop_index("ix_injections_lot")
        batch_op.drop_index("ix_injections_given")

    op.drop_table("injections")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_withdrawals_patient_id"))

    op.drop_table("withdrawals")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_status")
        batch_op.drop_index("ix_visits_patient")
        batch_op.drop_index("ix_visits_device")

    op.drop_table("visits")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_status")
        batch_op.drop_index("ix_records_pdf_sha256")
        batch_op.drop_index("ix_records_patient")
        batch_op.drop_index("ix_records_kind")

    op.drop_table("records")
    with op.batch_alter_table("patient_names", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_names_patient_id")

    op.drop_table("patient_names")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_next_due")
        batch_op.drop_index("ix_patients_merged_into")
        batch_op.drop_index("ix_patients_last_entry")
        batch_op.drop_index("ix_patients_date_of_birth")

    op.drop_table("patients")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("uq_lots_product_lot")

    op.drop_table("lots")
