"""Step allowances from the policy table (DESIGN.md §5)."""

from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from reflections.models import StepPolicy
from reflections.models.enums import Priority

DEFAULT_CONFIRMATION_WINDOW = timedelta(days=7)


def policy_for(session: Session, category_id: int | None, priority: Priority) -> StepPolicy | None:
    """The category's own policy for this priority, else the priority's default."""
    statement = (
        select(StepPolicy)
        .where(StepPolicy.priority == priority)
        .where(
            or_(col(StepPolicy.category_id) == category_id, col(StepPolicy.category_id).is_(None))
        )
        .order_by(col(StepPolicy.category_id).is_(None))
    )
    return session.exec(statement).first()


def confirmation_window(
    session: Session, category_id: int | None, priority: Priority | None
) -> timedelta:
    """How long a citizen has to confirm or reopen; counted around the clock."""
    policy = policy_for(session, category_id, priority) if priority else None
    if policy is None:
        return DEFAULT_CONFIRMATION_WINDOW
    return timedelta(minutes=policy.confirm_window_minutes)
