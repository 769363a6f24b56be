"""Oversight: reports, exports and the audit chain's verify and anchor."""

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import select

from reflections.cli import periods
from reflections.cli.common import (
    AtOption,
    ProgressOption,
    console,
    instant_or_now,
    open_session,
    progress_bar,
)
from reflections.cli.periods import FROM_HELP, TO_HELP

export_app = typer.Typer(
    help="Exports of histories and reports for a period: CSV, JSON lines or XLSX, streamed.",
    no_args_is_help=True,
)

OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout).")
]


audit_app = typer.Typer(
    help="Tamper evidence: verify the history's hash chains and anchor them.",
    no_args_is_help=True,
)


def report(
    start: Annotated[str, typer.Option("--from", help=FROM_HELP + " Months only.")],
    end: Annotated[str | None, typer.Option("--to", help=TO_HELP)] = None,
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
    """Figures per unit, level, category and month of the reflections received in the months
    --from to --to, both included (defined in reflections/oversight/reports.py)."""
    import json

    from reflections.errors import InvalidInput
    from reflections.oversight.report_tables import tables
    from reflections.oversight.report_types import ReportQuery
    from reflections.oversight.reports import build_report

    if output_format not in ("table", "json"):
        raise typer.BadParameter(f"--format is table or json, not {output_format!r}")
    chosen = periods.period(start, end)
    first, last = chosen.month_range()
    try:
        query = ReportQuery.parse(
            str(first), str(last), group_by, handling_unit=unit, category=category, level=level
        )
        with open_session() as session:
            result = build_report(session, query, instant_or_now(at))
    except InvalidInput as error:
        raise typer.BadParameter(str(error)) from None
    if output_format == "json":
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    for table in tables(result, chosen.words()):
        console.print(table)


FileFormatOption = Annotated[
    str, typer.Option("--format", help="csv (with a header row), jsonl or xlsx.")
]
BomOption = Annotated[
    bool, typer.Option("--bom", help="CSV: start with the byte order mark Excel needs.")
]
HeadersOption = Annotated[
    str, typer.Option("--headers", help="Header row: codes (column ids), vi or en.")
]


def _file_options(export_format: str, bom: bool, headers: str, sheet: str) -> tuple[Any, Any]:
    from reflections.oversight.exports import ExportFormat, FileOptions, Headers

    try:
        chosen = ExportFormat(export_format)
        named = Headers(headers)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return chosen, FileOptions(bom=bom, headers=named, sheet=sheet)


@export_app.command("histories")
def export_histories(
    start: Annotated[str, typer.Option("--from", help=FROM_HELP)],
    end: Annotated[str | None, typer.Option("--to", help=TO_HELP)] = None,
    export_format: FileFormatOption = "csv",
    bom: BomOption = False,
    headers: HeadersOption = "codes",
    output: OutputOption = None,
) -> None:
    """Every history row written in the days (or months) --from to --to, both included, by
    time: in Vietnam time with names and what changed in words, and the chain's own forms."""
    from reflections.errors import InvalidInput
    from reflections.oversight import exports

    chosen = periods.period(start, end)
    file_format, options = _file_options(export_format, bom, headers, "sheet.histories")
    try:
        period = exports.days(chosen.first, chosen.end)
    except InvalidInput as error:
        raise typer.BadParameter(str(error)) from None
    with open_session() as session:
        chunks = exports.export_histories(session, period, file_format, options=options)
        _save(chunks, output, "history rows", chosen.words(), file_format)


@export_app.command("report")
def export_report(
    start: Annotated[str, typer.Option("--from", help=FROM_HELP + " Months only.")],
    end: Annotated[str | None, typer.Option("--to", help=TO_HELP)] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(help="handling_unit, level, category, month (repeat; default: all four)."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only this handling unit (code).")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category (code).")] = None,
    level: Annotated[str | None, typer.Option(help="Only units at this level.")] = None,
    export_format: FileFormatOption = "csv",
    bom: BomOption = False,
    headers: HeadersOption = "codes",
    output: OutputOption = None,
    at: AtOption = None,
) -> None:
    """The report of the reflections received in the months --from to --to, both included:
    one row per group, then the total."""
    from reflections.errors import InvalidInput
    from reflections.oversight import exports
    from reflections.oversight.report_types import ReportQuery
    from reflections.oversight.reports import build_report

    chosen = periods.period(start, end)
    first, last = chosen.month_range()
    file_format, options = _file_options(export_format, bom, headers, "sheet.report")
    try:
        query = ReportQuery.parse(
            str(first),
            str(last),
            exports.group_names(group_by),
            handling_unit=unit,
            category=category,
            level=level,
        )
        with open_session() as session:
            report = build_report(session, query, instant_or_now(at))
    except InvalidInput as error:
        raise typer.BadParameter(str(error)) from None
    chunks = exports.export_report(report, file_format, options)
    _save(chunks, output, "report rows", f"reflections received {chosen.words()}", file_format)


def _save(chunks: Iterable[bytes], output: Path | None, what: str, period: str, fmt: Any) -> None:
    """Stream to stdout (saying what on stderr), or to FILE through FILE.partial (renamed once
    complete), then say what was written where: "Wrote 16 history rows (from 1 March 2026 to
    31 March 2026, inclusive) to march.csv (5,900 bytes)."."""
    from reflections.oversight.exports import ExportFormat

    if output is None:
        typer.echo(f"Exporting {what} ({period}).", err=True)
        stdout = typer.get_binary_stream("stdout")
        for chunk in chunks:
            stdout.write(chunk)
        stdout.flush()
        return
    lines = 0
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as file:
        for chunk in chunks:
            file.write(chunk)
            lines += chunk.count(b"\n")
    partial.replace(output)
    rows = lines - (1 if fmt is ExportFormat.CSV else 0)  # CSV's header row
    count = f"the {what}" if fmt is ExportFormat.XLSX else f"{rows:,} {what}"
    typer.echo(f"Wrote {count} ({period}) to {output} ({_size(output.stat().st_size)}).")


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.0f} KB"


@audit_app.command("verify")
def audit_verify(
    reflection: Annotated[
        str | None, typer.Option(help="Only this reflection's timeline (a tracking code).")
    ] = None,
    progress: ProgressOption = None,
) -> None:
    """Check every timeline's hash chain and every anchor; exit 1 naming the first broken link."""
    from reflections.models import Reflection
    from reflections.oversight import audit

    with open_session() as session:
        if reflection is None:
            total = audit.reflection_count(session)
            with progress_bar("Checking timelines", progress) as tell:
                report = audit.verify(session, progress=lambda done: tell(done, total))
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
