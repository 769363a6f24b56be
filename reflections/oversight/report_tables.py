"""A report as two readable tables (``reflections report``): reflections, then steps."""

from zoneinfo import ZoneInfo

from rich.table import Table

from reflections.oversight.report_types import Figures, Group, GroupBy, Report
from reflections.timekeeping.deadlines import Step

NO_VALUE = "-"
GROUP_WIDTH = 40  # a unit's or category's code and name; longer ones wrap
NUMBER_WIDTH = 5  # "100.0": headers wrap on narrow terminals, numbers never do
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


def tables(report: Report) -> list[Table]:
    period = f"{report.query.month_from}–{report.query.month_to}"
    local = report.generated_at.astimezone(ZoneInfo(report.time_zone))
    at = f"{local:%Y-%m-%d %H:%M} ({report.time_zone})"
    return [
        _reflections(report, f"Reflections received {period} (open overdue as of {at})"),
        _steps(report, f"Steps of those reflections {period} (hours: working time)"),
    ]


def _reflections(report: Report, title: str) -> Table:
    table = _table(report, title)
    for name in (
        "received",
        "rejected",
        "processed",
        "overdue",
        "escal.",
        "ext. asked",
        "ext. granted",
        "reopen %",
        "rated",
        "satisf. %",
        "rating",
    ):
        table.add_column(name, justify="right", min_width=NUMBER_WIDTH)
    for row in report.rows:
        table.add_row(*_group_cells(row.group, report), *_reflection_cells(row.figures))
    table.add_section()
    table.add_row(*_total_cells(report), *_reflection_cells(report.total), style="bold")
    return table


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
            f"{group.handling_unit.code} {group.handling_unit.name}"
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
