"""reflections lat long index

Revision ID: 5e1c2a9d7b40
Revises: bfd8b1e26f0f
Create Date: 2026-11-27 04:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e1c2a9d7b40"
down_revision: str | None = "bfd8b1e26f0f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Duplicate suggestions prefilter reports nearby with a latitude/longitude box.
    op.create_index(
        "ix_reflections_lat_long", "reflections", ["latitude", "longitude"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_reflections_lat_long", table_name="reflections")
