"""The notification outbox: dead letters, requeuing, dispatching by hand."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from reflections.cli.common import AtOption, console, instant_or_now, open_session
from reflections.models import OutboxStatus
from reflections.platform.settings import get_settings

outbox_app = typer.Typer(
    help="The notification outbox: dead letters, requeuing, dispatching by hand.",
    no_args_is_help=True,
)


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        list[OutboxStatus] | None,
        typer.Option(help="Repeat for several. Default: dead and failed_permanent."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest first, at most this many.")] = 50,
) -> None:
    """List outbox messages (by default the dead letters) with recipients masked: one line per
    message with the id `outbox retry` takes, then who and why on the next, within 80 columns."""
    import textwrap

    from reflections.messaging import dead_letters

    statuses = status or dead_letters.UNDELIVERED
    zone = ZoneInfo(get_settings().time_zone)
    with open_session() as session:
        page = dead_letters.list_messages(session, statuses, limit)
        counts = dead_letters.counts(session)
    typer.echo(f"Outbox messages {', '.join(statuses)}, newest first (times: {zone.key}):")
    typer.echo(f"{'id':>7}  {'reflection':<10} {'kind':<19} {'status':<16} {'tries':>5}  created")
    for item in page.items:
        created = item.created_at.astimezone(zone)
        typer.echo(
            f"{item.id:>7}  {item.tracking_code or '-':<10} {item.kind[:19]:<19} "
            f"{item.status:<16} {item.attempts:>5}  {created:%d/%m %H:%M}"
        )
        detail = f"{item.channel} to {item.recipient}"
        if item.last_error:
            detail += f": {item.last_error[:300]}"
        for line in textwrap.wrap(detail, width=71):
            typer.echo(f"{'':9}{line}")
    more = " (more: raise --limit)" if page.next_before_id is not None else ""
    typer.echo(f"Shown: {len(page.items)}{more}")
    typer.echo(", ".join(f"{s} {n}" for s, n in counts.by_status.items()))


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox message ids.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every dead and failed_permanent message.")
    ] = False,
) -> None:
    """Requeue dead or permanently failed messages, due at once (fix the cause first)."""
    from reflections.messaging import dead_letters

    if bool(ids) == everything:
        raise typer.BadParameter("give message ids or --all (one of the two)")
    with open_session() as session:
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
    deliver(
        instant_or_now(at) if at is not None else None, batch_size, max_batches=None if drain else 1
    )


def deliver(at: datetime | None, batch_size: int | None, max_batches: int | None) -> None:
    """Run the dispatcher as of ``at`` (a drill) or of each batch's own time, and say what
    became of the messages."""
    import asyncio

    from reflections.messaging.channels import configured_channels
    from reflections.messaging.dispatcher import drain_async

    size = batch_size or get_settings().outbox_batch_size
    with open_session() as session:
        report = asyncio.run(drain_async(session, configured_channels(), at, size, max_batches))
    counts = ", ".join(f"{name} {n}" for name, n in report.counts().items() if n)
    console.print(f"delivered: {counts or 'nothing was due'}")
