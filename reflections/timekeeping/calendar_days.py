"""The administrators' working calendar: days off and working days kept as data (DESIGN §2, §10).

The government moves days every year (New Year 2026: Friday 2 January off, Saturday 10 January
worked); administrators keep them in ``calendar_days`` and every deadline reads them from there.

Reading (:func:`config_as_of`): a step counts in the calendar that was in force when it
started, so a change never moves a running step's deadline or its reminder and escalation
marks. The rows are read once per process and database and kept for
``calendar_refresh_seconds``; a change made through this module is seen at once by this process
and takes effect for steps that start from ``calendar_refresh_seconds`` after it, by which time
every other process has reloaded too.

Changing (:func:`set_day`, :func:`remove_day`): the current row of the date is retired and the
new one added; nothing is updated in place or deleted, so the rows are the audit trail of who
changed what and when.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reflections.errors import Conflict, InvalidInput, NotFound
from reflections.models import CalendarDay
from reflections.models.enums import CalendarDayKind
from reflections.platform.db import database_key
from reflections.platform.settings import get_settings
from reflections.timekeeping.calendar import CalendarConfig, WorkingCalendar

ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)
"""``effective_from`` of rows that were always in force (seeded from the environment)."""

FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates an administrator may set


@dataclass(frozen=True)
class _Rule:
    day: date
    kind: CalendarDayKind
    start: datetime
    end: datetime | None

    def in_force_at(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


@dataclass(frozen=True)
class _Snapshot:
    """Every row of one database, as the calendars in force between the change instants:
    ``configs[i]`` holds from ``instants[i - 1]`` (inclusive) to ``instants[i]``."""

    loaded_at: float
    instants: tuple[datetime, ...]
    configs: tuple[CalendarConfig, ...]


_lock = threading.Lock()
_snapshots: dict[str, _Snapshot] = {}


def _database(session: Session) -> str:
    return database_key(session)


def _config(rules: Iterable[_Rule]) -> CalendarConfig:
    rules = list(rules)
    return CalendarConfig(
        extra_days_off=frozenset(r.day for r in rules if r.kind is CalendarDayKind.DAY_OFF),
        extra_working_days=frozenset(r.day for r in rules if r.kind is CalendarDayKind.WORKING_DAY),
    )


def _load(session: Session) -> _Snapshot:
    rules = [
        _Rule(row.day, CalendarDayKind(row.kind), row.effective_from, row.effective_to)
        for row in session.exec(select(CalendarDay))
    ]
    instants = sorted({r.start for r in rules} | {r.end for r in rules if r.end is not None})
    configs = [_config(())]
    configs += [_config(r for r in rules if r.in_force_at(at)) for at in instants]
    return _Snapshot(time.monotonic(), tuple(instants), tuple(configs))


def _snapshot(session: Session) -> _Snapshot:
    key = _database(session)
    refresh = get_settings().calendar_refresh_seconds
    with _lock:
        snapshot = _snapshots.get(key)
    if snapshot is None or time.monotonic() - snapshot.loaded_at >= refresh:
        snapshot = _load(session)
        with _lock:
            _snapshots[key] = snapshot
    return snapshot


def config_as_of(session: Session, as_of: datetime) -> CalendarConfig:
    """The calendar in force for a step that starts at ``as_of``."""
    snapshot = _snapshot(session)
    return snapshot.configs[bisect_right(snapshot.instants, as_of)]


def latest_config(session: Session) -> CalendarConfig:
    """The calendar once every change made so far is in force."""
    return _snapshot(session).configs[-1]


def invalidate(session: Session | None = None) -> None:
    """Forget what was read (of one database, or of all): the next reading reloads."""
    with _lock:
        if session is None:
            _snapshots.clear()
        else:
            _snapshots.pop(_database(session), None)


# -- changing -------------------------------------------------------------------------------


class CalendarRefused(InvalidInput):
    """A change that would change nothing; ``code`` names why, for the pages' catalogues."""

    def __init__(self, field: str, code: str, reason: str) -> None:
        super().__init__(field, reason, code)


def current_row(session: Session, day: date) -> CalendarDay | None:
    return session.exec(
        select(CalendarDay).where(CalendarDay.day == day, col(CalendarDay.retired_at).is_(None))
    ).first()


def _check_date(day: date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarRefused("day", "out_of_range", f"must be in {FIRST_YEAR}–{LAST_YEAR}")


def _check_changes_something(session: Session, day: date, kind: CalendarDayKind) -> None:
    """Refuse a day off on a day that is off anyway, or a working day on a working day: the
    administrator probably picked the wrong date."""
    latest = latest_config(session)
    without = WorkingCalendar(
        CalendarConfig(
            extra_days_off=latest.extra_days_off - {day},
            extra_working_days=latest.extra_working_days - {day},
        )
    )
    working = without.working_minutes_on(day) > 0
    if kind is CalendarDayKind.WORKING_DAY and working:
        raise CalendarRefused("kind", "already_working", f"{day:%d/%m/%Y} is a working day anyway")
    if kind is CalendarDayKind.DAY_OFF and not working:
        raise CalendarRefused("kind", "already_off", f"{day:%d/%m/%Y} is a day off anyway")


def _effective(now: datetime) -> datetime:
    return now + timedelta(seconds=get_settings().calendar_refresh_seconds)


def _retire(row: CalendarDay, user_id: int | None, now: datetime) -> None:
    row.retired_at = now
    row.retired_by_id = user_id
    row.effective_to = max(_effective(now), row.effective_from)


def _commit(session: Session, day: date) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{day:%d/%m/%Y} was changed by someone else; reload and retry") from None
    finally:
        invalidate(session)


def set_day(
    session: Session,
    day: date,
    kind: CalendarDayKind,
    note: str | None,
    user_id: int | None,
    now: datetime,
) -> tuple[CalendarDay, bool]:
    """Make ``day`` a day off or a working day; (the current row, whether anything changed)."""
    _check_date(day)
    note = (note or "").strip() or None
    current = current_row(session, day)
    if current is not None and current.kind is kind and current.note == note:
        return current, False
    if current is None or current.kind is not kind:
        _check_changes_something(session, day, kind)
    if current is not None:
        _retire(current, user_id, now)
        session.add(current)
        session.flush()  # the retired row leaves the "one current row per date" index first
    row = CalendarDay(
        day=day,
        kind=kind,
        note=note,
        effective_from=_effective(now),
        created_at=now,
        created_by_id=user_id,
    )
    session.add(row)
    _commit(session, day)
    return row, True


def remove_day(session: Session, day: date, user_id: int | None, now: datetime) -> CalendarDay:
    """Give ``day`` back to the weekly schedule and the public holidays; the retired row."""
    current = current_row(session, day)
    if current is None:
        raise NotFound(f"{day:%d/%m/%Y} has no day off or working day set")
    _retire(current, user_id, now)
    session.add(current)
    _commit(session, day)
    return current


def seed_day(session: Session, day: date, kind: CalendarDayKind, note: str, now: datetime) -> bool:
    """Add a day that was always so (the environment's lists, the catalogue's moved days),
    unless the date already has a row: an administrator's decision is never overwritten.
    Not committed; True if added."""
    known = session.exec(select(CalendarDay.id).where(CalendarDay.day == day)).first()
    if known is not None:
        return False
    session.add(CalendarDay(day=day, kind=kind, note=note, effective_from=ALWAYS, created_at=now))
    return True


def rows_of_year(session: Session, year: int, *, current_only: bool) -> list[CalendarDay]:
    """The year's rows by date; with ``current_only`` False also the retired ones, newest
    first within a date (the audit trail)."""
    statement = select(CalendarDay).where(
        col(CalendarDay.day) >= date(year, 1, 1), col(CalendarDay.day) <= date(year, 12, 31)
    )
    if current_only:
        statement = statement.where(col(CalendarDay.retired_at).is_(None))
    return list(session.exec(statement.order_by(col(CalendarDay.day), col(CalendarDay.id).desc())))
