"""The live database refuses drills: no sweep as of the future runs on it (DESIGN.md §10).

A sweep as of the future on the live database would escalate reflections not yet due, date
history rows in the future and queue real messages for then. The sweeps call
:func:`refuse_future_on_live`, which lets an instant more than :data:`LIVE_TOLERANCE` ahead of
the real time through only on a drill copy (a database holding a :class:`DrillCopy` row).
"""

from datetime import datetime, timedelta

from sqlmodel import Session, select

from reflections.errors import DomainError
from reflections.models import DrillCopy
from reflections.platform import clock

LIVE_TOLERANCE = timedelta(minutes=5)  # clocks of two machines, a slow start


class DrillRefused(DomainError):
    """A drill asked of the live database."""


def is_copy(session: Session) -> bool:
    return session.exec(select(DrillCopy.id)).first() is not None


def is_future(at: datetime) -> bool:
    """Whether ``at`` is further ahead of the real time than a live sweep may act."""
    return at > clock.wall_now() + LIVE_TOLERANCE


def refuse_future_on_live(session: Session, at: datetime) -> None:
    if is_future(at) and not is_copy(session):
        raise DrillRefused(
            f"{at:%Y-%m-%d %H:%M} UTC is more than {LIVE_TOLERANCE} ahead: a drill runs on a "
            "copy of the database (reflections sla sweep --at makes one), never on the live one"
        )
