"""Claiming due rows for one worker: the mechanism the sweep and the dispatcher share.

Due rows are selected with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises writers
anyway), updated to show they are taken (a lease until some instant) and committed at once, so a
second worker running the same query at the same time takes other rows.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Mapped
from sqlmodel import Session, SQLModel

Column = ColumnElement[Any] | Mapped[Any]


def claim(
    session: Session,
    table: type[SQLModel],
    id_column: Mapped[Any],
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[Column],
    batch_size: int,
    lease: Mapping[str, Any],
    returning: Sequence[Column],
) -> list[tuple[Any, ...]]:
    """Set ``lease`` on up to ``batch_size`` rows of ``table`` matching ``due``; the
    ``returning`` columns of the rows this worker got."""
    # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT n): PostgreSQL may plan
    # that as a nested loop re-running the limited subquery per row and claim far more than n.
    due_ids = (
        session.execute(
            select(id_column)
            .where(*due)
            .order_by(*order_by)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not due_ids:
        session.commit()
        return []
    claimed = session.execute(
        update(table)
        .where(id_column.in_(due_ids), *due)  # still due once locked
        .values(**lease)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [tuple(row) for row in claimed]
