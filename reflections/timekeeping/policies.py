"""Step allowances from the policy table (DESIGN.md §5), read through the per-process copy
in :mod:`reflections.timekeeping.policy_cache`."""

from datetime import timedelta

from sqlmodel import Session

from reflections.models.enums import Priority
from reflections.timekeeping.policy_cache import policy_for

DEFAULT_CONFIRMATION_WINDOW = timedelta(days=7)


def confirmation_window(
    session: Session, category_id: int | None, priority: Priority | None
) -> timedelta:
    """How long a citizen has to confirm or reopen; counted around the clock."""
    policy = policy_for(session, category_id, priority) if priority else None
    if policy is None:
        return DEFAULT_CONFIRMATION_WINDOW
    return timedelta(minutes=policy.confirm_window_minutes)


__all__ = ["DEFAULT_CONFIRMATION_WINDOW", "confirmation_window", "policy_for"]
