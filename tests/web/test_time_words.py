"""Time as staff read and type it: working days with the date, clock time for emergencies,
dates typed dd/mm/yyyy and times on 24 hours whatever the browser's locale."""

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reflections.errors import InvalidInput
from reflections.models.enums import Language
from web.durations import clock_time, time_left, working_time
from web.i18n import Translator
from web.local_dates import local_instant, parse_clock, parse_day, parse_month

VI, EN = Translator(Language.VI), Translator(Language.EN)
DAY = 450  # working minutes in a day: 07:30-11:30 and 13:30-17:00


@pytest.mark.parametrize(
    ("minutes", "vi", "en"),
    [
        (5 * DAY, "5 ngày làm việc", "5 working days"),
        (DAY, "1 ngày làm việc", "1 working day"),
        (3499, "gần 8 ngày làm việc", "nearly 8 working days"),  # the walkthrough's 58 h 19
        (4 * DAY + 60, "hơn 4 ngày làm việc", "over 4 working days"),
        (4 * DAY + DAY // 2, "4 ngày rưỡi làm việc", "4½ working days"),
        (200, "3 giờ 20 phút làm việc", "3 h 20 min of working time"),
        (240, "4 giờ làm việc", "4 working hours"),
        (45, "45 phút làm việc", "45 working minutes"),
    ],
)
def test_working_time_in_words(minutes: int, vi: str, en: str) -> None:
    assert (working_time(minutes, VI), working_time(minutes, EN)) == (vi, en)


def test_emergencies_count_the_clock() -> None:
    assert clock_time(10 * 1440 + 180, VI) == "10 ngày 3 giờ"
    assert clock_time(135, VI) == "2 giờ 15 phút"


def test_left_and_overdue_with_the_date() -> None:
    assert time_left(5 * DAY, False, "14/12/2026 09:51", VI) == (
        "còn 5 ngày làm việc (hạn 14/12/2026 09:51)"
    )
    assert time_left(-3499, False, "01/12/2026 08:00", VI) == (
        "quá hạn gần 8 ngày làm việc (hạn 01/12/2026 08:00)"
    )
    assert time_left(-600, True, "", EN) == "10 h overdue"
    assert time_left(None, False, "", VI) == ""


@given(st.integers(min_value=DAY, max_value=400 * DAY))
def test_days_said_are_within_a_quarter_day(minutes: int) -> None:
    said = working_time(minutes, EN)
    number = float(said.split()[-3].replace("½", ".5") if "½" in said else said.split()[-3])
    assert abs(number - minutes / DAY) <= 0.25 + 1e-9


def test_dates_typed_the_vietnamese_way() -> None:
    assert parse_day("14/12/2026", "d") == date(2026, 12, 14)
    assert parse_day(" 4.1.2027 ", "d") == date(2027, 1, 4)
    assert parse_clock("17h30", "t") == time(17, 30) and parse_clock("", "t") is None
    assert parse_month("03/2026", "m") == "2026-03" == parse_month("2026-03", "m")
    for wrong in ("12/30/2026", "2026-12-14", "31/02/2026", "14/12"):
        with pytest.raises(InvalidInput) as refused:
            parse_day(wrong, "new_due_date")
        assert (refused.value.field, refused.value.code) == ("new_due_date", "invalid_day")
    for wrong in ("5:00 PM", "24:00", "17"):
        with pytest.raises(InvalidInput):
            parse_clock(wrong, "t")
    with pytest.raises(InvalidInput):
        parse_month("13/2026", "m")


def test_a_typed_day_is_vietnam_time() -> None:
    assert local_instant(date(2026, 12, 14), time(9, 30), "d") == datetime(
        2026, 12, 14, 2, 30, tzinfo=UTC
    )
    assert local_instant(date(2026, 12, 14), None, "d").hour == 10  # 17:00 local
