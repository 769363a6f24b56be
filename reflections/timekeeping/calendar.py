"""Working-time calendar: "start + N working minutes" and "working minutes between" (DESIGN §2, §5).

Deadlines of normal reflections count working time (Monday–Friday 07:30–11:30 and 13:30–17:00 in
Asia/Ho_Chi_Minh, minus public holidays, plus the government's make-up Saturdays); emergencies count
around the clock. Both calendars share one interface (:class:`Calendar`) so a policy's
``around_the_clock`` flag only picks which one to use (:func:`calendar_for`).

Conventions (the same for every method):

* Inputs are aware datetimes in any time zone; a naive datetime raises ``ValueError``.
  Outputs are aware datetimes in UTC (the database's zone, like :mod:`reflections.platform.clock`).
* Working periods are half-open ``[start, end)`` in local wall-clock time: 11:30 is not working
  time, 11:29:59 is.
* ``add(start, n)`` with ``n > 0`` returns the *earliest* instant at which ``n`` working minutes
  have been spent, so an allowance that runs out exactly at lunch ends at 11:30, not at 13:30.
  ``add(start, 0)`` returns :meth:`WorkingCalendar.next_working_instant` (``start`` itself when
  it is working time).
* Seconds are kept: arithmetic is exact to the microsecond, so 11:29:30 + 1 minute is 13:30:30.
* ``elapsed(a, b)`` reads a working-minute "odometer": the whole working minutes completed by
  ``b`` minus those completed by ``a``. For instants with equal seconds (in particular whole
  minutes) that is simply the working time between them in minutes; in general it is exactly
  additive and ``elapsed(s, add(s, n)) == n`` for every ``s``.
* Cost is proportional to the number of calendar days spanned; holidays are computed once per
  country and year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_DAY",
    "DEFAULT_WEEK",
    "DEFAULT_WORKING_DAY_MINUTES",
    "AroundTheClock",
    "Calendar",
    "CalendarConfig",
    "Period",
    "WorkingCalendar",
    "calendar_for",
]

_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 24 * 60 * _US_PER_MINUTE
_ONE_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Period(NamedTuple):
    """A working period of a day in local wall-clock time, ``[start, end)``.

    ``end == time(0)`` means midnight at the end of the day (24:00).
    """

    start: time
    end: time


DEFAULT_DAY: tuple[Period, ...] = (
    Period(time(7, 30), time(11, 30)),
    Period(time(13, 30), time(17, 0)),
)
"""Vietnamese office hours (DESIGN §2): 4 h in the morning, 3 h 30 in the afternoon."""

DEFAULT_WORKING_DAY_MINUTES = 450
"""Length of a :data:`DEFAULT_DAY`; "5 working days" in a policy is 5 × 450 minutes."""

DEFAULT_WEEK: tuple[tuple[Period, ...], ...] = (DEFAULT_DAY,) * 5 + ((), ())
"""Monday–Friday work the default day; Saturday and Sunday are off."""


@dataclass(frozen=True)
class CalendarConfig:
    """Everything that defines working time; frozen and hashable so calendars can be cached.

    * ``periods``: seven entries, Monday first, each the day's working periods.
    * ``extra_days_off``: dates off on top of the public holidays (e.g. a longer Tet break
      than the package knows, or a local decision). They win over everything else.
    * ``extra_working_days``: make-up days (a Saturday worked to join a holiday to a weekend,
      or a holiday cancelled); they work ``make_up_day_periods``.
    * ``holiday_country``: ``holidays`` country code for public holidays; ``None`` for none.
    * ``official_make_up_days``: also work the weekend days the ``holidays`` package lists as
      swapped working days (``weekend_workdays``, e.g. Saturday 2026-08-22), because the
      package already counts the matching weekday off; without them that swap would be lost.
    """

    periods: tuple[tuple[Period, ...], ...] = DEFAULT_WEEK
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    make_up_day_periods: tuple[Period, ...] = DEFAULT_DAY
    time_zone: str = "Asia/Ho_Chi_Minh"
    holiday_country: str | None = "VN"
    official_make_up_days: bool = True
    # Derived, in microseconds since local midnight; not part of equality.
    _week_us: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)
    _make_up_us: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any iterables and normalise them, so the config stays hashable.
        object.__setattr__(self, "periods", tuple(tuple(day) for day in self.periods))
        object.__setattr__(self, "make_up_day_periods", tuple(self.make_up_day_periods))
        object.__setattr__(self, "extra_days_off", frozenset(self.extra_days_off))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        if len(self.periods) != 7:
            raise ValueError("periods needs seven entries, Monday first")
        both = self.extra_days_off & self.extra_working_days
        if both:
            raise ValueError(f"dates both off and working: {sorted(both)}")
        ZoneInfo(self.time_zone)  # fail early on an unknown zone
        week = tuple(_periods_us(day) for day in self.periods)
        if not any(week):
            raise ValueError("at least one weekday needs working periods")
        object.__setattr__(self, "_week_us", week)
        object.__setattr__(self, "_make_up_us", _periods_us(self.make_up_day_periods))


def _periods_us(periods: Iterable[Period]) -> tuple[tuple[int, int], ...]:
    """Validate one day's periods and turn them into microsecond offsets."""
    result: list[tuple[int, int]] = []
    for start, end in periods:
        for t in (start, end):
            if t.tzinfo is not None or t.second or t.microsecond:
                raise ValueError(f"period bounds are naive whole minutes, not {t!r}")
        start_us = (start.hour * 60 + start.minute) * _US_PER_MINUTE
        end_us = (end.hour * 60 + end.minute) * _US_PER_MINUTE or _US_PER_DAY
        if start_us >= end_us:
            raise ValueError(f"period {start}–{end} is empty")
        if result and start_us < result[-1][1]:
            raise ValueError("periods must be sorted and must not overlap")
        result.append((start_us, end_us))
    return tuple(result)


class _OfficialDays(NamedTuple):
    days_off: frozenset[date]
    make_up_days: frozenset[date]


@lru_cache(maxsize=256)
def _official_days(country: str, year: int) -> _OfficialDays:
    """Public holidays and swapped weekend working days of one year (cached per year).

    The next year is loaded too because a swap may work a day of the previous year
    (e.g. Saturday 27 Dec 2014 worked for Friday 2 Jan 2015).
    """
    calendar = holidays.country_holidays(country, years=(year, year + 1))
    return _OfficialDays(
        days_off=frozenset(d for d in calendar if d.year == year),
        make_up_days=frozenset(d for d in calendar.weekend_workdays if d.year == year),
    )


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got naive {at!r}")


def _require_non_negative(amount: int, unit: str) -> None:
    if amount < 0:
        raise ValueError(f"{unit} must be >= 0, got {amount}")


class Calendar(Protocol):
    """What deadline code needs; implemented by :class:`WorkingCalendar` and
    :class:`AroundTheClock`."""

    def add(self, start: datetime, minutes: int) -> datetime: ...
    def add_hours(self, start: datetime, hours: int) -> datetime: ...
    def add_days(self, start: datetime, days: int) -> datetime: ...
    def elapsed(self, start: datetime, end: datetime) -> int: ...
    def next_working_instant(self, at: datetime) -> datetime: ...
    def is_working_time(self, at: datetime) -> bool: ...


class WorkingCalendar:
    """Working time per a :class:`CalendarConfig` (see the module docstring for conventions).

    Periods are wall-clock times; a daylight-saving jump inside a working period would be
    miscounted, which cannot happen in Asia/Ho_Chi_Minh (no DST since 1975).
    """

    def __init__(self, config: CalendarConfig | None = None) -> None:
        self.config = config if config is not None else DEFAULT_CONFIG
        self._zone = ZoneInfo(self.config.time_zone)

    # -- days -------------------------------------------------------------------------------

    def _day(self, day: date) -> tuple[tuple[int, int], ...]:
        """The day's working periods in microseconds; the precedence rules live here."""
        config = self.config
        if day in config.extra_days_off:
            return ()
        if day in config.extra_working_days:
            return config._make_up_us
        if config.holiday_country is not None:
            official = _official_days(config.holiday_country, day.year)
            if day in official.days_off:
                return ()
            if config.official_make_up_days and day in official.make_up_days:
                return config._make_up_us
        return config._week_us[day.weekday()]

    def working_minutes_on(self, day: date) -> int:
        """Working minutes of a local calendar date (0 on holidays and days off)."""
        return sum(end - start for start, end in self._day(day)) // _US_PER_MINUTE

    def _next_working_day(self, day: date) -> tuple[date, tuple[tuple[int, int], ...]]:
        """The first day after ``day`` that has working periods."""
        while True:
            day += _ONE_DAY
            periods = self._day(day)
            if periods:
                return day, periods

    # -- local time -------------------------------------------------------------------------

    def _split(self, at: datetime) -> tuple[date, int]:
        """(local date, microseconds since local midnight)."""
        _require_aware(at)
        local = at.astimezone(self._zone)
        us = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
        return local.date(), us

    def _join(self, day: date, us: int) -> datetime:
        local = datetime.combine(day, time(0), tzinfo=self._zone) + timedelta(microseconds=us)
        return local.astimezone(UTC)

    @staticmethod
    def _offset(periods: tuple[tuple[int, int], ...], us: int) -> int:
        """Working microseconds of the day before local time ``us``."""
        return sum(min(max(us, start), end) - start for start, end in periods)

    @staticmethod
    def _at_offset(periods: tuple[tuple[int, int], ...], offset: int) -> int:
        """Earliest local time by which ``offset`` (> 0) working microseconds are spent;
        clamped to the end of the day's last period."""
        for start, end in periods:
            if offset <= end - start:
                return start + offset
            offset -= end - start
        return periods[-1][1]

    # -- public interface -------------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` falls inside a working period (period ends excluded)."""
        day, us = self._split(at)
        return any(start <= us < end for start, end in self._day(day))

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself if it is working time, else the start of the next working period."""
        day, us = self._split(at)
        for start, end in self._day(day):
            if us < end:
                return self._join(day, max(us, start))
        day, periods = self._next_working_day(day)
        return self._join(day, periods[0][0])

    def add(self, start: datetime, minutes: int) -> datetime:
        """``start`` + ``minutes`` working minutes: the earliest instant they are all spent.

        Walks period by period, day by day; a day that cannot finish the allowance is
        consumed whole.
        """
        _require_non_negative(minutes, "minutes")
        if minutes == 0:
            return self.next_working_instant(start)
        remaining = minutes * _US_PER_MINUTE
        day, us = self._split(start)
        periods = self._day(day)
        while True:
            for period_start, period_end in periods:
                if us >= period_end:
                    continue
                begin = max(us, period_start)
                if remaining <= period_end - begin:
                    return self._join(day, begin + remaining)
                remaining -= period_end - begin
            day, periods = self._next_working_day(day)
            us = 0

    def add_hours(self, start: datetime, hours: int) -> datetime:
        """``add(start, 60 * hours)``: policies speak in working hours."""
        _require_non_negative(hours, "hours")
        return self.add(start, hours * 60)

    def add_days(self, start: datetime, days: int) -> datetime:
        """``days`` working days later at the same working offset into the day.

        The offset is the working time already spent on the start's day (counted from
        :meth:`next_working_instant`); the result is the earliest instant on the
        ``days``-th following working day with that offset (clamped to that day's end if
        it is shorter). At offset 0 (the start of a day) that earliest instant is the end
        of the previous working day: Monday 07:30 + 1 day is Monday 17:00. Hence, when every
        working day has the same length L (as by default, holidays and make-up days
        included), ``add_days(s, n) == add(s, n * L)``; ``days == 0`` gives
        :meth:`next_working_instant`.
        """
        _require_non_negative(days, "days")
        begin = self.next_working_instant(start)
        if days == 0:
            return begin
        day, us = self._split(begin)
        periods = self._day(day)
        offset = self._offset(periods, us)
        if offset == 0:
            for _ in range(days - 1):
                day, periods = self._next_working_day(day)
            return self._join(day, periods[-1][1])
        for _ in range(days):
            day, periods = self._next_working_day(day)
        return self._join(day, self._at_offset(periods, offset))

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Working minutes from ``start`` to ``end``; 0 if ``end <= start``.

        Odometer semantics: whole working minutes completed by ``end`` minus those completed
        by ``start`` (both truncated to the minute), so the sum over consecutive intervals is
        exact and time outside working periods counts nothing.
        """
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return 0
        first_day, first_us = self._split(start)
        last_day, last_us = self._split(end)
        first_us -= first_us % _US_PER_MINUTE
        last_us -= last_us % _US_PER_MINUTE
        first = self._day(first_day)
        if first_day == last_day:
            total = self._offset(first, last_us) - self._offset(first, first_us)
        else:
            total = self._offset(first, _US_PER_DAY) - self._offset(first, first_us)
            day = first_day + _ONE_DAY
            while day < last_day:
                total += self._offset(self._day(day), _US_PER_DAY)
                day += _ONE_DAY
            total += self._offset(self._day(last_day), last_us)
        return total // _US_PER_MINUTE


class AroundTheClock:
    """Wall-clock time for "around the clock" policies (emergencies, confirmation windows).

    Same interface and conventions as :class:`WorkingCalendar`: every instant is working
    time, a day is 24 hours, ``elapsed`` counts whole minutes like an odometer.
    """

    def add(self, start: datetime, minutes: int) -> datetime:
        """``start`` + ``minutes`` of wall-clock time."""
        _require_aware(start)
        _require_non_negative(minutes, "minutes")
        # In UTC: adding to a local time would be wall-clock arithmetic across DST jumps.
        return start.astimezone(UTC) + timedelta(minutes=minutes)

    def add_hours(self, start: datetime, hours: int) -> datetime:
        """``start`` + ``hours`` hours."""
        _require_non_negative(hours, "hours")
        return self.add(start, hours * 60)

    def add_days(self, start: datetime, days: int) -> datetime:
        """``start`` + ``days`` × 24 hours."""
        _require_non_negative(days, "days")
        return self.add(start, days * 24 * 60)

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Whole minutes from ``start`` to ``end`` (odometer); 0 if ``end <= start``."""
        _require_aware(start)
        _require_aware(end)
        if end <= start:
            return 0
        minute = timedelta(minutes=1)
        return (end - _EPOCH) // minute - (start - _EPOCH) // minute

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself (in UTC): every instant is working time."""
        _require_aware(at)
        return at.astimezone(UTC)

    def is_working_time(self, at: datetime) -> bool:
        """Always true; still refuses naive datetimes like the working calendar."""
        _require_aware(at)
        return True


DEFAULT_CONFIG = CalendarConfig()


@lru_cache(maxsize=32)
def calendar_for(*, around_the_clock: bool, config: CalendarConfig | None = None) -> Calendar:
    """The calendar a policy counts in; cached so holiday lookups are shared."""
    if around_the_clock:
        return AroundTheClock()
    return WorkingCalendar(config)
