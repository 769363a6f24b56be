"""Dates and times as Vietnamese offices type them, whatever the browser's locale.

Staff forms use text inputs with a pattern (``dd/mm/yyyy``, ``HH:MM`` on 24 hours,
``mm/yyyy``) instead of the browser's date, time and month pickers, which follow the browser's
language (``mm/dd/yyyy``, ``05:00 PM``, "July 2026"); the server reads them in Vietnam time.
"""

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from reflections.errors import InvalidInput
from reflections.platform.settings import get_settings

_DAY = re.compile(r"\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\s*")
_CLOCK = re.compile(r"\s*(\d{1,2})\s*[:hH.]\s*(\d{2})\s*")
_MONTH = re.compile(r"\s*(?:(\d{1,2})\s*/\s*(\d{4})|(\d{4})-(\d{2}))\s*")
END_OF_DAY = time(17, 0)  # no time given: the end of the working day


def parse_day(text: str, field: str) -> date:
    """``14/12/2026`` (also ``14.12.2026``, ``14-12-2026``) as a date."""
    found = _DAY.fullmatch(text)
    try:
        if found is None:
            raise ValueError(text)
        day, month, year = (int(part) for part in found.groups())
        return date(year, month, day)
    except ValueError:
        raise InvalidInput(field, "is not a date dd/mm/yyyy", "invalid_day") from None


def parse_clock(text: str, field: str) -> time | None:
    """``17:00`` (also ``17h00``) on 24 hours; empty is None."""
    if not text.strip():
        return None
    found = _CLOCK.fullmatch(text)
    try:
        if found is None:
            raise ValueError(text)
        return time(int(found.group(1)), int(found.group(2)))
    except ValueError:
        raise InvalidInput(field, "is not a time HH:MM (24 hours)", "invalid_clock") from None


def parse_month(text: str, field: str) -> str:
    """``03/2026`` (or ``2026-03``) as the ``2026-03`` the reports read."""
    found = _MONTH.fullmatch(text)
    if found is None:
        raise InvalidInput(field, "is not a month mm/yyyy", "invalid_month")
    month, year = (found.group(1), found.group(2)) if found.group(1) else found.group(4, 3)
    if not 1 <= int(month) <= 12:
        raise InvalidInput(field, "is not a month mm/yyyy", "invalid_month")
    return f"{int(year):04d}-{int(month):02d}"


def month_text(value: str) -> str:
    """``2026-03`` as people write it: ``03/2026``."""
    year, _, month = value.partition("-")
    return f"{month}/{year}" if month else value


def local_instant(day: date, at: time | None, field: str) -> datetime:
    """A day and time in Vietnam time as an aware UTC instant (no time: 17:00)."""
    zone = ZoneInfo(get_settings().time_zone)
    try:
        return datetime.combine(day, at or END_OF_DAY, tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field, "is out of range", "invalid_day") from None
