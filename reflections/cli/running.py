"""Running the product: serving it, the demo data, and the lifecycle diagram."""

from typing import Annotated

import typer
from rich.progress import Progress

from reflections.cli import outbox
from reflections.cli.common import console, open_session
from reflections.platform.db import DATABASE_FAULTS, describe_failure, masked_url


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
    from reflections.seed.demo import run_demo
    from reflections.seed.demo_tour import run_tour

    with open_session() as session, Progress(console=console) as progress:
        task = progress.add_task("reflections", total=count)
        outcome = run_demo(session, count, seed_value, on_each=lambda: progress.advance(task))
        toured = run_tour(session) if tour else None
    summary = ", ".join(f"{state} {n}" for state, n in sorted(outcome.items()))
    console.print(f"demo: {count} submitted; now {summary or 'nothing'}")
    if toured is not None:
        console.print(f"tour: {toured.processed} (every step), {toured.rejected} (rejected)")
    if deliver:
        outbox.deliver(None, None, None)


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
    from runtime.serve import StartupFailed, run

    try:
        open_session().close()  # refuses to start on an un-migrated database
    except DATABASE_FAULTS as error:  # the API waits for it, and says so at /readyz
        console.print(f"database {masked_url()} unreachable ({describe_failure(error)}); waiting")
    try:
        run(host, port, flows=flows, prefect_port=prefect_port)
    except StartupFailed as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


def diagram() -> None:
    """Print the lifecycle as Mermaid, as shown in the README."""
    from statemachines import mermaid_diagram

    print(mermaid_diagram())
