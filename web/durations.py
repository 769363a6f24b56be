"""Time left in a step as people count it: working days, with the date.

A normal step counts working time (7 h 30 a day), so "37 h 30 left" is five working days; an
emergency runs around the clock and is counted in days and hours of the clock. Days are
rounded the way people say them ("nearly 8 working days", "4½ working days").
"""

from reflections.timekeeping.calendar import DEFAULT_WORKING_DAY_MINUTES
from web.i18n import Translator

DAY_MINUTES = 24 * 60


def working_time(minutes: int, t: Translator) -> str:
    """Working minutes in words: days from a whole working day on, else hours and minutes."""
    if minutes < DEFAULT_WORKING_DAY_MINUTES:
        return _hours_minutes(minutes, t, "time.working_hours")
    whole, rest = divmod(minutes, DEFAULT_WORKING_DAY_MINUTES)
    share = rest / DEFAULT_WORKING_DAY_MINUTES
    if rest == 0:
        return t("time.working_day_one") if whole == 1 else t("time.working_days", n=whole)
    if share >= 0.75:
        return t("time.working_days_nearly", n=whole + 1)
    if share <= 0.25:
        return t("time.working_days_over", n=whole)
    return t("time.working_days_half", n=whole)


def clock_time(minutes: int, t: Translator) -> str:
    """Minutes of the clock in words: days and hours from a day on, else hours and minutes."""
    if minutes < DAY_MINUTES:
        return _hours_minutes(minutes, t, "time.clock_hours")
    days, rest = divmod(minutes, DAY_MINUTES)
    return t("time.clock_days", days=days, hours=rest // 60)


def _hours_minutes(minutes: int, t: Translator, key: str) -> str:
    hours, mins = divmod(minutes, 60)
    if not hours:
        return t(f"{key}.minutes", minutes=mins)
    if not mins:
        return t(f"{key}.hours", hours=hours)
    return t(key, hours=hours, minutes=mins)


def time_left(minutes: int | None, around_the_clock: bool, due: str, t: Translator) -> str:
    """ "còn 5 ngày làm việc (hạn 14/12/2026 09:51)", or "quá hạn …" when negative."""
    if minutes is None:
        return ""
    span = (clock_time if around_the_clock else working_time)(abs(minutes), t)
    key = "time.overdue" if minutes < 0 else "time.remaining"
    return t(key, time=span, due=due) if due else t(f"{key}_no_date", time=span)
