"""citizens come back: sign-in codes, sessions, hotline PINs, followers

Revision ID: i16a0c1t2z3n
Revises: i19t4u5m6b7n
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import reflections.models.types

revision: str = "i16a0c1t2z3n"
down_revision: str | None = "i19t4u5m6b7n"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
When = reflections.models.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sign_in_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", AutoString(length=16), nullable=False),
        sa.Column("address", AutoString(length=254), nullable=False),
        sa.Column("code_hash", AutoString(length=64), nullable=False),
        sa.Column("client", AutoString(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.Column("expires_at", When(timezone=True), nullable=False),
        sa.Column("used_at", When(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_codes")),
    )
    with op.batch_alter_table("sign_in_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sign_in_codes_contact", ["channel", "address", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sign_in_codes_client"), ["client"], unique=False)
    op.create_table(
        "citizen_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", AutoString(length=64), nullable=False),
        sa.Column("channel", AutoString(length=16), nullable=False),
        sa.Column("address", AutoString(length=254), nullable=False),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.Column("expires_at", When(timezone=True), nullable=False),
        sa.Column("ended_at", When(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_citizen_sessions_token_hash")),
    )
    op.create_table(
        "reflection_pins",
        sa.Column("reflection_id", sa.Integer(), nullable=False),
        sa.Column("pin_hash", AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reflection_id"],
            ["reflections.id"],
            name=op.f("fk_reflection_pins_reflection_id_reflections"),
        ),
        sa.PrimaryKeyConstraint("reflection_id", name=op.f("pk_reflection_pins")),
    )
    op.create_table(
        "followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reflection_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("via", AutoString(length=16), nullable=False),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reflection_id"],
            ["reflections.id"],
            name=op.f("fk_followers_reflection_id_reflections"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["reporters.id"], name=op.f("fk_followers_reporter_id_reporters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followers")),
    )
    with op.batch_alter_table("followers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followers_reflection_id"), ["reflection_id"])
        batch_op.create_index(batch_op.f("ix_followers_reporter_id"), ["reporter_id"])
        batch_op.create_index("uq_followers_pair", ["reflection_id", "reporter_id"], unique=True)
    op.create_table(
        "staged_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_hash", AutoString(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("filename", AutoString(length=255), nullable=True),
        sa.Column("created_at", When(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_photos")),
    )
    with op.batch_alter_table("staged_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staged_photos_batch_hash"), ["batch_hash"])
        batch_op.create_index(batch_op.f("ix_staged_photos_created_at"), ["created_at"])


def downgrade() -> None:
    op.drop_table("staged_photos")
    op.drop_table("followers")
    op.drop_table("reflection_pins")
    op.drop_table("citizen_sessions")
    with op.batch_alter_table("sign_in_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_codes_client"))
        batch_op.drop_index("ix_sign_in_codes_contact")
    op.drop_table("sign_in_codes")
