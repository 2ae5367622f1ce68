"""Notifications outbox, certification types (seeded), certifications and reminder ledger.

Revision ID: 0004
Revises: 0001
Depends on: 0003 (contractors, whose table the certifications reference)
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003"

PERMISSIONS = {
    "api.notifications.outbox.manage": "See queued and failed emails and retry failed ones",
    "api.contractors.certification_types.manage": "Create, update and retire certification types",
}
GRANTED_TO = ("SysOps", "Director", "API")

GAS, PLUMBING, ELECTRICAL, ROOFING, GENERAL = 1, 2, 3, 4, 5
ALL_TRADES = [GAS, PLUMBING, ELECTRICAL, ROOFING, GENERAL]
# (id, code, name, issuing body, description, aliases, trades that require it)
CERTIFICATION_TYPES = [
    (
        1,
        "gas_safe",
        "Gas Safe registration",
        "Gas Safe Register",
        "Legal requirement for any work on gas appliances and installations.",
        ["Gas Safe Certificate", "Gas Safe", "Gas Safe card"],
        [GAS],
    ),
    (
        2,
        "niceic",
        "NICEIC membership",
        "NICEIC",
        "Electrical competent person scheme membership (NICEIC, NAPIT or ELECSA) for notifiable electrical work.",
        ["NICEIC", "NICEIC Certificate", "Electrical competent person", "NAPIT", "ELECSA"],
        [ELECTRICAL],
    ),
    (
        3,
        "public_liability",
        "Public liability insurance",
        None,
        "Cover for injury or damage to tenants, landlords and the public; required of every contractor.",
        ["Public Liability", "PLI"],
        ALL_TRADES,
    ),
    (
        4,
        "employers_liability",
        "Employer's liability insurance",
        None,
        "Legally required when the contractor employs staff.",
        ["Employers Liability", "ELI"],
        [],
    ),
    (5, "oftec", "OFTEC registration", "OFTEC", "Competent person registration for oil-fired heating.", ["OFTEC"], []),
    (
        6,
        "working_at_height",
        "Working at height training",
        None,
        "Training for ladder, scaffold and roof work (e.g. PASMA or IPAF).",
        ["Working at Height", "PASMA", "IPAF"],
        [ROOFING],
    ),
    (
        7,
        "cscs",
        "CSCS card",
        "Construction Skills Certification Scheme",
        "Proof of training and qualifications for construction site work.",
        ["CSCS"],
        [],
    ),
    (
        8,
        "asbestos_awareness",
        "Asbestos awareness training",
        None,
        "Category A awareness training for trades that may disturb asbestos in older properties.",
        ["Asbestos Awareness", "UKATA"],
        [ROOFING, GENERAL],
    ),
    (
        9,
        "water_regs",
        "WaterSafe / WRAS approved plumber",
        "WaterSafe",
        "Approved contractor scheme for work under the Water Supply (Water Fittings) Regulations.",
        ["WaterSafe", "WRAS"],
        [],
    ),
]


def _seed() -> None:
    t = sa.table
    c = sa.column
    now = sa.func.now() if op.get_bind().dialect.name == "postgresql" else sa.text("CURRENT_TIMESTAMP")
    op.bulk_insert(
        t("permissions", c("key"), c("description")), [{"key": k, "description": d} for k, d in PERMISSIONS.items()]
    )
    bind = op.get_bind()
    names = ", ".join(f"'{n}'" for n in GRANTED_TO)
    role_ids = [r[0] for r in bind.execute(sa.text(f"SELECT id FROM roles WHERE name IN ({names})")).fetchall()]
    op.bulk_insert(
        t("role_permissions", c("role_id"), c("permission_key")),
        [{"role_id": r, "permission_key": k} for r in role_ids for k in PERMISSIONS],
    )
    types = t(
        "certification_types",
        c("id"),
        c("code"),
        c("name"),
        c("issuing_body"),
        c("description"),
        c("aliases", sa.JSON()),
        c("is_active"),
        c("created_at"),
        c("updated_at"),
    )
    for type_id, code, name, body, description, aliases, _ in CERTIFICATION_TYPES:
        op.execute(
            types.insert().values(
                id=type_id,
                code=code,
                name=name,
                issuing_body=body,
                description=description,
                aliases=aliases,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
        )
    op.bulk_insert(
        t("certification_type_trades", c("certification_type_id"), c("trade_id")),
        [{"certification_type_id": row[0], "trade_id": trade} for row in CERTIFICATION_TYPES for trade in row[6]],
    )
    if bind.dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('certification_types', 'id'), (SELECT MAX(id) FROM certification_types))"
        )


def upgrade() -> None:
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("template", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_email_outbox_dedupe_key")),
    )
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_outbox_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_email_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "certification_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("issuing_body", sa.String(length=120), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_types")),
        sa.UniqueConstraint("code", name=op.f("uq_certification_types_code")),
        sa.UniqueConstraint("name", name=op.f("uq_certification_types_name")),
    )
    op.create_table(
        "certification_type_trades",
        sa.Column("certification_type_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certification_type_id"],
            ["certification_types.id"],
            name=op.f("fk_certification_type_trades_certification_type_id_certification_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("fk_certification_type_trades_trade_id_trades"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("certification_type_id", "trade_id", name=op.f("pk_certification_type_trades")),
    )
    with op.batch_alter_table("certification_type_trades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certification_type_trades_trade_id"), ["trade_id"], unique=False)

    op.create_table(
        "certifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("certification_type_id", sa.Integer(), nullable=False),
        sa.Column("certificate_number", sa.String(length=100), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(length=80), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("last_reminder_step", sa.String(length=20), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["certification_type_id"],
            ["certification_types.id"],
            name=op.f("fk_certifications_certification_type_id_certification_types"),
        ),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name=op.f("fk_certifications_contractor_id_contractors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["certifications.id"],
            name=op.f("fk_certifications_superseded_by_id_certifications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["users.id"],
            name=op.f("fk_certifications_uploaded_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certifications")),
        sa.UniqueConstraint("file_name", name=op.f("uq_certifications_file_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_certifications_uuid")),
    )
    with op.batch_alter_table("certifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certifications_certification_type_id"), ["certification_type_id"], unique=False
        )
        batch_op.create_index(
            "ix_certifications_contractor_type_superseded",
            ["contractor_id", "certification_type_id", "superseded_at"],
            unique=False,
        )
        batch_op.create_index("ix_certifications_superseded_expires", ["superseded_at", "expires_on"], unique=False)

    op.create_table(
        "certification_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certification_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certification_id"],
            ["certifications.id"],
            name=op.f("fk_certification_reminders_certification_id_certifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_reminders")),
        sa.UniqueConstraint("certification_id", "step", name=op.f("uq_certification_reminders_certification_id_step")),
    )
    _seed()


def downgrade() -> None:
    op.drop_table("certification_reminders")
    with op.batch_alter_table("certifications", schema=None) as batch_op:
        batch_op.drop_index("ix_certifications_superseded_expires")
        batch_op.drop_index("ix_certifications_contractor_type_superseded")
        batch_op.drop_index(batch_op.f("ix_certifications_certification_type_id"))
    op.drop_table("certifications")
    with op.batch_alter_table("certification_type_trades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_type_trades_trade_id"))
    op.drop_table("certification_type_trades")
    op.drop_table("certification_types")
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_email_outbox_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_email_outbox_created_at"))
    op.drop_table("email_outbox")
    keys = ", ".join(f"'{k}'" for k in PERMISSIONS)
    op.execute(f"DELETE FROM role_permissions WHERE permission_key IN ({keys})")
    op.execute(f"DELETE FROM user_permissions WHERE permission_key IN ({keys})")
    op.execute(f"DELETE FROM permissions WHERE key IN ({keys})")
