"""Reports per handling unit, administrative level, category and month (DESIGN.md §7), in SQL.

Every figure is an aggregate computed by the database (SQLAlchemy Core: conditional aggregates
and window functions); Python only shapes the few result rows. The same statements run on
SQLite and PostgreSQL and give the same numbers.

**Which reflections.** A report covers the reflections *received* (``created_at``) in the
months ``month_from``..``month_to`` (both included), months being local months of the
configured time zone (Asia/Ho_Chi_Minh). Every figure of a group is about the reflections of
that cohort, including the steps they went through and the events in their history.

**Groups** (``group_by``, any of them, in the order given; none gives one row):

* ``handling_unit``: for the reflection figures, the unit that holds the reflection now; for the
  step figures, the unit that held the step (:mod:`reflections.lifecycle.step_records`). No
  unit (null): reflections not assigned (yet), or rejected, and the classify steps, which are
  the IOC's.
* ``level``: the ``level`` of that unit's administrative unit (commune, district, province).
* ``category``: the reflection's category (null until classified).
* ``month``: the local month the reflection was received, ``YYYY-MM``.

**Figures** of a group (``total`` has the same for the whole report, computed, not summed):

* ``received``: reflections received; ``rejected``: those now rejected.
* ``processed``: reflections whose result was published at least once (a ``process`` event).
* ``open_overdue``: reflections open now (received, classified, assigned) whose running step's
  due date (classify, accept or process, :func:`reflections.lifecycle.queries.current_due_at`) is
  before ``now``.
* ``escalations``: ``escalate`` events (each level counts); ``extensions_requested`` and
  ``extensions_granted``: ``request_extension`` and ``grant_extension`` events.
* ``reopened``: reflections a citizen reopened at least once; ``reopen_rate_pct`` =
  reopened / processed.
* ``rated``: reflections confirmed with a rating; ``satisfaction_pct`` = ratings of 4 or 5
  among them; ``mean_rating`` = their mean rating (2 decimals).
* Per step (classify, accept, process), from the finished steps (step records):
  ``finished``; ``on_time`` (ended by the due date, extensions included) and
  ``on_time_pct``; ``median_hours`` and ``p90_hours`` of the time spent, in working hours
  (wall-clock hours for around-the-clock steps).

**Percentiles** are *nearest-rank*, one definition on both databases (SQLite has no
``percentile_cont``): the p-th percentile of n values is the smallest value whose rank
(1-based, ascending) r satisfies ``100·r >= p·n``, so the median of an even count is the lower
middle value. Ranks come from ``ROW_NUMBER() OVER (PARTITION BY group, step ORDER BY
working_seconds)`` and n from ``COUNT(*) OVER`` the same partition.

**Rounding**: percentages 0–100 with 1 decimal, hours with 1 decimal, half up, from the exact
integer counts and seconds; null when there is nothing to divide by or nothing measured.

**Months in SQL**: instants are stored in UTC; the local month is the UTC instant shifted by
the zone's fixed offset (+07:00: Vietnam has no daylight saving time, checked for the period
by :func:`fixed_offset`) and formatted ``YYYY-MM``, by :class:`LocalMonth`, which renders
``strftime`` on SQLite and ``to_char`` on PostgreSQL, to the second on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from reflections.errors import Forbidden, InvalidInput
from reflections.lifecycle.queries import current_due_at
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    HistoryEvent,
    Reflection,
    StepRecord,
)
from reflections.models.enums import LifecycleEvent, LifecycleState
from reflections.models.types import UTCDateTime
from reflections.platform.settings import get_settings
from reflections.timekeeping.deadlines import Step

__all__ = [
    "ALL_GROUPS",
    "MAX_MONTHS",
    "Figures",
    "Group",
    "GroupBy",
    "LocalMonth",
    "Month",
    "Named",
    "Report",
    "ReportQuery",
    "ReportRow",
    "StepFigures",
    "build_report",
    "fixed_offset",
    "local_month",
]

MAX_MONTHS = 120
"""The longest period one report covers (ten years)."""

MEDIAN, P90 = 50, 90
SATISFIED_FROM = 4  # ratings 4 and 5 count as satisfied
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIRST_YEAR, _LAST_YEAR = 1970, 9998


class GroupBy(StrEnum):
    HANDLING_UNIT = "handling_unit"
    LEVEL = "level"
    CATEGORY = "category"
    MONTH = "month"


ALL_GROUPS: tuple[GroupBy, ...] = tuple(GroupBy)
_Expression = ColumnElement[Any] | Mapped[Any]


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
            raise InvalidInput("to", f"{self.month_to} is before {self.month_from}")
        if self.month_to.index() - self.month_from.index() >= MAX_MONTHS:
            raise InvalidInput("to", f"a report covers at most {MAX_MONTHS} months")
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


# -- month arithmetic in SQL ----------------------------------------------------------------


class LocalMonth(FunctionElement[str]):
    """``YYYY-MM`` of a UTC timestamp column shifted by a whole number of minutes (rendered
    inline: no bound parameters, so the expression can be grouped and partitioned by)."""

    type = String()
    name = "local_month"
    inherit_cache = True


def local_month(column: _Expression, offset: timedelta) -> LocalMonth:
    if offset % timedelta(minutes=1):
        raise ValueError(f"the offset {offset} is not whole minutes")
    minutes = offset // timedelta(minutes=1)
    return LocalMonth(column, literal_column(str(minutes), Integer()))


@compiles(LocalMonth, "sqlite")
def _local_month_sqlite(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC). Cut to the second first: SQLite's date
    # functions keep milliseconds and would round 23:59:59.9995 up into the next month.
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m', substr({column}, 1, 19), ({minutes}) || ' minutes')"


@compiles(LocalMonth, "postgresql")
def _local_month_postgresql(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"to_char(({column} AT TIME ZONE 'UTC') + make_interval(mins => {minutes}), 'YYYY-MM')"


@compiles(LocalMonth)
def _local_month_other(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"local_month has no SQL for {compiler.dialect.name}")


def fixed_offset(zone_name: str, first: date, end: date) -> timedelta:
    """The zone's UTC offset from ``first`` to ``end``, which must not change (no daylight
    saving time), since months are bucketed in SQL by shifting UTC by one offset."""
    zone = ZoneInfo(zone_name)
    offsets = {
        datetime.combine(first + timedelta(days=n), time(12), tzinfo=zone).utcoffset()
        for n in range((end - first).days + 1)
    }
    offset = offsets.pop()
    if offsets or offset is None:
        raise ValueError(
            f"time zone {zone_name} changes its UTC offset between {first} and {end}; "
            "reports need a fixed offset (Asia/Ho_Chi_Minh has had +07:00 since 1975)"
        )
    return offset


# -- the statements -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Everything the statements share: the cohort, the filters and the caller's units."""

    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    offset: timedelta
    now: datetime
    group_by: tuple[GroupBy, ...]
    unit_id: int | None
    category_id: int | None
    level: str | None
    within_units: frozenset[int] | None


def _keys(scope: _Scope) -> list[tuple[str, _Expression]]:
    """The group columns by name, for a FROM that joins handling_units, administrative_units
    and categories (the unit being the reflection's or the step's, by the caller's join)."""
    columns: list[tuple[str, _Expression]] = []
    for dimension in scope.group_by:
        if dimension is GroupBy.HANDLING_UNIT:
            columns += [
                ("unit_id", col(HandlingUnit.id)),
                ("unit_code", col(HandlingUnit.code)),
                ("unit_name", col(HandlingUnit.name)),
            ]
        elif dimension is GroupBy.LEVEL:
            columns.append(("level", col(AdministrativeUnit.level)))
        elif dimension is GroupBy.CATEGORY:
            columns += [
                ("category_id", col(Category.id)),
                ("category_code", col(Category.code)),
                ("category_name", col(Category.name_vi)),
            ]
        else:
            columns.append(("month", local_month(col(Reflection.created_at), scope.offset)))
    return columns


def _key_names(scope: _Scope) -> list[str]:
    return [name for name, _ in _keys(scope)]


def _joined(statement: Select[Any], unit_column: Mapped[int | None]) -> Select[Any]:
    """``statement`` (whose FROM starts with reflections or step records) joined to the unit,
    its administrative unit and the reflection's category."""
    return (
        statement.outerjoin(HandlingUnit, col(HandlingUnit.id) == unit_column)
        .outerjoin(
            AdministrativeUnit,
            col(AdministrativeUnit.id) == col(HandlingUnit.administrative_unit_id),
        )
        .outerjoin(Category, col(Category.id) == col(Reflection.category_id))
    )


def _cohort(scope: _Scope, unit_column: Mapped[int | None]) -> ColumnElement[bool]:
    conditions = [
        col(Reflection.created_at) >= scope.start,
        col(Reflection.created_at) < scope.end,
    ]
    if scope.unit_id is not None:
        conditions.append(unit_column == scope.unit_id)
    if scope.category_id is not None:
        conditions.append(col(Reflection.category_id) == scope.category_id)
    if scope.level is not None:
        conditions.append(col(AdministrativeUnit.level) == scope.level)
    if scope.within_units is not None:
        conditions.append(
            unit_column.in_(sorted(scope.within_units)) if scope.within_units else false()
        )
    return and_(*conditions)


_ONE, _ZERO = literal_column("1", Integer()), literal_column("0", Integer())


def _flag(condition: ColumnElement[bool] | Mapped[bool]) -> ColumnElement[int]:
    """1 where ``condition`` holds, else 0 (inline constants: the same SQL on both databases)."""
    return case((condition, _ONE), else_=_ZERO)


def _events_per_reflection(scope: _Scope) -> Any:
    """Per reflection of the cohort: how many escalate, request/grant extension and process
    events its history holds."""
    E = LifecycleEvent  # noqa: N806
    event = col(HistoryEvent.event)
    cohort_ids = select(col(Reflection.id)).where(
        col(Reflection.created_at) >= scope.start, col(Reflection.created_at) < scope.end
    )
    return (
        select(
            col(HistoryEvent.reflection_id).label("reflection_id"),
            func.sum(_flag(event == E.ESCALATE)).label("escalations"),
            func.sum(_flag(event == E.REQUEST_EXTENSION)).label("extensions_requested"),
            func.sum(_flag(event == E.GRANT_EXTENSION)).label("extensions_granted"),
            func.sum(_flag(event == E.PROCESS)).label("processings"),
        )
        .where(
            event.in_([E.ESCALATE, E.REQUEST_EXTENSION, E.GRANT_EXTENSION, E.PROCESS]),
            col(HistoryEvent.reflection_id).in_(cohort_ids),
        )
        .group_by(col(HistoryEvent.reflection_id))
        .subquery("events")
    )


def _reflection_statement(scope: _Scope) -> Select[Any]:
    """One row per group: the reflection figures (one fact row per reflection, aggregated)."""
    events = _events_per_reflection(scope)
    unit = col(Reflection.handling_unit_id)
    rating = col(Reflection.rating)
    now = literal(scope.now, UTCDateTime())
    facts = (
        _joined(
            select(
                *(expression.label(name) for name, expression in _keys(scope)),
                _flag(col(Reflection.state) == LifecycleState.REJECTED).label("rejected"),
                _flag(func.coalesce(events.c.processings, 0) > 0).label("processed"),
                _flag(current_due_at() < now).label("open_overdue"),
                func.coalesce(events.c.escalations, 0).label("escalations"),
                func.coalesce(events.c.extensions_requested, 0).label("extensions_requested"),
                func.coalesce(events.c.extensions_granted, 0).label("extensions_granted"),
                _flag(col(Reflection.reopen_count) > 0).label("reopened"),
                _flag(rating.is_not(None)).label("rated"),
                _flag(rating >= SATISFIED_FROM).label("satisfied"),
                rating.label("rating"),
            ).select_from(Reflection),
            unit,
        )
        .outerjoin(events, events.c.reflection_id == col(Reflection.id))
        .where(_cohort(scope, unit))
        .subquery("facts")
    )
    keys = [facts.c[name] for name in _key_names(scope)]
    return select(
        *keys,
        func.count().label("received"),
        *(func.sum(facts.c[name]).label(name) for name in _SUMMED),
        func.sum(facts.c.rating).label("rating_sum"),
    ).group_by(*keys)


def _step_statement(scope: _Scope) -> Select[Any]:
    """One row per group and step: finished steps, on time, nearest-rank median and p90."""
    unit = col(StepRecord.handling_unit_id)
    seconds = col(StepRecord.working_seconds)
    keys = _keys(scope)
    partition = [expression for _, expression in keys] + [col(StepRecord.step)]
    ranked = (
        _joined(
            select(
                *(expression.label(name) for name, expression in keys),
                col(StepRecord.step).label("step"),
                seconds.label("seconds"),
                _flag(col(StepRecord.on_time)).label("on_time"),
                func.row_number().over(partition_by=partition, order_by=seconds).label("rank"),
                func.count().over(partition_by=partition).label("n"),
            )
            .select_from(StepRecord)
            .join(Reflection, col(Reflection.id) == col(StepRecord.reflection_id)),
            unit,
        )
        .where(_cohort(scope, unit))
        .subquery("ranked")
    )
    group = [ranked.c[name] for name in _key_names(scope)]

    def nearest_rank(percent: int) -> ColumnElement[int]:
        hundred, share = literal_column("100", Integer()), literal_column(str(percent), Integer())
        reached = ranked.c["rank"] * hundred >= ranked.c.n * share
        return func.min(case((reached, ranked.c.seconds), else_=None))

    return select(
        *group,
        ranked.c.step,
        func.count().label("finished"),
        func.sum(ranked.c.on_time).label("on_time"),
        nearest_rank(MEDIAN).label("median_seconds"),
        nearest_rank(P90).label("p90_seconds"),
    ).group_by(*group, ranked.c.step)


# -- the report -----------------------------------------------------------------------------


def build_report(
    session: Session,
    query: ReportQuery,
    now: datetime,
    *,
    within_units: frozenset[int] | None = None,
) -> Report:
    """The report for ``query`` as of ``now`` (for "open overdue"), limited to the handling
    units ``within_units`` when given (a caller's scope: then nothing no unit holds shows)."""
    zone_name = get_settings().time_zone
    try:
        offset = fixed_offset(
            zone_name, query.month_from.first_day(), query.month_to.next().first_day()
        )
    except ValueError as error:  # a zone with daylight saving, or a period across a change
        raise InvalidInput("from", str(error)) from None
    unit_id = _unit_id(session, query.handling_unit, within_units)
    category_id = _category_id(session, query.category)
    if (
        query.level is not None
        and _first_id(
            session, col(AdministrativeUnit.id), col(AdministrativeUnit.level) == query.level
        )
        is None
    ):
        raise InvalidInput("level", f"no administrative unit has the level {query.level!r}")
    scope = _Scope(
        start=_utc_midnight(query.month_from.first_day(), offset),
        end=_utc_midnight(query.month_to.next().first_day(), offset),
        offset=offset,
        now=now,
        group_by=query.group_by,
        unit_id=unit_id,
        category_id=category_id,
        level=query.level,
        within_units=within_units,
    )
    rows = _figures_by_group(session, scope)
    total = _figures_by_group(session, _without_groups(scope)).get((), (Group(), Figures()))[1]
    ordered = sorted(rows.values(), key=lambda pair: _sort_key(pair[0], query.group_by))
    return Report(
        query=query,
        generated_at=now,
        time_zone=zone_name,
        rows=tuple(ReportRow(group, figures) for group, figures in ordered),
        total=total,
    )


def _without_groups(scope: _Scope) -> _Scope:
    return replace(scope, group_by=())


def _utc_midnight(day: date, offset: timedelta) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) - offset


def _first_id(session: Session, id_column: Mapped[int | None], where: Any) -> int | None:
    found = session.scalar(select(id_column).where(where).limit(1))
    return None if found is None else int(found)


def _unit_id(session: Session, code: str | None, within_units: frozenset[int] | None) -> int | None:
    if code is None:
        return None
    unit_id = _first_id(session, col(HandlingUnit.id), col(HandlingUnit.code) == code)
    if unit_id is None:
        raise InvalidInput("handling_unit", f"no handling unit {code!r}")
    if within_units is not None and unit_id not in within_units:
        raise Forbidden(f"handling unit {code} is outside your scope")
    return unit_id


def _category_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    category_id = _first_id(session, col(Category.id), col(Category.code) == code)
    if category_id is None:
        raise InvalidInput("category", f"no category {code!r}")
    return category_id


_GroupKey = tuple[Any, ...]


def _figures_by_group(session: Session, scope: _Scope) -> dict[_GroupKey, tuple[Group, Figures]]:
    """Both statements' rows, merged by group (a group may have steps and no reflections: a
    unit that returned a case it no longer holds)."""
    names = _key_names(scope)
    counts: dict[_GroupKey, dict[str, Any]] = {}
    groups: dict[_GroupKey, Group] = {}
    steps: dict[_GroupKey, dict[Step, StepFigures]] = {}
    for row in session.execute(_reflection_statement(scope)).mappings():
        key = tuple(row[name] for name in names)
        groups[key] = _group(row)
        counts[key] = {name: int(row[name] or 0) for name in _COUNTS}
    for row in session.execute(_step_statement(scope)).mappings():
        key = tuple(row[name] for name in names)
        groups.setdefault(key, _group(row))
        steps.setdefault(key, {})[Step(row["step"])] = StepFigures(
            finished=int(row["finished"]),
            on_time=int(row["on_time"] or 0),
            median_seconds=_int_or_none(row["median_seconds"]),
            p90_seconds=_int_or_none(row["p90_seconds"]),
        )
    if not scope.group_by:  # the total: one row even when nothing matched
        groups.setdefault((), Group())
    return {
        key: (
            group,
            Figures(
                **counts.get(key, {}),
                steps={step: steps.get(key, {}).get(step, StepFigures()) for step in Step},
            ),
        )
        for key, group in groups.items()
    }


# Per-reflection 0/1 facts summed per group; with the row count and the ratings' sum, every count
# a report row holds.
_SUMMED = (
    "rejected",
    "processed",
    "open_overdue",
    "escalations",
    "extensions_requested",
    "extensions_granted",
    "reopened",
    "rated",
    "satisfied",
)
_COUNTS = ("received", *_SUMMED, "rating_sum")


def _group(row: RowMapping) -> Group:
    unit = Named(row["unit_code"], row["unit_name"]) if row.get("unit_code") else None
    category = (
        Named(row["category_code"], row["category_name"]) if row.get("category_code") else None
    )
    return Group(
        handling_unit=unit, level=row.get("level"), category=category, month=row.get("month")
    )


def _sort_key(group: Group, group_by: Sequence[GroupBy]) -> tuple[Any, ...]:
    """Groups in the order of ``group_by``, each ascending by code, the null group last."""
    values = {
        GroupBy.HANDLING_UNIT: group.handling_unit.code if group.handling_unit else None,
        GroupBy.LEVEL: group.level,
        GroupBy.CATEGORY: group.category.code if group.category else None,
        GroupBy.MONTH: group.month,
    }
    return tuple((values[d] is None, values[d] or "") for d in group_by)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


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
