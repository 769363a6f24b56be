"""reflections.chain_hash: the history chain's head on the row (issue 18)

Revision ID: i18a0c4h1n2d
Revises: i16a0c1t2z3n
Create Date: 2026-12-07 08:00:00.000000

Left NULL for existing rows: the lifecycle service reads the head from the history the first
time such a reflection changes, and keeps it on the row from then on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "i18a0c4h1n2d"
down_revision: str | None = "i16a0c1t2z3n"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reflections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chain_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("reflections", schema=None) as batch_op:
        batch_op.drop_column("chain_hash")
