"""What every flow shares: the instant it acts as of, a database session, the time zone."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from reflections.platform import clock
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings

TIME_ZONE = "Asia/Ho_Chi_Minh"  # schedules are written in Hue's local time


def instant(at: datetime | None) -> datetime:
    """The instant a run acts as of: ``at`` (aware, made UTC) or the product clock's now."""
    if at is None:
        return clock.now()
    if at.tzinfo is None:
        raise ValueError("`at` needs a time zone, e.g. 2025-06-02T09:00:00+07:00")
    return at.astimezone(UTC)


def local(moment: datetime) -> str:
    """A moment as logs show it: in the configured (Hue's) time zone."""
    return f"{moment.astimezone(ZoneInfo(get_settings().time_zone)):%Y-%m-%d %H:%M %Z}"


@contextmanager
def domain_session(now: datetime, drill: bool, url: str | None = None) -> Iterator[Session]:
    """A session on the configured database (or ``url``: a drill's copy), for one batch in a
    worker thread.

    With an explicit ``at`` the product clock is frozen at ``now`` too, so the history rows
    the domain writes carry that instant, as ``reflections sla sweep --at`` does.
    """
    with Session(get_engine(url), expire_on_commit=False) as session:
        if not drill:
            yield session
            return
        with clock.frozen_at(now):
            yield session
