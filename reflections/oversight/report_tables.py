"""A report as readable tables (``reflections report``), each fitting an 80-column terminal:
what happened to the reflections, their extensions and ratings, then their steps."""

from zoneinfo import ZoneInfo

from rich.table import Table

from reflections.organisation.names import short_name
from reflections.oversight.report_types import Figures, Group, GroupBy, Report
from reflections.timekeeping.deadlines import Step

NO_VALUE = "-"
GROUP_WIDTH = 26  # a unit's or category's code and name; longer ones wrap
NUMBER_WIDTH = 5  # "100.0": headers wrap on narrow terminals, numbers never do
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_NONE_LABELS = {
    GroupBy.HANDLING_UNIT: "(no unit)",
    GroupBy.LEVEL: "(no unit)",
    GroupBy.CATEGORY: "(unclassified)",
    GroupBy.MONTH: NO_VALUE,
}
_HEADERS = {
    GroupBy.HANDLING_UNIT: "unit",
    GroupBy.LEVEL: "level",
    GroupBy.CATEGORY: "category",
    GroupBy.MONTH: "month",
}


def tables(report: Report, period: str | None = None) -> list[Table]:
    """``period``: the months in words ("from March 2026 to the end of May 2026")."""
    first, last = report.query.month_from, report.query.month_to
    period = (
        period
        or f"from {_month(first.year, first.month)} to the end of {_month(last.year, last.month)}"
    )
    local = report.generated_at.astimezone(ZoneInfo(report.time_zone))
    at = f"{local.day} {MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    return [
        _figures(report, f"Reflections received {period} (overdue now: as of {at})", _COUNTS),
        _figures(report, "Their extensions, reopenings and citizens' ratings", _FOLLOW_UP),
        _steps(report, "Their steps (hours are working hours)"),
    ]


def _month(year: int, month: int) -> str:
    """ "March 2026"."""
    return f"{MONTHS[month - 1]} {year}"


_COUNTS = ("received", "rejected", "processed", "overdue", "escal.")
_FOLLOW_UP = ("ext. asked", "ext. granted", "reopen %", "rated", "satisf. %", "rating")


def _figures(report: Report, title: str, names: tuple[str, ...]) -> Table:
    table = _table(report, title)
    for name in names:
        table.add_column(name, justify="right", min_width=NUMBER_WIDTH)
    wanted = [_FIGURE_NAMES.index(name) for name in names]
    for row in report.rows:
        cells = _reflection_cells(row.figures)
        table.add_row(*_group_cells(row.group, report), *(cells[i] for i in wanted))
    table.add_section()
    cells = _reflection_cells(report.total)
    table.add_row(*_total_cells(report), *(cells[i] for i in wanted), style="bold")
    return table


_FIGURE_NAMES = (*_COUNTS, *_FOLLOW_UP)  # the order of _reflection_cells


def _steps(report: Report, title: str) -> Table:
    table = _table(report, title)
    table.add_column("step", no_wrap=True, min_width=8)
    for name in ("finished", "on time", "on time %", "median h", "p90 h"):
        table.add_column(name, justify="right", min_width=NUMBER_WIDTH)
    for row in report.rows:
        for cells in _step_cells(row.figures):
            table.add_row(*_group_cells(row.group, report), *cells)
    table.add_section()
    for cells in _step_cells(report.total):
        table.add_row(*_total_cells(report), *cells, style="bold")
    return table


def _table(report: Report, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for dimension in report.query.group_by:
        table.add_column(_HEADERS[dimension], overflow="fold", min_width=10, max_width=GROUP_WIDTH)
    if not report.query.group_by:
        table.add_column("")
    return table


def _group_cells(group: Group, report: Report) -> list[str]:
    values = {
        GroupBy.HANDLING_UNIT: (
            f"{group.handling_unit.code} {short_name(group.handling_unit.name)}"
            if group.handling_unit
            else None
        ),
        GroupBy.LEVEL: group.level,
        GroupBy.CATEGORY: (
            f"{group.category.code} {group.category.name}" if group.category else None
        ),
        GroupBy.MONTH: group.month,
    }
    return [values[d] or _NONE_LABELS[d] for d in report.query.group_by]


def _total_cells(report: Report) -> list[str]:
    return ["all", *[""] * (len(report.query.group_by) - 1)] if report.query.group_by else ["all"]


def _reflection_cells(figures: Figures) -> list[str]:
    return [
        str(figures.received),
        str(figures.rejected),
        str(figures.processed),
        str(figures.open_overdue),
        str(figures.escalations),
        str(figures.extensions_requested),
        str(figures.extensions_granted),
        _number(figures.reopen_rate_pct),
        str(figures.rated),
        _number(figures.satisfaction_pct),
        _number(figures.mean_rating, "{:.2f}"),
    ]


def _step_cells(figures: Figures) -> list[list[str]]:
    """One row per step that finished at least once."""
    rows = []
    for step in Step:
        shown = figures.steps[step]
        if shown.finished:
            rows.append(
                [
                    step.value,
                    str(shown.finished),
                    str(shown.on_time),
                    _number(shown.on_time_pct),
                    _number(shown.median_hours),
                    _number(shown.p90_hours),
                ]
            )
    return rows


def _number(value: float | None, pattern: str = "{:.1f}") -> str:
    return NO_VALUE if value is None else pattern.format(value)
