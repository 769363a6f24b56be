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
working_seconds)`` and n from ``COUNT(*) OVER`` the same partition. The result keeps the
precision shown (:func:`~reflections.oversight.report_types.shown_seconds`, the tenth of an
hour), which the summary tables count in.

**Rounding**: percentages 0–100 with 1 decimal, hours with 1 decimal, half up, from the exact
integer counts and seconds; null when there is nothing to divide by or nothing measured.

**Months in SQL**: instants are stored in UTC; the local month is the UTC instant shifted by
the zone's fixed offset (+07:00: Vietnam has no daylight saving time, checked for the period
by :func:`~reflections.oversight.local_months.fixed_offset`) and formatted ``YYYY-MM``, by
:class:`~reflections.oversight.local_months.LocalMonth`, which renders
``strftime`` on SQLite and ``to_char`` on PostgreSQL, to the second on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Mapped
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
from reflections.oversight.local_months import fixed_offset, local_month
from reflections.oversight.report_types import (
    SATISFIED_FROM,
    Figures,
    Group,
    GroupBy,
    Named,
    Report,
    ReportQuery,
    ReportRow,
    StepFigures,
    shown_seconds,
)
from reflections.platform.settings import get_settings
from reflections.timekeeping.deadlines import Step

MEDIAN, P90 = 50, 90
_Expression = ColumnElement[Any] | Mapped[Any]


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


def _keys(scope: _Scope, month: _Expression | None = None) -> list[tuple[str, _Expression]]:
    """The group columns by name, for a FROM that joins handling_units, administrative_units
    and categories (the unit being the reflection's or the step's, by the caller's join);
    ``month``: the local month's column when it is not computed from ``created_at``."""
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
        elif month is not None:
            columns.append(("month", month))
        else:
            columns.append(("month", local_month(col(Reflection.created_at), scope.offset)))
    return columns


def _key_names(scope: _Scope) -> list[str]:
    return [name for name, _ in _keys(scope)]


def _joined(
    statement: Select[Any],
    unit_column: _Expression,
    category_column: _Expression | None = None,
) -> Select[Any]:
    """``statement`` (whose FROM starts with reflections, step records or a summary) joined to
    the unit, its administrative unit and the category (the reflection's by default)."""
    category = col(Reflection.category_id) if category_column is None else category_column
    return (
        statement.outerjoin(HandlingUnit, col(HandlingUnit.id) == unit_column)
        .outerjoin(
            AdministrativeUnit,
            col(AdministrativeUnit.id) == col(HandlingUnit.administrative_unit_id),
        )
        .outerjoin(Category, col(Category.id) == category)
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
    use_summaries: bool = True,
    as_summarised: bool = False,
) -> Report:
    """The report for ``query`` as of ``now`` (for "open overdue"), limited to the handling
    units ``within_units`` when given (a caller's scope: then nothing no unit holds shows).

    Read from the summary tables (:mod:`reflections.oversight.report_summary`), the months
    changed since they were summarised counted from the reflections meanwhile; by the
    statements above when no month of the period is summarised, or none unchanged. The
    figures are the same either way. ``use_summaries=False`` always runs the statements.

    ``as_summarised=True`` (the dashboard) trades exactness for speed with a stated lag: a
    changed month is read as it was last summarised too (only months never summarised are
    counted), and ``Report.summarised_at`` says when, the oldest such rebuild (None when no
    figure lags)."""
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
    figures = _figures_by_group
    summarised_at: datetime | None = None
    if use_summaries or as_summarised:
        from reflections.oversight import report_summary  # it builds on this module

        state = report_summary.months_state(session, scope)
        if state is not None:
            live = state.unsummarised if as_summarised else state.changed
            if len(live) < len(state.months):
                figures = partial(report_summary.figures_by_group, live=live)
                summarised_at = state.lagged_since() if as_summarised else None
    rows = figures(session, scope)
    total = figures(session, _without_groups(scope)).get((), (Group(), Figures()))[1]
    ordered = sorted(rows.values(), key=lambda pair: _sort_key(pair[0], query.group_by))
    return Report(
        query=query,
        generated_at=now,
        time_zone=zone_name,
        rows=tuple(ReportRow(group, figures) for group, figures in ordered),
        total=total,
        summarised_at=summarised_at,
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
    return _merged(session, scope, _reflection_statement(scope), _step_statement(scope))


def _merged(
    session: Session, scope: _Scope, reflection_rows: Select[Any], step_rows: Select[Any]
) -> dict[_GroupKey, tuple[Group, Figures]]:
    names = _key_names(scope)
    counts: dict[_GroupKey, dict[str, Any]] = {}
    groups: dict[_GroupKey, Group] = {}
    steps: dict[_GroupKey, dict[Step, StepFigures]] = {}
    # Rows read by position and a group made once per key: a year by every grouping is tens of
    # thousands of rows, and name lookups per value were most of the report's time.
    result = session.connection().execute(reflection_rows)  # Core rows: no ORM loading
    at = {name: index for index, name in enumerate(result.keys())}
    keys_at = [at[name] for name in names]
    counts_at = [(name, at[name]) for name in _COUNTS]
    for row in result:
        key = tuple(row[index] for index in keys_at)
        groups[key] = _group(row._mapping)
        counts[key] = {name: int(row[index] or 0) for name, index in counts_at}
    result = session.connection().execute(step_rows)
    at = {name: index for index, name in enumerate(result.keys())}
    keys_at = [at[name] for name in names]
    step_at, finished_at, on_time_at = at["step"], at["finished"], at["on_time"]
    median_at, p90_at = at["median_seconds"], at["p90_seconds"]
    for row in result:
        key = tuple(row[index] for index in keys_at)
        if key not in groups:
            groups[key] = _group(row._mapping)
        steps.setdefault(key, {})[_STEPS[row[step_at]]] = StepFigures(
            finished=int(row[finished_at]),
            on_time=int(row[on_time_at] or 0),
            median_seconds=shown_seconds(_int_or_none(row[median_at])),
            p90_seconds=shown_seconds(_int_or_none(row[p90_at])),
        )
    if not scope.group_by:  # the total: one row even when nothing matched
        groups.setdefault((), Group())
    none = StepFigures()
    return {
        key: (
            group,
            Figures(
                **counts.get(key, {}),
                steps={step: steps.get(key, {}).get(step, none) for step in Step},
            ),
        )
        for key, group in groups.items()
    }


_STEPS = {step.value: step for step in Step}


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
