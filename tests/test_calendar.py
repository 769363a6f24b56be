"""Working-time calendar: properties over 2025–2027 in any time zone, and hand-checked cases.

All hand-checked times are local Asia/Ho_Chi_Minh (UTC+7); default periods 07:30–11:30 and
13:30–17:00 (450 minutes a day).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reflections.timekeeping.calendar import (
    DEFAULT_WORKING_DAY_MINUTES,
    AroundTheClock,
    CalendarConfig,
    Period,
    WorkingCalendar,
    calendar_for,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()
CLOCK = AroundTheClock()
TICK = timedelta(microseconds=1)

fast = settings(max_examples=200, deadline=None)

instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    # "right/" zones count leap seconds, which no clock that sends us an instant does (their
    # offsets are 27 s off the civil ones): a client's instant carries a civil offset.
    timezones=st.timezones().filter(lambda zone: not str(zone).startswith("right/")),
    allow_imaginary=False,
)
# Up to about 40 working days: crosses Tet, the April-May holidays and year ends.
allowances = st.integers(min_value=0, max_value=40 * DEFAULT_WORKING_DAY_MINUTES)


def vn(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=VN)


def local(at: datetime) -> datetime:
    return at.astimezone(VN)


# -- properties ------------------------------------------------------------------------------


@fast
@given(instants, allowances)
def test_elapsed_gives_back_what_add_added(start: datetime, minutes: int) -> None:
    end = CAL.add(start, minutes)
    assert end.tzinfo is UTC
    assert CAL.elapsed(start, end) == minutes


@fast
@given(instants, allowances, allowances)
def test_add_is_monotonic_in_minutes(start: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert CAL.add(start, low) <= CAL.add(start, high)
    if low < high:
        assert CAL.add(start, low) < CAL.add(start, high)


@fast
@given(instants, instants, allowances)
def test_add_is_monotonic_in_start(a: datetime, b: datetime, minutes: int) -> None:
    early, late = sorted((a, b))
    assert CAL.add(early, minutes) <= CAL.add(late, minutes)


@fast
@given(instants, st.integers(min_value=1, max_value=40 * DEFAULT_WORKING_DAY_MINUTES))
def test_add_lands_in_working_time_or_at_a_period_end(start: datetime, minutes: int) -> None:
    end = CAL.add(start, minutes)
    # A period end is not working time itself, but the microsecond before it is.
    assert CAL.is_working_time(end) or CAL.is_working_time(end - TICK)
    assert end > CAL.next_working_instant(start)


@fast
@given(instants)
def test_add_zero_is_the_next_working_instant(start: datetime) -> None:
    begin = CAL.add(start, 0)
    assert begin == CAL.next_working_instant(start)
    assert begin >= start
    assert CAL.is_working_time(begin)
    assert CAL.elapsed(start, begin) == 0
    assert (begin == start) == CAL.is_working_time(start)


@fast
@given(instants, instants, instants)
def test_elapsed_is_additive(x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z))
    assert CAL.elapsed(a, c) == CAL.elapsed(a, b) + CAL.elapsed(b, c)
    assert CAL.elapsed(c, a) == 0


@settings(max_examples=60, deadline=None)
@given(instants, st.integers(min_value=0, max_value=3 * 24 * 60))
def test_elapsed_matches_counting_minute_by_minute(start: datetime, span: int) -> None:
    # Oracle on whole minutes: count the minute instants in [start, end) that are working time.
    start = start.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=span)
    counted = sum(CAL.is_working_time(start + timedelta(minutes=m)) for m in range(span))
    assert CAL.elapsed(start, end) == counted


@fast
@given(instants, st.integers(min_value=0, max_value=40))
def test_add_days_agrees_with_add_of_whole_days(start: datetime, days: int) -> None:
    # Every working day has 450 minutes by default (holidays and make-up days included).
    assert CAL.add_days(start, days) == CAL.add(start, days * DEFAULT_WORKING_DAY_MINUTES)


@fast
@given(instants, st.integers(min_value=0, max_value=60 * 24 * 60))
def test_around_the_clock_round_trip(start: datetime, minutes: int) -> None:
    end = CLOCK.add(start, minutes)
    assert end.tzinfo is UTC
    assert end - start == timedelta(minutes=minutes)
    assert CLOCK.elapsed(start, end) == minutes


# -- hand-checked: ordinary weeks ------------------------------------------------------------


def test_lunch_crossing() -> None:
    # Tuesday 10 March 2026: 10:00–11:30 is 1 h 30, the remaining 30 min run from 13:30.
    start = vn(2026, 3, 10, 10, 0)
    assert start.weekday() == 1
    assert local(CAL.add_hours(start, 2)) == vn(2026, 3, 10, 14, 0)
    assert CAL.elapsed(start, vn(2026, 3, 10, 14, 0)) == 120


def test_allowance_ending_at_lunch_ends_at_11_30() -> None:
    # 10:00 + 90 min uses up the morning exactly: the deadline is 11:30, not 13:30.
    assert local(CAL.add(vn(2026, 3, 10, 10, 0), 90)) == vn(2026, 3, 10, 11, 30)
    assert not CAL.is_working_time(vn(2026, 3, 10, 11, 30))
    assert CAL.is_working_time(vn(2026, 3, 10, 11, 29, 59))


def test_night_crossing() -> None:
    # Tuesday 16:30–17:00 is 30 min; the other 30 run from Wednesday 07:30.
    assert local(CAL.add(vn(2026, 3, 10, 16, 30), 60)) == vn(2026, 3, 11, 8, 0)


def test_weekend_crossing() -> None:
    # Friday 13 March 2026 16:00–17:00 is 1 h; Saturday and Sunday are off; Monday 07:30 + 1 h.
    start = vn(2026, 3, 13, 16, 0)
    assert start.weekday() == 4
    assert local(CAL.add_hours(start, 2)) == vn(2026, 3, 16, 8, 30)
    assert CAL.elapsed(vn(2026, 3, 13, 17, 0), vn(2026, 3, 16, 7, 30)) == 0


def test_start_outside_working_time_counts_from_the_next_period() -> None:
    # Saturday 14 March 2026 22:00 → Monday 16 March 07:30 + 1 h.
    assert local(CAL.add(vn(2026, 3, 14, 22, 0), 60)) == vn(2026, 3, 16, 8, 30)
    # Adding 0: at lunch → 13:30; in working time → unchanged.
    assert local(CAL.add(vn(2026, 3, 10, 12, 0), 0)) == vn(2026, 3, 10, 13, 30)
    assert local(CAL.add(vn(2026, 3, 10, 10, 0), 0)) == vn(2026, 3, 10, 10, 0)


def test_seconds_are_kept_and_elapsed_reads_an_odometer() -> None:
    # 11:29:30 has 30 s of morning left; the other 30 s run from 13:30.
    assert local(CAL.add(vn(2026, 3, 10, 11, 29, 30), 1)) == vn(2026, 3, 10, 13, 30, 30)
    # One second across a minute boundary completes a minute; 59 s inside one do not.
    assert CAL.elapsed(vn(2026, 3, 10, 10, 0, 59), vn(2026, 3, 10, 10, 1, 0)) == 1
    assert CAL.elapsed(vn(2026, 3, 10, 10, 0, 0), vn(2026, 3, 10, 10, 0, 59)) == 0


def test_any_time_zone_in_utc_out() -> None:
    # 03:00 UTC is 10:00 in Hue; + 2 working hours is 14:00 in Hue = 07:00 UTC.
    result = CAL.add(datetime(2026, 3, 10, 3, 0, tzinfo=UTC), 120)
    assert result == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_add_days_keeps_the_working_offset() -> None:
    # Tuesday 10 March 10:00 + 5 working days = Tuesday 17 March 10:00 (a weekend between).
    assert local(CAL.add_days(vn(2026, 3, 10, 10, 0), 5)) == vn(2026, 3, 17, 10, 0)
    # At offset 0 the earliest instant with a full day spent is the same day's 17:00.
    assert local(CAL.add_days(vn(2026, 3, 10, 7, 30), 1)) == vn(2026, 3, 10, 17, 0)
    # From the lunch break the offset is 240 min: the next day's 11:30.
    assert local(CAL.add_days(vn(2026, 3, 10, 12, 15), 1)) == vn(2026, 3, 11, 11, 30)


# -- hand-checked: holidays ------------------------------------------------------------------


def test_tet_2026_is_covered_by_the_package() -> None:
    # The official break for public servants is Saturday 14 – Sunday 22 February 2026: the
    # package gives Monday 16 – Friday 20 (29 Tết … mùng 4), the weekends do the rest.
    for day in range(14, 23):
        assert CAL.working_minutes_on(date(2026, 2, day)) == 0
    assert CAL.working_minutes_on(date(2026, 2, 13)) == 450
    assert CAL.working_minutes_on(date(2026, 2, 23)) == 450


def test_tet_2026_crossing() -> None:
    # Friday 13 Feb 2026 15:00–17:00 is 2 h; 14–22 Feb are off; Monday 23 Feb 07:30 + 2 h.
    start = vn(2026, 2, 13, 15, 0)
    assert local(CAL.add_hours(start, 4)) == vn(2026, 2, 23, 9, 30)
    assert CAL.elapsed(start, vn(2026, 2, 23, 9, 30)) == 240
    assert not CAL.is_working_time(vn(2026, 2, 17, 9, 0))
    assert local(CAL.next_working_instant(vn(2026, 2, 17, 9, 0))) == vn(2026, 2, 23, 7, 30)
    # Thursday 12 Feb 10:00 + 5 working days: Fri 13, Mon 23, Tue 24, Wed 25, Thu 26.
    assert local(CAL.add_days(vn(2026, 2, 12, 10, 0), 5)) == vn(2026, 2, 26, 10, 0)


def test_reunification_and_labour_day_2026() -> None:
    # Thursday 30 April and Friday 1 May 2026 are holidays: Wednesday 29 April 16:00–17:00 is
    # 1 h, then Thursday to Sunday are off, Monday 4 May 07:30 + 1 h = 08:30.
    assert local(CAL.add_hours(vn(2026, 4, 29, 16, 0), 2)) == vn(2026, 5, 4, 8, 30)


def test_hung_kings_day_on_sunday_is_observed_on_monday() -> None:
    # Hùng Kings' day 2026 falls on Sunday 26 April; the package moves it to Monday 27 April:
    # Friday 24 April 16:30–17:00 is 30 min, then Tuesday 28 April 07:30 + 30 min.
    assert local(CAL.add(vn(2026, 4, 24, 16, 30), 60)) == vn(2026, 4, 28, 8, 0)


def test_configured_make_up_saturday_and_extra_day_off() -> None:
    # Config (not the real 2026 arrangement): Saturday 25 April worked, Wednesday 29 April off.
    cal = WorkingCalendar(
        CalendarConfig(
            extra_working_days=frozenset({date(2026, 4, 25)}),
            extra_days_off=frozenset({date(2026, 4, 29)}),
        )
    )
    assert not CAL.is_working_time(vn(2026, 4, 25, 10, 0))
    assert cal.is_working_time(vn(2026, 4, 25, 10, 0))
    # Friday 24 April 16:00–17:00 is 1 h; Saturday 25 from 07:30 + 2 h = 09:30.
    assert local(cal.add_hours(vn(2026, 4, 24, 16, 0), 3)) == vn(2026, 4, 25, 9, 30)
    # Saturday 16:30–17:00 is 30 min; Sunday 26 and Monday 27 (Hùng Kings, observed) are off;
    # Tuesday 28 07:30 + 30 min = 08:00.
    assert local(cal.add(vn(2026, 4, 25, 16, 30), 60)) == vn(2026, 4, 28, 8, 0)
    # Tuesday 28 16:00–17:00 is 1 h; Wednesday 29 (configured), Thursday 30, Friday 1 May
    # (holidays) and the weekend are off; Monday 4 May 07:30 + 1 h = 08:30.
    assert local(cal.add_hours(vn(2026, 4, 28, 16, 0), 2)) == vn(2026, 5, 4, 8, 30)


def test_official_make_up_saturday_from_the_package() -> None:
    # The package lists Monday 31 Aug 2026 off, swapped with Saturday 22 Aug (worked).
    # Friday 21 Aug 16:00–17:00 is 1 h; Saturday 22 Aug 07:30 + 1 h = 08:30.
    assert local(CAL.add_hours(vn(2026, 8, 21, 16, 0), 2)) == vn(2026, 8, 22, 8, 30)
    # Friday 28 Aug 16:00–17:00 is 1 h; Sat 29, Sun 30, Mon 31 (swapped), Tue 1 and
    # Wed 2 Sep (National Day) are off; Thursday 3 Sep 07:30 + 30 min = 08:00.
    assert local(CAL.add(vn(2026, 8, 28, 16, 0), 90)) == vn(2026, 9, 3, 8, 0)
    without = WorkingCalendar(CalendarConfig(official_make_up_days=False))
    assert not without.is_working_time(vn(2026, 8, 22, 9, 0))


# -- around the clock ------------------------------------------------------------------------


def test_around_the_clock() -> None:
    # Saturday 14 March 2026 23:30 + 1 h = Sunday 00:30: nights and weekends count.
    start = vn(2026, 3, 14, 23, 30)
    assert start.weekday() == 5
    assert local(CLOCK.add_hours(start, 1)) == vn(2026, 3, 15, 0, 30)
    assert CLOCK.elapsed(start, vn(2026, 3, 15, 0, 30)) == 60
    assert CLOCK.is_working_time(vn(2026, 2, 17, 3, 0))  # Tet night
    assert local(CLOCK.add_days(start, 7)) == vn(2026, 3, 21, 23, 30)


def test_calendar_for_picks_by_policy() -> None:
    assert isinstance(calendar_for(around_the_clock=True), AroundTheClock)
    working = calendar_for(around_the_clock=False)
    assert isinstance(working, WorkingCalendar)
    assert calendar_for(around_the_clock=False) is working


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("calendar", [CAL, CLOCK], ids=["working", "around-the-clock"])
def test_naive_datetimes_are_refused(calendar: WorkingCalendar | AroundTheClock) -> None:
    naive = datetime(2026, 3, 10, 10, 0)
    aware = vn(2026, 3, 10, 10, 0)
    with pytest.raises(ValueError, match="aware"):
        calendar.add(naive, 60)
    with pytest.raises(ValueError, match="aware"):
        calendar.add_days(naive, 1)
    with pytest.raises(ValueError, match="aware"):
        calendar.elapsed(naive, aware)
    with pytest.raises(ValueError, match="aware"):
        calendar.elapsed(aware, naive)
    with pytest.raises(ValueError, match="aware"):
        calendar.next_working_instant(naive)
    with pytest.raises(ValueError, match="aware"):
        calendar.is_working_time(naive)


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add(vn(2026, 3, 10, 10, 0), -1)
    with pytest.raises(ValueError, match=">= 0"):
        CLOCK.add_days(vn(2026, 3, 10, 10, 0), -1)


def test_invalid_configs_are_refused() -> None:
    overlapping = (Period(time(8, 0), time(12, 0)), Period(time(11, 0), time(13, 0)))
    with pytest.raises(ValueError, match="overlap"):
        CalendarConfig(periods=(overlapping,) * 7)
    with pytest.raises(ValueError, match="both off and working"):
        CalendarConfig(
            extra_days_off=frozenset({date(2026, 4, 25)}),
            extra_working_days=frozenset({date(2026, 4, 25)}),
        )
    with pytest.raises(ValueError, match="seven"):
        CalendarConfig(periods=((),) * 5)
    with pytest.raises(ValueError, match="whole minutes"):
        CalendarConfig(make_up_day_periods=(Period(time(8, 0, 30), time(9, 0)),))


def test_custom_periods() -> None:
    # Saturday mornings 08:00–12:00 as well: Friday 16:00 + 2 h → Saturday 09:00.
    week = (*CalendarConfig().periods[:5], (Period(time(8, 0), time(12, 0)),), ())
    cal = WorkingCalendar(CalendarConfig(periods=week))
    assert local(cal.add_hours(vn(2026, 3, 13, 16, 0), 2)) == vn(2026, 3, 14, 9, 0)
    # A period ending at midnight (end == 00:00): 23:00 + 1 h lands at 24:00.
    night = (Period(time(22, 0), time(0, 0)),)
    cal = WorkingCalendar(CalendarConfig(periods=(night,) * 7, holiday_country=None))
    assert local(cal.add(vn(2026, 3, 10, 23, 0), 60)) == vn(2026, 3, 11, 0, 0)
    assert local(cal.add(vn(2026, 3, 10, 23, 0), 90)) == vn(2026, 3, 11, 22, 30)


def test_a_year_of_working_time_is_cheap() -> None:
    # 250 working days in one call; day by day, not minute by minute.
    start = vn(2025, 1, 2, 9, 0)
    end = CAL.add(start, 250 * DEFAULT_WORKING_DAY_MINUTES)
    assert CAL.elapsed(start, end) == 250 * DEFAULT_WORKING_DAY_MINUTES
    assert date(2025, 12, 1) < local(end).date() < date(2026, 2, 1)
