"""attachments.thumbnail_sha256: the thumbnail stored by its own hash, in whichever store

Revision ID: i19t4u5m6b7n
Revises: i13b4b7s3c0a
Create Date: 2026-12-07 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i19t4u5m6b7n"
down_revision: str | None = "i13b4b7s3c0a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("thumbnail_sha256")
