"""The period a command covers, typed the same way for ``report`` and ``export``: an inclusive
range of days or months (``2026-03-01``, ``01/03/2026``, ``2026-03``, ``03/2026``), said back
in words ("from 1 March 2026 to 31 March 2026, inclusive")."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import typer

from reflections.oversight.report_types import Month

_DAY_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_VN = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONTH_ISO = re.compile(r"^(\d{4})-(\d{1,2})$")
_MONTH_VN = re.compile(r"^(\d{1,2})/(\d{4})$")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

FROM_HELP = "First day or month, included: 2026-03-01, 01/03/2026, 2026-03 or 03/2026."
TO_HELP = "Last day or month, included (default: the --from day or month)."


@dataclass(frozen=True)
class Period:
    """``first`` to ``last``, both days included; ``months`` when typed as whole months."""

    first: date
    last: date
    months: bool

    @property
    def end(self) -> date:
        """The day after the last: where a half-open range stops."""
        return self.last + timedelta(days=1)

    def month_range(self) -> tuple[Month, Month]:
        """The months a report covers; only for a period of whole months."""
        if not self.months:
            raise typer.BadParameter(
                "a report covers whole months: give months, e.g. --from 2026-03 --to 2026-05"
            )
        return Month(self.first.year, self.first.month), Month(self.last.year, self.last.month)

    def words(self) -> str:
        if self.months:
            first = f"{MONTHS[self.first.month - 1]} {self.first.year}"
            last = f"{MONTHS[self.last.month - 1]} {self.last.year}"
            return f"from {first} to the end of {last}" if first != last else f"in {first}"
        return f"from {day_words(self.first)} to {day_words(self.last)}, inclusive"


def day_words(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _read(text: str, option: str) -> tuple[date, date, bool]:
    """(first day, last day, whole months?) of one typed day or month."""
    value = text.strip()
    try:
        if found := _DAY_ISO.match(value):
            day = date(int(found[1]), int(found[2]), int(found[3]))
            return day, day, False
        if found := _DAY_VN.match(value):
            day = date(int(found[3]), int(found[2]), int(found[1]))
            return day, day, False
        found = _MONTH_ISO.match(value) or _MONTH_VN.match(value)
        if found:
            year, month = (
                (int(found[1]), int(found[2])) if "-" in value else (int(found[2]), int(found[1]))
            )
            first = date(year, month, 1)
            last = Month(year, month).next().first_day() - timedelta(days=1)
            return first, last, True
    except ValueError:
        pass
    raise typer.BadParameter(
        f"{text!r} is not a day (2026-03-01) or month (2026-03)", param_hint=option
    )


def period(start: str, end: str | None) -> Period:
    first, _, months = _read(start, "--from")
    _, last, end_months = _read(end, "--to") if end else _read(start, "--from")
    if last < first:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    return Period(first, last, months and end_months)
