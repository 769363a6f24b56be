"""Reports from summary tables (issue 18), rebuilt a month at a time by :func:`refresh`:

* ``report_cells``: the reflection figures per month, handling unit and category;
* ``report_step_cells``: per month, unit (of the step), category and step, how many finished
  steps took each working time, to the tenth of an hour a report shows
  (:func:`~reflections.oversight.report_types.shown_seconds`: rounding keeps the order of
  values, so the nearest-rank percentile of the rounded times is the rounded percentile, the
  figure shown);
* ``report_step_months``: the same summed per month and step (a few thousand rows a month),
  which the total and the months of an unfiltered report rank;
* ``report_step_figures``: each cell's step figures, percentiles included, which a report
  grouped by unit, category and month (the cells themselves) reads as they are.

**When they are used.** Each summarised month keeps the fingerprint of the reflections it was
built from (how many were received in it, the sum of their versions: every event moves a
version, every submission the count). :func:`changed_months` recomputes the fingerprints of
the report's months (a count per month over an index, no table rows) and the months whose
fingerprint differs are counted live, from the reflections and step records, by the same
statements a rebuild runs, beside the other months' summaries. So a report is never stale: a
changed month costs what a month of the report's SQL costs until the next refresh (the
``report-summaries`` flow, every ten minutes), a settled one almost nothing. When no month of
the period is summarised, or none is unchanged, the statements of
:mod:`reflections.oversight.reports` run as before. ``open_overdue`` depends on the hour, so
it is always counted from the open reflections themselves.

**With a stated lag** (the dashboard: ``build_report(..., as_summarised=True)``), a changed
month is read as it was summarised too, and the report says since when
(:attr:`~reflections.oversight.report_types.Report.summarised_at`, the oldest rebuild among
the changed months): at most :data:`REFRESH_MINUTES` plus a rebuild old, at the summaries'
cost. Only months never summarised are counted live. The API, the exports and the CLI stay
exact.

**Rebuilding** a month reuses the report's own statements at the finest grouping (unit,
category, month), inside one snapshot of the database (REPEATABLE READ on PostgreSQL; a
SQLite transaction reads one snapshot), so the fingerprint stored is that of the rows summed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    union_all,
)
from sqlmodel import Session, col

from reflections.lifecycle.queries import current_due_at
from reflections.models import (
    AdministrativeUnit,
    Reflection,
    ReportCell,
    ReportMonth,
    ReportStepCell,
    ReportStepFigure,
    ReportStepMonth,
    StepRecord,
)
from reflections.models.enums import LifecycleState
from reflections.models.types import UTCDateTime
from reflections.oversight.local_months import fixed_offset, local_month
from reflections.oversight.report_types import (
    SHOWN_SECONDS,
    Figures,
    Group,
    GroupBy,
    Month,
)
from reflections.oversight.reports import (
    _SUMMED,
    MEDIAN,
    P90,
    _cohort,
    _flag,
    _GroupKey,
    _joined,
    _key_names,
    _keys,
    _merged,
    _reflection_statement,
    _Scope,
    _utc_midnight,
)
from reflections.platform import clock
from reflections.platform.db import is_postgresql
from reflections.platform.settings import get_settings

_CELL_COUNTS = ("received", *(name for name in _SUMMED if name != "open_overdue"), "rating_sum")
_OPEN = (LifecycleState.RECEIVED, LifecycleState.CLASSIFIED, LifecycleState.ASSIGNED)
_FINEST = (GroupBy.HANDLING_UNIT, GroupBy.CATEGORY, GroupBy.MONTH)
_Fingerprint = tuple[int, int]


def months_of(scope: _Scope) -> Iterator[str]:
    first = (scope.start + scope.offset).date()
    month, last = Month(first.year, first.month), (scope.end + scope.offset).date()
    while month.first_day() < last:
        yield str(month)
        month = month.next()


def _fingerprints(
    session: Session, start: datetime, end: datetime, offset: timedelta
) -> dict[str, _Fingerprint]:
    """(count, sum of versions) per local month from ``start`` to ``end`` (UTC instants at local
    month starts): one aggregate per month over its range of ``created_at``, each an index-only
    scan of ``ix_reflections_created_at_version`` on PostgreSQL (no table rows read, nothing
    computed per row), so checking a year costs a tenth of a second at a million."""
    names: list[str] = []
    bounds: list[datetime] = []
    first = (start + offset).date()
    month = Month(first.year, first.month)
    while (instant := _utc_midnight(month.first_day(), offset)) < end:
        names.append(str(month))
        bounds.append(max(instant, start))
        month = month.next()
    bounds.append(end)
    created, version = col(Reflection.created_at), col(Reflection.version)
    statement = union_all(
        *(
            select(_number(n), func.count(), func.sum(version)).where(
                created >= bounds[n], created < bounds[n + 1]
            )
            for n in range(len(names))
        )
    )
    rows = session.execute(statement)
    return {names[int(row[0])]: (int(row[1]), int(row[2] or 0)) for row in rows if row[1]}


def _number(n: int) -> ColumnElement[int]:
    return literal_column(str(n), Integer())


REFRESH_MINUTES = 10  # the report-summaries flow's schedule (flows.deployments: */10)


@dataclass(frozen=True)
class MonthsState:
    """A report's months against their summaries."""

    months: list[str]
    unsummarised: list[str]  # never summarised (or since dropped), with reflections
    changed: list[str]  # changed since summarised, or never summarised
    # When each summarised month that changed since was rebuilt: its stored figures are that old.
    refreshed_at: dict[str, datetime]

    def lagged_since(self) -> datetime | None:
        """The oldest rebuild of the summarised months that changed since (None: none did)."""
        return min(self.refreshed_at.values(), default=None)


def months_state(session: Session, scope: _Scope) -> MonthsState | None:
    """Which months of the report are summarised, and which changed since; None when no month
    of it is summarised at all."""
    months = list(months_of(scope))
    statement = select(ReportMonth).where(col(ReportMonth.month).in_(months))
    rows = {row.month: row for row in session.scalars(statement)}
    if not rows:
        return None
    current = _fingerprints(session, scope.start, scope.end, scope.offset)
    # A month neither summarised nor holding reflections has nothing to count.
    unsummarised = [month for month in months if month not in rows and month in current]
    changed = [
        month
        for month in months
        if month in unsummarised
        or (month in rows and current.get(month) != (rows[month].reflections, rows[month].versions))
    ]
    return MonthsState(
        months=months,
        unsummarised=unsummarised,
        changed=changed,
        refreshed_at={month: rows[month].refreshed_at for month in changed if month in rows},
    )


def changed_months(session: Session, scope: _Scope) -> list[str] | None:
    """The months of the report whose reflections changed since they were summarised (or were
    never summarised and hold some); None when no month of it is summarised at all."""
    state = months_state(session, scope)
    return None if state is None else state.changed


def covers(session: Session, scope: _Scope) -> bool:
    """Whether every month of the report is summarised and unchanged since."""
    return changed_months(session, scope) == []


# -- reading --------------------------------------------------------------------------------


def _filters(scope: _Scope, unit: Any, category: Any, month: Any) -> ColumnElement[bool]:
    """The report's months (unless ``month`` is None: rows already within them) and filters."""
    months = list(months_of(scope))
    conditions = [] if month is None else [month >= months[0], month <= months[-1]]
    if scope.unit_id is not None:
        conditions.append(unit == scope.unit_id)
    if scope.category_id is not None:
        conditions.append(category == scope.category_id)
    if scope.level is not None:
        conditions.append(col(AdministrativeUnit.level) == scope.level)
    if scope.within_units is not None:
        conditions.append(unit.in_(sorted(scope.within_units)) if scope.within_units else false())
    return and_(true(), *conditions)


_ZERO, _ONE = literal_column("0", Integer()), literal_column("1", Integer())


def _stored(scope: _Scope, month: Any, live: Sequence[str]) -> ColumnElement[bool]:
    """A summary table's rows of the report's months, but those counted live."""
    within = _filters(_unfiltered(scope), None, None, month)
    return and_(within, month.not_in(live)) if live else within


def _cells_statement(scope: _Scope, live: Sequence[str]) -> Select[Any]:
    """The reflection figures per group: summed cells (counted from the reflections for the
    ``live`` months), and the open reflections overdue now."""
    stored = select(
        col(ReportCell.month).label("month"),
        col(ReportCell.unit_id).label("unit_id"),
        col(ReportCell.category_id).label("category_id"),
        *(getattr(ReportCell, name).label(name) for name in _CELL_COUNTS),
        _ZERO.label("open_overdue"),
    ).where(_stored(scope, col(ReportCell.month), live))
    counted = [
        _live_cells(_month_scope(Month.parse(month), scope.offset, scope.now)).subquery(f"live_{n}")
        for n, month in enumerate(live)
    ]
    cells = [stored, *(select(*rows.c, _ZERO.label("open_overdue")) for rows in counted)]
    now = literal(scope.now, UTCDateTime())
    overdue = select(
        local_month(col(Reflection.created_at), scope.offset).label("month"),
        col(Reflection.handling_unit_id).label("unit_id"),
        col(Reflection.category_id).label("category_id"),
        *(_ZERO.label(name) for name in _CELL_COUNTS),
        _ONE.label("open_overdue"),
    ).where(
        col(Reflection.created_at) >= scope.start,
        col(Reflection.created_at) < scope.end,
        col(Reflection.state).in_(_OPEN),
        current_due_at() < now,
    )
    rows = union_all(*cells, overdue).subquery("cells")
    keys = _keys(scope, month=rows.c.month)
    return (
        _joined(
            select(
                *(expression.label(name) for name, expression in keys),
                *(func.sum(rows.c[name]).label(name) for name in ("received", *_SUMMED)),
                func.sum(rows.c.rating_sum).label("rating_sum"),
            ).select_from(rows),
            rows.c.unit_id,
            rows.c.category_id,
        )
        # Both parts are within the months already (a filter on the union's month would hide
        # how many rows come, and PostgreSQL then joins the units by nested loops).
        .where(_filters(scope, rows.c.unit_id, rows.c.category_id, None))
        .group_by(*(expression for _, expression in keys))
    )


def _unfiltered(scope: _Scope) -> _Scope:
    return replace(scope, unit_id=None, category_id=None, level=None, within_units=None)


def _filtered(scope: _Scope) -> bool:
    return any(
        value is not None
        for value in (scope.unit_id, scope.category_id, scope.level, scope.within_units)
    )


def _steps_statement(scope: _Scope, live: Sequence[str]) -> Select[Any]:
    """Per group and step: finished, on time, median and p90. Grouped by unit, category and
    month (the cells themselves), from the figures stored per cell; by month or not at all
    and unfiltered, from the months' histograms; otherwise from the cells' histograms. The
    ``live`` months' come from their step records instead, counted the same way."""
    scopes = [_month_scope(Month.parse(month), scope.offset, scope.now) for month in live]
    dimensions = set(scope.group_by)
    if {GroupBy.HANDLING_UNIT, GroupBy.CATEGORY, GroupBy.MONTH} <= dimensions:
        return _stored_figures(scope, live, scopes)
    if not _filtered(scope) and dimensions <= {GroupBy.MONTH}:
        month = ReportStepMonth
        histogram: Select[Any] = select(
            col(month.month).label("month"),
            col(month.step).label("step"),
            col(month.working_seconds).label("seconds"),
            col(month.finished).label("finished"),
            col(month.on_time).label("on_time"),
        ).where(_stored(scope, col(month.month), live))
        counted = [_live_step_counts(each).subquery(f"live_{n}") for n, each in enumerate(scopes)]
        return _ranked(
            scope,
            union_all(
                histogram,
                *(
                    select(
                        rows.c.month, rows.c.step, rows.c.seconds, rows.c.finished, rows.c.on_time
                    )
                    for rows in counted
                ),
            ),
            joined=False,
        )
    cell = ReportStepCell
    stored: Select[Any] = select(
        col(cell.month).label("month"),
        col(cell.unit_id).label("unit_id"),
        col(cell.category_id).label("category_id"),
        col(cell.step).label("step"),
        col(cell.working_seconds).label("seconds"),
        col(cell.finished).label("finished"),
        col(cell.on_time).label("on_time"),
    ).where(_stored(scope, col(cell.month), live))
    return _ranked(
        scope, union_all(stored, *(_live_step_counts(each) for each in scopes)), joined=True
    )


def _stored_figures(scope: _Scope, live: Sequence[str], scopes: list[_Scope]) -> Select[Any]:
    figure = ReportStepFigure
    columns = ["month", "unit_id", "category_id", "step", "finished", "on_time"]
    columns += ["median_seconds", "p90_seconds"]
    stored = select(*(getattr(figure, name).label(name) for name in columns)).where(
        _stored(scope, col(figure.month), live)
    )
    counted = [_live_figures(each).subquery(f"live_{n}") for n, each in enumerate(scopes)]
    rows = union_all(
        stored, *(select(*(each.c[name] for name in columns)) for each in counted)
    ).subquery("figures")
    keys = _keys(scope, month=rows.c.month)
    return _joined(
        select(
            *(expression.label(name) for name, expression in keys),
            rows.c.step,
            rows.c.finished,
            rows.c.on_time,
            rows.c.median_seconds,
            rows.c.p90_seconds,
        ).select_from(rows),
        rows.c.unit_id,
        rows.c.category_id,
    ).where(_filters(scope, rows.c.unit_id, rows.c.category_id, None))


def _ranked(scope: _Scope, counts: Any, *, joined: bool) -> Select[Any]:
    """The nearest-rank median and p90 per group and step from counts per value (``counts``:
    month, [unit_id, category_id,] step, seconds, finished, on_time): the counts are summed
    per group, step and value first (a hash aggregate), then the few rows left are ranked,
    the percentile being the smallest value whose running count reaches the rank."""
    rows = counts.subquery("counts")
    keys = _keys(scope, month=rows.c.month)
    summed = select(
        *(expression.label(name) for name, expression in keys),
        rows.c.step,
        rows.c.seconds,
        func.sum(rows.c.finished).label("finished"),
        func.sum(rows.c.on_time).label("on_time"),
    ).select_from(rows)
    if joined:
        summed = _joined(summed, rows.c.unit_id, rows.c.category_id).where(
            _filters(scope, rows.c.unit_id, rows.c.category_id, rows.c.month)
        )
    else:  # the months' histograms: only for reports filtered by nothing but their months
        summed = summed.where(_filters(scope, None, None, rows.c.month))
    values = summed.group_by(
        *(expression for _, expression in keys), rows.c.step, rows.c.seconds
    ).subquery("values")
    # Partitioned by ids, not by the codes and names grouped on (the same partitions, a
    # cheaper sort).
    ids = {"unit_id", "level", "category_id", "month"}
    names = _key_names(scope)
    partition = [values.c[name] for name in names if name in ids] + [values.c.step]
    ranked = select(
        *(values.c[name] for name in names),
        values.c.step,
        values.c.seconds,
        values.c.finished,
        values.c.on_time,
        func.sum(values.c.finished)
        .over(partition_by=partition, order_by=values.c.seconds, rows=(None, 0))
        .label("running"),
        func.sum(values.c.finished).over(partition_by=partition).label("n"),
    ).subquery("ranked")
    group = [ranked.c[name] for name in names]
    return select(
        *group,
        ranked.c.step,
        func.sum(ranked.c.finished).label("finished"),
        func.sum(ranked.c.on_time).label("on_time"),
        _nearest_rank(ranked, MEDIAN).label("median_seconds"),
        _nearest_rank(ranked, P90).label("p90_seconds"),
    ).group_by(*group, ranked.c.step)


def _nearest_rank(ranked: Any, percent: int) -> ColumnElement[int]:
    hundred, share = literal_column("100", Integer()), literal_column(str(percent), Integer())
    reached = ranked.c.running * hundred >= ranked.c.n * share
    return func.min(case((reached, ranked.c.seconds), else_=None))


def figures_by_group(
    session: Session, scope: _Scope, live: Sequence[str] = ()
) -> dict[_GroupKey, tuple[Group, Figures]]:
    """The report's figures from the summaries, the ``live`` months' (changed since they were
    summarised) counted from the reflections and step records as a rebuild would count them:
    the same figures as the SQL, at its cost for those months only."""
    if is_postgresql(session.get_bind().engine):
        # The percentiles sort the counts of a period in memory, not in temporary files.
        session.execute(text(f"SET LOCAL work_mem = '{_WORK_MEM}'"))
    cells, steps = _cells_statement(scope, live), _steps_statement(scope, live)
    return _merged(session, scope, cells, steps)


_WORK_MEM = "64MB"


# -- rebuilding -----------------------------------------------------------------------------


def _month_scope(month: Month, offset: timedelta, now: datetime) -> _Scope:
    return _Scope(
        start=_utc_midnight(month.first_day(), offset),
        end=_utc_midnight(month.next().first_day(), offset),
        offset=offset,
        now=now,
        group_by=_FINEST,
        unit_id=None,
        category_id=None,
        level=None,
        within_units=None,
    )


def _rebuild(session: Session, month: Month, scope: _Scope, fingerprint: _Fingerprint) -> None:
    name = str(month)
    # The month's row first: a concurrent rebuild of the same month waits on it, then fails
    # (PostgreSQL's REPEATABLE READ, or the primary key) and rolls back, leaving no duplicates.
    session.execute(delete(ReportMonth).where(col(ReportMonth.month) == name))
    for table in (ReportCell, ReportStepCell, ReportStepMonth, ReportStepFigure):
        session.execute(delete(table).where(col(table.month) == name))
    session.execute(
        insert(ReportCell).from_select(
            ["month", "unit_id", "category_id", *_CELL_COUNTS], _live_cells(scope)
        )
    )
    session.execute(
        insert(ReportStepCell).from_select(
            ["month", "unit_id", "category_id", "step", "working_seconds", "finished", "on_time"],
            _live_step_counts(scope),
        )
    )
    _summarise_steps(session, name, scope)
    reflections, versions = fingerprint
    session.add(
        ReportMonth(
            month=name, reflections=reflections, versions=versions, refreshed_at=clock.now()
        )
    )


def _live_cells(scope: _Scope) -> Select[Any]:
    """A month's reflection cells (``scope``: the month, finest, unfiltered) counted from the
    reflections: month, unit_id, category_id and the counts."""
    facts = _reflection_statement(scope).subquery("facts")
    return select(
        facts.c.month,
        facts.c.unit_id,
        facts.c.category_id,
        *(func.coalesce(facts.c[count], 0).label(count) for count in _CELL_COUNTS),
    )


def _live_step_counts(scope: _Scope) -> Select[Any]:
    """A month's step cells counted from the step records: month, unit_id, category_id, step,
    seconds (to the tenth of an hour shown), finished and on_time."""
    keys = _keys(scope)
    unit = col(StepRecord.handling_unit_id)
    shown = _shown(col(StepRecord.working_seconds))
    steps = (
        _joined(
            select(
                *(expression.label(key) for key, expression in keys),
                col(StepRecord.step).label("step"),
                shown.label("seconds"),
                func.count().label("finished"),
                func.sum(_flag(col(StepRecord.on_time))).label("on_time"),
            )
            .select_from(StepRecord)
            .join(Reflection, col(Reflection.id) == col(StepRecord.reflection_id)),
            unit,
        )
        .where(_cohort(scope, unit))
        .group_by(*(expression for _, expression in keys), col(StepRecord.step), shown)
        .subquery("steps")
    )
    return select(
        steps.c.month,
        steps.c.unit_id,
        steps.c.category_id,
        steps.c.step,
        steps.c.seconds,
        steps.c.finished,
        steps.c.on_time,
    )


def _live_figures(scope: _Scope) -> Select[Any]:
    """A month's step figures per cell counted from the step records."""
    return _ranked(scope, _live_step_counts(scope), joined=True)


def _summarise_steps(session: Session, name: str, scope: _Scope) -> None:
    """From the month's step cells: its histogram per step, and each cell's figures."""
    cell = ReportStepCell
    session.execute(
        insert(ReportStepMonth).from_select(
            ["month", "step", "working_seconds", "finished", "on_time"],
            select(
                col(cell.month),
                col(cell.step),
                col(cell.working_seconds),
                func.sum(col(cell.finished)),
                func.sum(col(cell.on_time)),
            )
            .where(col(cell.month) == name)
            .group_by(col(cell.month), col(cell.step), col(cell.working_seconds)),
        )
    )
    counts: Select[Any] = select(
        col(cell.month).label("month"),
        col(cell.unit_id).label("unit_id"),
        col(cell.category_id).label("category_id"),
        col(cell.step).label("step"),
        col(cell.working_seconds).label("seconds"),
        col(cell.finished).label("finished"),
        col(cell.on_time).label("on_time"),
    ).where(col(cell.month) == name)
    figures = _ranked(scope, counts, joined=True).subquery("figures")
    columns = ["month", "unit_id", "category_id", "step", "finished", "on_time"]
    columns += ["median_seconds", "p90_seconds"]
    session.execute(
        insert(ReportStepFigure).from_select(
            columns, select(*(figures.c[column] for column in columns))
        )
    )


def _shown(seconds: Any) -> ColumnElement[int]:
    """:func:`~reflections.oversight.report_types.shown_seconds` in SQL (integer division of
    non-negative numbers: the same on both databases)."""
    half = literal_column(str(SHOWN_SECONDS // 2), Integer())
    unit = literal_column(str(SHOWN_SECONDS), Integer())
    tenths = case((seconds >= _ZERO, (seconds + half) // unit), else_=-((half - seconds) // unit))
    return tenths * unit


def refresh(session: Session, limit: int | None = None) -> list[str]:
    """Rebuild every month whose reflections changed since it was summarised (at most
    ``limit`` of them, oldest first), one transaction per month; returns them."""
    bounds = session.execute(
        select(func.min(col(Reflection.created_at)), func.max(col(Reflection.created_at)))
    ).one()
    session.rollback()
    if bounds[0] is None:
        return []
    first, last = (_as_date(bounds[0]), _as_date(bounds[1]))
    offset = fixed_offset(get_settings().time_zone, first, last + timedelta(days=1))
    start = _utc_midnight(date(first.year, first.month, 1) - timedelta(days=1), offset)
    end = _utc_midnight(last + timedelta(days=2), offset)
    current = _fingerprints(session, start, end, offset)
    every = session.scalars(select(ReportMonth))
    stored = {row.month: (row.reflections, row.versions) for row in every}
    session.rollback()
    stale = sorted(month for month, value in current.items() if stored.get(month) != value)
    gone = [month for month in stored if month not in current]
    done: list[str] = []
    for name in stale[:limit] if limit is not None else stale:
        if is_postgresql(session.get_bind().engine):
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        month = Month.parse(name)
        scope = _month_scope(month, offset, clock.now())
        fingerprint = _fingerprints(session, scope.start, scope.end, offset).get(name, (0, 0))
        _rebuild(session, month, scope, fingerprint)
        session.commit()
        done.append(name)
    for name in gone:
        for table in (ReportCell, ReportStepCell, ReportStepMonth, ReportStepFigure):
            session.execute(delete(table).where(col(table.month) == name))
        session.execute(delete(ReportMonth).where(col(ReportMonth.month) == name))
        session.commit()
        done.append(name)
    if done and is_postgresql(session.get_bind().engine):
        # Fresh statistics at once (autovacuum comes later): with a month's rows counted as a
        # few dozen, the planner joins a year's cells to the units by nested loops.
        session.execute(text(f"ANALYZE {', '.join(_TABLES)}"))
        session.commit()
    return done


_TABLES = (
    "report_months",
    "report_cells",
    "report_step_cells",
    "report_step_months",
    "report_step_figures",
)


def _as_date(value: datetime) -> date:
    return value.date()


def month_of(instant: datetime) -> str:
    """The local month (``YYYY-MM``) an instant falls in, as the summaries name it."""
    zone = get_settings().time_zone
    day = instant.date()
    offset = fixed_offset(zone, day, day + timedelta(days=1))
    local = instant + offset
    return f"{local.year:04d}-{local.month:02d}"
