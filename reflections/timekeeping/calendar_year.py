"""A year of the working calendar at a glance: working days per month and every exception,
with where it comes from (for ``reflections calendar show`` and the administrators' page)."""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date

import holidays
from sqlmodel import Session

from reflections.models.enums import CalendarDayKind
from reflections.timekeeping import calendar_days
from reflections.timekeeping.calendar import WorkingCalendar

PUBLIC_HOLIDAY = "public_holiday"
OFFICIAL_MAKE_UP_DAY = "official_make_up_day"  # a weekend day the package lists as worked
ADMINISTRATOR = "administrator"


@dataclass(frozen=True)
class MonthSummary:
    month: int
    working_days: int
    working_minutes: int


@dataclass(frozen=True)
class CalendarException:
    """A date that does not follow the weekly schedule (or that the package names)."""

    day: date
    working: bool  # what the date is in the end, all rules applied
    source: str  # PUBLIC_HOLIDAY, OFFICIAL_MAKE_UP_DAY or ADMINISTRATOR
    name: str | None  # the holiday's name, or the administrator's note


@dataclass(frozen=True)
class YearOverview:
    year: int
    months: list[MonthSummary]
    exceptions: list[CalendarException]

    @property
    def working_days(self) -> int:
        return sum(m.working_days for m in self.months)

    @property
    def working_minutes(self) -> int:
        return sum(m.working_minutes for m in self.months)


def year_overview(session: Session, year: int, language: str = "en") -> YearOverview:
    """The year as steps starting now will count it (every change made so far in force)."""
    config = calendar_days.latest_config(session)
    cal = WorkingCalendar(config)
    months = []
    for month in range(1, 13):
        _, length = month_calendar.monthrange(year, month)
        minutes = [cal.working_minutes_on(date(year, month, d)) for d in range(1, length + 1)]
        months.append(MonthSummary(month, sum(1 for m in minutes if m), sum(minutes)))
    found: dict[date, CalendarException] = {}
    if config.holiday_country is not None:
        package = holidays.country_holidays(
            config.holiday_country, years=year, language="vi" if language == "vi" else "en_US"
        )
        for day, name in package.items():
            found[day] = CalendarException(day, _working(cal, day), PUBLIC_HOLIDAY, name)
        if config.official_make_up_days:
            for day in package.weekend_workdays:
                if day.year == year:
                    found[day] = CalendarException(
                        day, _working(cal, day), OFFICIAL_MAKE_UP_DAY, None
                    )
    for row in calendar_days.rows_of_year(session, year, current_only=True):
        working = row.kind is CalendarDayKind.WORKING_DAY
        found[row.day] = CalendarException(row.day, working, ADMINISTRATOR, row.note)
    return YearOverview(year, months, [found[day] for day in sorted(found)])


def _working(cal: WorkingCalendar, day: date) -> bool:
    return cal.working_minutes_on(day) > 0
