"""The `reflections` command line: set-up, users, seeding, the demo and serving."""

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress
from sqlmodel import Session, select

from reflections import clock, migrate
from reflections.db import get_engine
from reflections.models import Membership, OutboxStatus, User
from reflections.models.enums import Role
from reflections.settings import get_settings

app = typer.Typer(help="Reflections: the citizen-feedback workflow engine.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
apikeys_app = typer.Typer(help="API keys of service clients (Open311 apps).", no_args_is_help=True)
app.add_typer(apikeys_app, name="apikeys")
console = Console()


def _session() -> Session:
    engine = get_engine()
    try:
        migrate.ensure_migrated(engine)
    except migrate.DatabaseNotMigrated as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    return Session(engine, expire_on_commit=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the configured database to the newest schema (or REVISION)."""
    migrate.upgrade(get_settings().database_url, revision)
    console.print(f"database at {revision}")


@app.command()
def seed() -> None:
    """Load Hue's divisions, categories, units, routing rules and demo users (idempotent)."""
    from reflections.seed.loader import seed as load

    with _session() as session:
        report = load(session, demo_password=get_settings().demo_password)
    created = ", ".join(f"{table} {n}" for table, n in report.created.items() if n) or "nothing"
    console.print(f"seeded: created {created}")
    for username, password in report.demo_passwords.items():
        console.print(f"  demo user [bold]{username}[/bold] password: {password}")
    if report.demo_passwords:
        console.print("These passwords are shown only now.")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="The user's role.")],
    full_name: Annotated[str, typer.Option(help="Name shown to colleagues.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    handling_unit: Annotated[
        list[str] | None, typer.Option(help="Code of a handling unit the user belongs to.")
    ] = None,
    area: Annotated[
        list[str] | None, typer.Option(help="Code of an administrative unit supervised.")
    ] = None,
) -> None:
    """Create a staff user with a role and unit memberships."""
    from reflections.users import UserError, create_user

    with _session() as session:
        try:
            user = create_user(
                session, username, full_name, role, password, handling_unit or [], area or []
            )
        except UserError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    console.print(f"created {user.role} {user.username} with {len(memberships)} membership(s)")


@users_app.command("list")
def users_list() -> None:
    """List staff users and their roles."""
    with _session() as session:
        for user in session.exec(select(User).order_by(User.username)):
            state = " (disabled)" if user.disabled else ""
            console.print(f"{user.username:24} {user.role:12} {user.full_name}{state}")


@apikeys_app.command("create")
def apikeys_create(name: str) -> None:
    """Create a key for a service client; the key is printed only now (it is stored hashed)."""
    from reflections.auth import create_api_key

    with _session() as session:
        try:
            row, key = create_api_key(session, name)
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
    console.print(f"created API key {row.name} (prefix {row.prefix}); it is shown only now:")
    typer.echo(key)  # plain and alone on its line, for scripts to capture


@apikeys_app.command("revoke")
def apikeys_revoke(name: str) -> None:
    """Revoke a key at once; its name and prefix stay listed."""
    from reflections.auth import revoke_api_key

    with _session() as session:
        try:
            row = revoke_api_key(session, name)
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
    console.print(f"revoked API key {row.name} (prefix {row.prefix})")


@apikeys_app.command("list")
def apikeys_list() -> None:
    """List keys: name, prefix, when created and when revoked (local time)."""
    from zoneinfo import ZoneInfo

    from reflections.models import ApiKey

    zone = ZoneInfo(get_settings().time_zone)
    with _session() as session:
        for row in session.exec(select(ApiKey).order_by(ApiKey.name)):
            created = f"{row.created_at.astimezone(zone):%Y-%m-%d %H:%M}"
            revoked = row.revoked_at and f"{row.revoked_at.astimezone(zone):%Y-%m-%d %H:%M}"
            state = f"revoked {revoked}" if revoked else "active"
            typer.echo(f"{row.name:32} {row.prefix:10} created {created}  {state}")


@app.command()
def demo(
    count: Annotated[int, typer.Option(min=0, help="How many reflections to submit.")] = 200,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 2019,
    tour: Annotated[
        bool, typer.Option(help="Also one reflection through every step that sends a message.")
    ] = False,
    deliver: Annotated[
        bool, typer.Option(help="Then deliver the messages through the configured channels.")
    ] = False,
) -> None:
    """Submit a realistic batch of reflections and drive a share of them through the lifecycle."""
    from reflections.demo import run_demo
    from reflections.demo_tour import run_tour

    with _session() as session, Progress(console=console) as progress:
        task = progress.add_task("reflections", total=count)
        outcome = run_demo(session, count, seed_value, on_each=lambda: progress.advance(task))
        toured = run_tour(session) if tour else None
    summary = ", ".join(f"{state} {n}" for state, n in sorted(outcome.items()))
    console.print(f"demo: {count} submitted; now {summary or 'nothing'}")
    if toured is not None:
        console.print(f"tour: {toured.processed} (every step), {toured.rejected} (rejected)")
    if deliver:
        _deliver(None, None, None)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind the API to.")] = None,
    port: Annotated[int | None, typer.Option(help="API port.")] = None,
    flows: Annotated[
        bool,
        typer.Option(
            "--flows/--no-flows",
            help="Also run a local Prefect server (SQLite under var/prefect) and the flows.",
        ),
    ] = True,
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server.")] = 4200,
) -> None:
    """Serve the API and, unless --no-flows, a local Prefect server and the scheduled flows."""
    from reflections.serve import StartupFailed, run

    _session().close()  # refuses to start on an un-migrated database
    try:
        run(host, port, flows=flows, prefect_port=prefect_port)
    except StartupFailed as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


sla_app = typer.Typer(help="Deadlines: drills and manual runs of the sweeps.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")


def _instant(at: str | None) -> datetime:
    if at is None:
        return clock.now()
    try:
        instant = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"{at!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:  # read as local time, as a trainer would type it
        instant = instant.replace(tzinfo=ZoneInfo(get_settings().time_zone))
    return instant


AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Act as of this instant, e.g. 2026-02-23T09:00 (local time)."),
]


@sla_app.command("sweep")
def sla_sweep(at: AtOption = None) -> None:
    """Remind and escalate what is due, as of now or of --at (a drill)."""
    from reflections.sla import sweep

    instant = _instant(at)
    with _session() as session, clock.frozen_at(instant):
        report = sweep(session, instant)
    local = ZoneInfo(get_settings().time_zone)
    console.print(f"sweep as of {instant.astimezone(local):%Y-%m-%d %H:%M %Z}")
    for reminder in report.reminders:
        due = reminder.due_at.astimezone(local)
        console.print(
            f"  reminded  {reminder.tracking_code}  {reminder.step} due {due:%Y-%m-%d %H:%M}"
        )
    for item in report.escalations:
        where = f"level {item.level} ({item.area_code})"
        console.print(f"  escalated {item.tracking_code}  {item.step} to {where}")
    console.print(f"{len(report.reminders)} reminded, {len(report.escalations)} escalated")


@sla_app.command("auto-confirm")
def sla_auto_confirm(at: AtOption = None) -> None:
    """Confirm processed reflections whose confirmation window closed."""
    from reflections.sla import auto_confirm

    instant = _instant(at)
    with _session() as session, clock.frozen_at(instant):
        confirmed = auto_confirm(session, instant)
    console.print(f"{len(confirmed)} auto-confirmed: {', '.join(confirmed) or '-'}")


outbox_app = typer.Typer(
    help="The notification outbox: dead letters, requeuing, dispatching by hand.",
    no_args_is_help=True,
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        list[OutboxStatus] | None,
        typer.Option(help="Repeat for several. Default: dead and failed_permanent."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest first, at most this many.")] = 50,
) -> None:
    """List outbox messages (by default the dead letters) with recipients masked."""
    from rich.table import Table

    from reflections import dead_letters

    statuses = status or dead_letters.UNDELIVERED
    zone = ZoneInfo(get_settings().time_zone)
    with _session() as session:
        page = dead_letters.list_messages(session, statuses, limit)
        counts = dead_letters.counts(session)
    table = Table(title=f"outbox: {', '.join(statuses)} (newest first)")
    for column in ("id", "reflection", "kind", "channel", "recipient", "status", "tries"):
        table.add_column(column, no_wrap=True, justify="right" if column == "tries" else "left")
    table.add_column("created", no_wrap=True)
    table.add_column("last error", overflow="fold")
    for item in page.items:
        table.add_row(
            str(item.id),
            item.tracking_code or "-",
            item.kind,
            item.channel,
            item.recipient,
            item.status,
            str(item.attempts),
            f"{item.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
            (item.last_error or "")[:200],
        )
    console.print(table)
    more = " (more: raise --limit)" if page.next_before_id is not None else ""
    console.print(f"{len(page.items)} shown{more}")
    console.print(", ".join(f"{s} {n}" for s, n in counts.by_status.items()))


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox message ids.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every dead and failed_permanent message.")
    ] = False,
) -> None:
    """Requeue dead or permanently failed messages, due at once (fix the cause first)."""
    from reflections import dead_letters

    if bool(ids) == everything:
        raise typer.BadParameter("give message ids or --all (one of the two)")
    with _session() as session:
        if everything:
            requeued, refused = dead_letters.requeue_all(session), []
        else:
            result = dead_letters.requeue(session, ids or [])
            requeued, refused = result.requeued, result.not_requeued
    console.print(f"requeued {len(requeued)}: {_ids(requeued)}")
    if refused:
        console.print(
            f"[red]not requeued (not dead or failed_permanent, or unknown): {_ids(refused)}"
        )
        raise typer.Exit(1)


def _ids(ids: list[int], shown: int = 100) -> str:
    listed = ", ".join(map(str, ids[:shown])) or "-"
    return listed + (f" … and {len(ids) - shown} more" if len(ids) > shown else "")


@outbox_app.command("dispatch")
def outbox_dispatch(
    at: AtOption = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Messages per batch (default: settings).")
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Repeat batches until one claims nothing.")
    ] = False,
) -> None:
    """Deliver due messages now through the configured channels (console if none)."""
    _deliver(_instant(at) if at is not None else None, batch_size, max_batches=None if drain else 1)


def _deliver(at: datetime | None, batch_size: int | None, max_batches: int | None) -> None:
    """Run the dispatcher as of ``at`` (a drill) or of each batch's own time, and say what
    became of the messages."""
    import asyncio

    from reflections.channels import configured_channels
    from reflections.outbox import drain_async

    size = batch_size or get_settings().outbox_batch_size
    with _session() as session:
        report = asyncio.run(drain_async(session, configured_channels(), at, size, max_batches))
    counts = ", ".join(f"{name} {n}" for name, n in report.counts().items() if n)
    console.print(f"delivered: {counts or 'nothing was due'}")


@app.command()
def diagram() -> None:
    """Print the lifecycle as Mermaid, as shown in the README."""
    from statemachines import mermaid_diagram

    print(mermaid_diagram())


@app.command()
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
    """Figures per unit, level, category and month (defined in reflections/reports.py)."""
    import json

    from reflections.lifecycle.errors import InvalidInput
    from reflections.report_tables import tables
    from reflections.reports import ReportQuery, build_report

    if output_format not in ("table", "json"):
        raise typer.BadParameter(f"--format is table or json, not {output_format!r}")
    try:
        query = ReportQuery.parse(
            month_from, month_to, group_by, handling_unit=unit, category=category, level=level
        )
        with _session() as session:
            result = build_report(session, query, _instant(at))
    except InvalidInput as error:
        raise typer.BadParameter(str(error)) from None
    if output_format == "json":
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    for table in tables(result):
        console.print(table)


export_app = typer.Typer(
    help="Exports of histories and reports for a period: CSV or JSON lines, streamed.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")
FormatOption = Annotated[str, typer.Option("--format", help="csv (with a header row) or jsonl.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout).")
]


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
    from reflections import exports
    from reflections.lifecycle.errors import InvalidInput

    try:
        chosen = exports.ExportFormat(export_format)
        period = exports.days(start.date(), end.date())
    except (ValueError, InvalidInput) as error:
        raise typer.BadParameter(str(error)) from None
    with _session() as session:
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
    from reflections import exports
    from reflections.lifecycle.errors import InvalidInput
    from reflections.reports import ReportQuery, build_report

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
        with _session() as session:
            report = build_report(session, query, _instant(at))
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


audit_app = typer.Typer(
    help="Tamper evidence: verify the history's hash chains and anchor them.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    reflection: Annotated[
        str | None, typer.Option(help="Only this reflection's timeline (a tracking code).")
    ] = None,
) -> None:
    """Check every timeline's hash chain and every anchor; exit 1 naming the first broken link."""
    from reflections import audit
    from reflections.models import Reflection

    with _session() as session:
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
    from reflections import audit

    instant = _instant(at)
    with _session() as session:
        anchored = audit.anchor(session, instant)
    if anchored is None:
        minutes = int(audit.SETTLE.total_seconds() // 60)
        typer.echo(f"nothing to anchor: every row older than {minutes} minutes is anchored")
        return
    typer.echo(
        f"anchor {anchored.id}: history ids {anchored.first_history_id}–"
        f"{anchored.last_history_id}, {anchored.row_count} rows, hash {anchored.hash}"
    )


if __name__ == "__main__":
    app()
