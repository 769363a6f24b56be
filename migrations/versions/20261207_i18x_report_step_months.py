"""report summaries: step histograms per month, step figures per cell, and an index for the
months' fingerprints (issue 18)

Revision ID: i18s7h2p4c9f
Revises: i18b5u7m2r3y
Create Date: 2026-12-07 11:05:00.000000

The step cells now hold working times to the tenth of an hour shown, and two tables join
them; every summarised month is forgotten so that the next refresh rebuilds it whole (until
then reports run their SQL, with the same figures).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i18s7h2p4c9f"
down_revision: str | None = "i18b5u7m2r3y"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bytewise(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _forget_summaries() -> None:
    for table in ("report_step_cells", "report_cells", "report_months"):
        op.execute(sa.text(f"DELETE FROM {table}"))


def upgrade() -> None:
    op.create_table(
        "report_step_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", _bytewise(7), nullable=False),
        sa.Column("step", _bytewise(16), nullable=False),
        sa.Column("working_seconds", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_step_months")),
    )
    op.create_index("ix_report_step_months_month", "report_step_months", ["month"], unique=False)
    op.create_table(
        "report_step_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", _bytewise(7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("step", _bytewise(16), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("median_seconds", sa.Integer(), nullable=False),
        sa.Column("p90_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_step_figures")),
    )
    op.create_index("ix_report_step_figures_month", "report_step_figures", ["month"], unique=False)
    op.create_index(
        "ix_reflections_created_at_version",
        "reflections",
        ["created_at", "version"],
        unique=False,
    )
    _forget_summaries()


def downgrade() -> None:
    _forget_summaries()
    op.drop_index("ix_reflections_created_at_version", table_name="reflections")
    op.drop_index("ix_report_step_figures_month", table_name="report_step_figures")
    op.drop_table("report_step_figures")
    op.drop_index("ix_report_step_months_month", table_name="report_step_months")
    op.drop_table("report_step_months")
