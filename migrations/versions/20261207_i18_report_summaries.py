"""report summaries: months, cells and step cells (issue 18)

Revision ID: i18b5u7m2r3y
Revises: i18a0c4h1n2d
Create Date: 2026-12-07 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import reflections.models.types

revision: str = "i18b5u7m2r3y"
down_revision: str | None = "i18a0c4h1n2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CELL_COUNTS = (
    "received",
    "rejected",
    "processed",
    "escalations",
    "extensions_requested",
    "extensions_granted",
    "reopened",
    "rated",
    "satisfied",
    "rating_sum",
)


def _bytewise(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "report_months",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("reflections", sa.Integer(), nullable=False),
        sa.Column("versions", sa.BigInteger(), nullable=False),
        sa.Column(
            "refreshed_at", reflections.models.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_report_months")),
    )
    op.create_table(
        "report_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", _bytewise(7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _CELL_COUNTS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_cells")),
    )
    op.create_index("ix_report_cells_month", "report_cells", ["month"], unique=False)
    op.create_table(
        "report_step_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", _bytewise(7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("step", _bytewise(16), nullable=False),
        sa.Column("working_seconds", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_step_cells")),
    )
    op.create_index("ix_report_step_cells_month", "report_step_cells", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_step_cells_month", table_name="report_step_cells")
    op.drop_table("report_step_cells")
    op.drop_index("ix_report_cells_month", table_name="report_cells")
    op.drop_table("report_cells")
    op.drop_table("report_months")
