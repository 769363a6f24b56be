"""What a report is: the query people type (months, groups, filters) and the figures it
answers, with their rounding. :mod:`reflections.oversight.reports` defines each figure and
computes them in SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from reflections.errors import InvalidInput
from reflections.timekeeping.deadlines import Step

MAX_MONTHS = 120
"""The longest period one report covers (ten years)."""

SATISFIED_FROM = 4  # ratings 4 and 5 count as satisfied
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIRST_YEAR, _LAST_YEAR = 1970, 9998


class GroupBy(StrEnum):
    HANDLING_UNIT = "handling_unit"
    LEVEL = "level"
    CATEGORY = "category"
    MONTH = "month"


ALL_GROUPS: tuple[GroupBy, ...] = tuple(GroupBy)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str, field: str = "month") -> Month:
        """``YYYY-MM`` (1970-01 to 9998-12); :class:`InvalidInput` naming ``field`` if not."""
        match = _MONTH.match(text.strip())
        if not match:
            raise InvalidInput(field, f"{text!r} is not a month written YYYY-MM")
        year, month = int(match[1]), int(match[2])
        if not (_FIRST_YEAR <= year <= _LAST_YEAR and 1 <= month <= 12):
            raise InvalidInput(field, f"{text!r} is not a month from 1970-01 to 9998-12")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def index(self) -> int:
        return self.year * 12 + self.month - 1


@dataclass(frozen=True)
class ReportQuery:
    """What a report covers. Codes filter by handling unit, category and level."""

    month_from: Month
    month_to: Month
    group_by: tuple[GroupBy, ...] = ALL_GROUPS
    handling_unit: str | None = None
    category: str | None = None
    level: str | None = None

    def __post_init__(self) -> None:
        if self.month_to < self.month_from:
            raise InvalidInput("to", f"{self.month_to} is before {self.month_from}", "before_from")
        if self.month_to.index() - self.month_from.index() >= MAX_MONTHS:
            raise InvalidInput(
                "to",
                f"a report covers at most {MAX_MONTHS} months",
                "too_many_months",
                max=MAX_MONTHS,
            )
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidInput("group_by", "names a grouping twice")

    @classmethod
    def parse(
        cls,
        month_from: str,
        month_to: str | None = None,
        group_by: Iterable[str] | None = None,
        *,
        handling_unit: str | None = None,
        category: str | None = None,
        level: str | None = None,
    ) -> ReportQuery:
        """From what people type; :class:`InvalidInput` for anything wrong."""
        first = Month.parse(month_from, "from")
        groups: tuple[GroupBy, ...] = ALL_GROUPS
        if group_by is not None:
            names = list(group_by)
            unknown = [name for name in names if name not in GroupBy.__members__.values()]
            if unknown:
                choices = ", ".join(GroupBy)
                raise InvalidInput("group_by", f"{unknown[0]!r} is not one of {choices}")
            groups = tuple(GroupBy(name) for name in names)
        return cls(
            first,
            Month.parse(month_to, "to") if month_to else first,
            groups,
            handling_unit=handling_unit or None,
            category=category or None,
            level=level or None,
        )


@dataclass(frozen=True)
class Named:
    code: str
    name: str


@dataclass(frozen=True)
class Group:
    """The group's values; only the dimensions in ``Report.group_by`` mean anything."""

    handling_unit: Named | None = None
    level: str | None = None
    category: Named | None = None
    month: str | None = None

    def as_dict(self, group_by: Sequence[GroupBy]) -> dict[str, Any]:
        values: dict[str, Any] = {
            GroupBy.HANDLING_UNIT: _named(self.handling_unit),
            GroupBy.LEVEL: self.level,
            GroupBy.CATEGORY: _named(self.category),
            GroupBy.MONTH: self.month,
        }
        return {str(dimension): values[dimension] for dimension in group_by}


@dataclass(frozen=True)
class StepFigures:
    """``median_seconds`` and ``p90_seconds``: to the tenth of an hour shown
    (:func:`shown_seconds`), whichever way they were computed."""

    finished: int = 0
    on_time: int = 0
    median_seconds: int | None = None
    p90_seconds: int | None = None

    @property
    def on_time_pct(self) -> float | None:
        return _percent(self.on_time, self.finished)

    @property
    def median_hours(self) -> float | None:
        return _hours(self.median_seconds)

    @property
    def p90_hours(self) -> float | None:
        return _hours(self.p90_seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "finished": self.finished,
            "on_time": self.on_time,
            "on_time_pct": self.on_time_pct,
            "median_hours": self.median_hours,
            "p90_hours": self.p90_hours,
        }


@dataclass(frozen=True)
class Figures:
    received: int = 0
    rejected: int = 0
    processed: int = 0
    open_overdue: int = 0
    escalations: int = 0
    extensions_requested: int = 0
    extensions_granted: int = 0
    reopened: int = 0
    rated: int = 0
    satisfied: int = 0
    rating_sum: int = 0
    steps: Mapping[Step, StepFigures] = field(
        default_factory=lambda: {step: StepFigures() for step in Step}
    )

    @property
    def reopen_rate_pct(self) -> float | None:
        return _percent(self.reopened, self.processed)

    @property
    def satisfaction_pct(self) -> float | None:
        return _percent(self.satisfied, self.rated)

    @property
    def mean_rating(self) -> float | None:
        if not self.rated:
            return None
        mean = Decimal(self.rating_sum) / Decimal(self.rated)
        return float(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "rejected": self.rejected,
            "processed": self.processed,
            "open_overdue": self.open_overdue,
            "escalations": self.escalations,
            "extensions_requested": self.extensions_requested,
            "extensions_granted": self.extensions_granted,
            "reopened": self.reopened,
            "reopen_rate_pct": self.reopen_rate_pct,
            "rated": self.rated,
            "satisfaction_pct": self.satisfaction_pct,
            "mean_rating": self.mean_rating,
            "steps": {step.value: self.steps[step].as_dict() for step in Step},
        }


@dataclass(frozen=True)
class ReportRow:
    group: Group
    figures: Figures


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    generated_at: datetime
    time_zone: str
    rows: tuple[ReportRow, ...]
    total: Figures
    # Figures read as summarised although their month changed since (a dashboard's stated
    # lag): the oldest of those months' rebuilds. None when every figure is exact, as the API's.
    summarised_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON document the API answers and ``reflections report --format json`` prints."""
        query = self.query
        return {
            "from": str(query.month_from),
            "to": str(query.month_to),
            "group_by": [str(dimension) for dimension in query.group_by],
            "filters": {
                "handling_unit": query.handling_unit,
                "category": query.category,
                "level": query.level,
            },
            "time_zone": self.time_zone,
            "generated_at": self.generated_at.astimezone(UTC).isoformat(),
            "rows": [
                {"group": row.group.as_dict(query.group_by), **row.figures.as_dict()}
                for row in self.rows
            ],
            "total": self.total.as_dict(),
        }


def _named(value: Named | None) -> dict[str, str] | None:
    return {"code": value.code, "name": value.name} if value else None


def _percent(part: int, whole: int) -> float | None:
    if not whole:
        return None
    share = Decimal(100 * part) / Decimal(whole)
    return float(share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _hours(seconds: int | None) -> float | None:
    if seconds is None:
        return None
    hours = Decimal(seconds) / Decimal(3600)
    return float(hours.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


SHOWN_SECONDS = 360  # hours are shown to the tenth


def shown_seconds(seconds: int | None) -> int | None:
    """``seconds`` rounded as :func:`_hours` shows them (to the tenth of an hour, half away from
    zero), in seconds. The rounding keeps the order of values, so the nearest-rank percentile
    of rounded times is the rounded percentile: summaries can count times per tenth of an
    hour and give the figures shown exactly."""
    if seconds is None:
        return None
    half = SHOWN_SECONDS // 2
    if seconds >= 0:
        return (seconds + half) // SHOWN_SECONDS * SHOWN_SECONDS
    return -((half - seconds) // SHOWN_SECONDS) * SHOWN_SECONDS
