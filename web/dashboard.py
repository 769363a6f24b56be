"""The report dashboard's figures: four reports from ``build_report``, shaped for the charts.

Every number comes from :func:`reflections.oversight.reports.build_report` (aggregated in
SQL), run for the same caller as the API (``within_units`` from their scope), but read from
the report summaries as they were last rebuilt (``as_summarised``): a period that includes the
current month answers at the summaries' cost, its figures at most one refresh of the
``report-summaries`` flow old, and the page says as of when. The API and the exports stay
exact. This module only picks figures out of the reports' few rows and hands them to
:mod:`web.charts`.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.models import AdministrativeUnit, Category, HandlingUnit
from reflections.organisation.names import collation_key, proper_name, short_name
from reflections.organisation.visibility import units_in_scope
from reflections.oversight.report_summary import REFRESH_MINUTES
from reflections.oversight.report_types import GroupBy, Month, Report, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock
from reflections.platform.settings import get_settings
from reflections.timekeeping.deadlines import Step
from web import charts
from web.forms import Choice
from web.local_dates import month_text

DEFAULT_MONTHS = 6  # the period shown when none is asked for: this month and the five before
UNIT_STEPS = (Step.PROCESS, Step.ACCEPT)  # the steps a handling unit takes (classify: the IOC)
NO_CATEGORY = ""  # the series of reflections not classified yet


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    finished: int
    on_time: int
    on_time_pct: float


@dataclass(frozen=True)
class VolumeRow:
    month: str
    counts: tuple[int, ...]  # per category of Dashboard.categories
    total: int


@dataclass(frozen=True)
class SatisfactionRow:
    month: str
    rated: int
    satisfied: int
    satisfaction_pct: float | None
    mean_rating: float | None


@dataclass(frozen=True)
class Headline:
    """What leaders look at first, for the period and the caller's scope."""

    received: int
    on_time_pct: float | None  # of the processing steps finished, on time
    overdue_now: int  # open and past their running step's deadline, now
    satisfaction_pct: float | None  # ratings of 4 or 5 among the rated


@dataclass(frozen=True)
class Dashboard:
    query: ReportQuery
    step: Step
    headline: Headline
    units: tuple[UnitRow, ...]
    categories: tuple[tuple[str, str], ...]  # (code, name) of the volume chart's series
    volume: tuple[VolumeRow, ...]
    satisfaction: tuple[SatisfactionRow, ...]
    on_time_chart: charts.BarChart
    volume_chart: charts.ColumnChart
    satisfaction_chart: charts.LineChart
    # When the oldest lagging figure was summarised (None: every figure is exact), and how
    # often the summaries are rebuilt.
    summarised_at: datetime | None = None
    refresh_minutes: int = REFRESH_MINUTES


def this_month(now: datetime | None = None) -> Month:
    local = (now or clock.now()).astimezone(ZoneInfo(get_settings().time_zone))
    return Month(local.year, local.month)


def default_period() -> tuple[str, str]:
    last = this_month()
    index = last.index() - (DEFAULT_MONTHS - 1)
    return str(Month(index // 12, index % 12 + 1)), str(last)


def months(query: ReportQuery) -> list[str]:
    found, month = [], query.month_from
    while month <= query.month_to:
        found.append(str(month))
        month = month.next()
    return found


def build(
    session: Session,
    actor: Actor,
    query: ReportQuery,
    step: Step,
    *,
    english: bool,
    no_category: str,
) -> Dashboard:
    """The four reports for the caller's scope, and the charts drawn from them
    (``no_category``: the name of the series of reflections not classified yet)."""
    now = clock.now()
    scope = units_in_scope(session, actor)
    lagging: list[datetime] = []

    def report(*group_by: GroupBy) -> Report:
        found = build_report(
            session,
            replace(query, group_by=group_by),
            now,
            within_units=scope,
            as_summarised=True,
        )
        if found.summarised_at is not None:
            lagging.append(found.summarised_at)
        return found

    total = report().total
    headline = Headline(
        total.received,
        total.steps[Step.PROCESS].on_time_pct,
        total.open_overdue,
        total.satisfaction_pct,
    )
    units = _on_time(report(GroupBy.HANDLING_UNIT), step, _unit_names(session, english))
    codes, received = _received(report(GroupBy.MONTH, GroupBy.CATEGORY))
    period = months(query)
    volume = []
    for month in period:
        counts = tuple(received.get((month, code), 0) for code in codes)
        volume.append(VolumeRow(month, counts, sum(counts)))
    satisfaction = _satisfaction(report(GroupBy.MONTH), period)
    names = _category_names(session, english) | {NO_CATEGORY: no_category}
    return Dashboard(
        query=query,
        step=step,
        headline=headline,
        units=units,
        categories=tuple((code, names.get(code, code)) for code in codes),
        volume=tuple(volume),
        satisfaction=satisfaction,
        on_time_chart=charts.horizontal_bars([(u.code, u.name, u.on_time_pct) for u in units]),
        volume_chart=charts.stacked_columns(
            [(month, month_text(month)) for month in period],
            codes,
            {key: float(count) for key, count in received.items()},
        ),
        satisfaction_chart=charts.line(
            [(row.month, month_text(row.month), row.satisfaction_pct) for row in satisfaction]
        ),
        summarised_at=min(lagging, default=None),
    )


def _on_time(report: Report, step: Step, names: dict[str, str]) -> tuple[UnitRow, ...]:
    """Units (in the report's order, by code) that finished ``step`` at least once."""
    rows = []
    for row in report.rows:
        unit, figures = row.group.handling_unit, row.figures.steps[step]
        if unit is None or figures.on_time_pct is None:
            continue  # no unit: the IOC's classify steps, and reflections nobody holds
        name = names.get(unit.code, unit.name)
        pct = figures.on_time_pct
        rows.append(UnitRow(unit.code, name, figures.finished, figures.on_time, pct))
    return tuple(rows)


def _received(report: Report) -> tuple[list[str], dict[tuple[str, str], int]]:
    """The categories present (by code, not classified last) and received per (month, code)."""
    codes = sorted({r.group.category.code for r in report.rows if r.group.category})
    if any(r.group.category is None for r in report.rows):
        codes.append(NO_CATEGORY)
    received = {
        (r.group.month or "", r.group.category.code if r.group.category else NO_CATEGORY): (
            r.figures.received
        )
        for r in report.rows
    }
    return codes, received


def _satisfaction(report: Report, period: list[str]) -> tuple[SatisfactionRow, ...]:
    """Every month of the period, those without ratings with no percentage (not a zero)."""
    by_month = {row.group.month: row.figures for row in report.rows}
    rows = []
    for month in period:
        figures = by_month.get(month)
        if figures is None:
            rows.append(SatisfactionRow(month, 0, 0, None, None))
            continue
        rows.append(
            SatisfactionRow(
                month,
                figures.rated,
                figures.satisfied,
                figures.satisfaction_pct,
                figures.mean_rating,
            )
        )
    return tuple(rows)


def _unit_names(session: Session, english: bool) -> dict[str, str]:
    """As offices write them ("UBND phường Phong Điền"): a long name cut to fit a chart's
    label column would leave "Ủy ban nhân dân phường Pho…", four wards at once."""
    rows = session.exec(select(HandlingUnit.code, HandlingUnit.name, HandlingUnit.name_en))
    return {code: name_en if english else short_name(name) for code, name, name_en in rows}


def _category_names(session: Session, english: bool) -> dict[str, str]:
    rows = session.exec(select(Category.code, Category.name_vi, Category.name_en))
    return {code: name_en if english else name_vi for code, name_vi, name_en in rows}


def unit_choices(session: Session, actor: Actor, english: bool) -> list[Choice]:
    """The handling units the caller may filter by: those in their scope, active ones."""
    scope = units_in_scope(session, actor)
    statement = select(HandlingUnit).where(col(HandlingUnit.active))
    if scope is not None:
        statement = statement.where(col(HandlingUnit.id).in_(sorted(scope)))
    units = session.exec(statement.order_by(col(HandlingUnit.code)))
    choices = [Choice(u.code, u.name_en if english else short_name(u.name)) for u in units]
    return sorted(choices, key=lambda c: collation_key(proper_name(c.label)))


def levels(session: Session) -> list[str]:
    rows = session.exec(select(AdministrativeUnit.level).distinct())
    return sorted(level for level in rows if level)
