"""Oversight: reports, exports and the audit chain's verify and anchor."""

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import select

from reflections.cli.common import AtOption, console, instant_or_now, open_session

export_app = typer.Typer(
    help="Exports of histories and reports for a period: CSV or JSON lines, streamed.",
    no_args_is_help=True,
)

FormatOption = Annotated[str, typer.Option("--format", help="csv (with a header row) or jsonl.")]

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout).")
]


audit_app = typer.Typer(
    help="Tamper evidence: verify the history's hash chains and anchor them.",
    no_args_is_help=True,
)


def report(
    month_from: Annotated[
        str, typer.Option("--from", help="First month received, YYYY-MM (local time).")
    ],
    month_to: Annotated[
        str | None, typer.Option("--to", help="Last month received, included (default: --from).")
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(help="handling_unit, level, category or month; repeat (default: all four)."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only this handling unit (code).")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category (code).")] = None,
    level: Annotated[str | None, typer.Option(help="Only units at this level.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    at: AtOption = None,
) -> None:
    """Figures per unit, level, category and month (defined in reflections/oversight/reports.py)."""
    import json

    from reflections.errors import InvalidInput
    from reflections.oversight.report_tables import tables
    from reflections.oversight.report_types import ReportQuery
    from reflections.oversight.reports import build_report

    if output_format not in ("table", "json"):
        raise typer.BadParameter(f"--format is table or json, not {output_format!r}")
    try:
        query = ReportQuery.parse(
            month_from, month_to, group_by, handling_unit=unit, category=category, level=level
        )
        with open_session() as session:
            result = build_report(session, query, instant_or_now(at))
    except InvalidInput as error:
        raise typer.BadParameter(str(error)) from None
    if output_format == "json":
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    for table in tables(result):
        console.print(table)


@export_app.command("histories")
def export_histories(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (local time).")
    ],
    end: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Day after the last, excluded.")
    ],
    export_format: FormatOption = "csv",
    output: OutputOption = None,
) -> None:
    """Every history row that occurred in [--from, --to), by time, as CSV or JSON lines."""
    from reflections.errors import InvalidInput
    from reflections.oversight import exports

    try:
        chosen = exports.ExportFormat(export_format)
        period = exports.days(start.date(), end.date())
    except (ValueError, InvalidInput) as error:
        raise typer.BadParameter(str(error)) from None
    with open_session() as session:
        _save(exports.export_histories(session, period, chosen), output)


@export_app.command("report")
def export_report(
    month_from: Annotated[str, typer.Option("--from", help="First month, e.g. 2026-01.")],
    month_to: Annotated[
        str | None, typer.Option("--to", help="Last month, included (default: --from).")
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(help="handling_unit, level, category, month (repeat; default: all four)."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only this handling unit (code).")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category (code).")] = None,
    level: Annotated[str | None, typer.Option(help="Only units at this level.")] = None,
    export_format: FormatOption = "csv",
    output: OutputOption = None,
    at: AtOption = None,
) -> None:
    """The report of the reflections received in --from..--to, one row per group, then total."""
    from reflections.errors import InvalidInput
    from reflections.oversight import exports
    from reflections.oversight.report_types import ReportQuery
    from reflections.oversight.reports import build_report

    try:
        chosen = exports.ExportFormat(export_format)
        query = ReportQuery.parse(
            month_from,
            month_to,
            exports.group_names(group_by),
            handling_unit=unit,
            category=category,
            level=level,
        )
        with open_session() as session:
            report = build_report(session, query, instant_or_now(at))
    except (ValueError, InvalidInput) as error:
        raise typer.BadParameter(str(error)) from None
    _save(exports.export_report(report, chosen), output)


def _save(chunks: Iterable[str], output: Path | None) -> None:
    """Stream to stdout, or to FILE through FILE.partial (renamed once complete)."""
    if output is None:
        stdout = typer.get_binary_stream("stdout")
        for chunk in chunks:
            stdout.write(chunk.encode())
        stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as file:
        for chunk in chunks:
            file.write(chunk.encode())
    partial.replace(output)
    typer.echo(f"wrote {output} ({output.stat().st_size} bytes)")


@audit_app.command("verify")
def audit_verify(
    reflection: Annotated[
        str | None, typer.Option(help="Only this reflection's timeline (a tracking code).")
    ] = None,
) -> None:
    """Check every timeline's hash chain and every anchor; exit 1 naming the first broken link."""
    from reflections.models import Reflection
    from reflections.oversight import audit

    with open_session() as session:
        if reflection is None:
            report = audit.verify(session)
        else:
            code = reflection.upper()
            found = session.exec(select(Reflection.id).where(Reflection.tracking_code == code))
            reflection_id = found.first()
            if reflection_id is None:
                console.print(f"[red]no reflection {reflection}[/red]")
                raise typer.Exit(2)
            report = audit.verify_reflection(session, reflection_id)
    typer.echo(report.summary())  # plain: a long problem stays on one line
    for problem in report.problems[1:]:
        typer.echo(f"  also: {problem}")
    if not report.intact:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(at: AtOption = None) -> None:
    """Anchor the settled history rows not yet anchored (the hourly flow does it too)."""
    from reflections.oversight import anchors

    instant = instant_or_now(at)
    with open_session() as session:
        anchored = anchors.anchor(session, instant)
    if anchored is None:
        minutes = int(anchors.SETTLE.total_seconds() // 60)
        typer.echo(f"nothing to anchor: every row older than {minutes} minutes is anchored")
        return
    typer.echo(
        f"anchor {anchored.id}: history ids {anchored.first_history_id}–"
        f"{anchored.last_history_id}, {anchored.row_count} rows, hash {anchored.hash}"
    )
