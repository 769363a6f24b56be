"""publication decisions: what a coordinator made public of a citizen's reflection

Revision ID: i13a7p0b1c2d
Revises: i15a1d3m9k0e
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reflections.models.types

revision: str = "i13a7p0b1c2d"
down_revision: str | None = "i15a1d3m9k0e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = sa.Enum(
    "citizen",
    "operator",
    "coordinator",
    "handler",
    "supervisor",
    "auditor",
    "admin",
    "system",
    name="role",
    native_enum=False,
    length=32,
)


def upgrade() -> None:
    op.create_table(
        "publication_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reflection_id", sa.Integer(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("public_summary", sa.Text(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", _ROLES, nullable=False),
        sa.Column(
            "occurred_at", reflections.models.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_publication_decisions_actor_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["reflection_id"],
            ["reflections.id"],
            name=op.f("fk_publication_decisions_reflection_id_reflections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_decisions")),
    )
    with op.batch_alter_table("publication_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_publication_decisions_actor_user_id"), ["actor_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_publication_decisions_reflection_id"), ["reflection_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("publication_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_decisions_reflection_id"))
        batch_op.drop_index(batch_op.f("ix_publication_decisions_actor_user_id"))
    op.drop_table("publication_decisions")
