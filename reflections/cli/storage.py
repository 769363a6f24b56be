"""``reflections storage``: where photos live, and moving them from a folder into a bucket."""

from typing import Annotated

import typer

from reflections.platform.settings import get_settings
from reflections.platform.storage import StorageError, Store, copy_all, open_store

storage_app = typer.Typer(help="Photo storage (REFLECTIONS_STORAGE_URL).", no_args_is_help=True)


def _store(url: str | None) -> Store:
    try:
        return open_store(url, get_settings())
    except StorageError as error:
        typer.echo(f"reflections: {error}", err=True)
        raise typer.Exit(2) from None


@storage_app.command("migrate")
def migrate(
    source: Annotated[
        str | None, typer.Option("--from", help="Default: the photos folder (attachments_dir).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--to", help="Default: REFLECTIONS_STORAGE_URL.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="One line per photo.")] = False,
) -> None:
    """Copy every photo of a folder store into a bucket (or any store), verifying each copy's
    SHA-256; photos already there are checked, not copied again, so it can run again after an
    interruption. Exit 1 if any photo is damaged or does not verify."""
    target = target or get_settings().storage_url
    if not target:
        typer.echo("reflections: no target: give --to or set REFLECTIONS_STORAGE_URL", err=True)
        raise typer.Exit(2)
    origin, destination = _store(source), _store(target)
    if origin.describe() == destination.describe():
        typer.echo(f"reflections: {origin.describe()} is both source and target", err=True)
        raise typer.Exit(2)

    def progress(name: str, outcome: str) -> None:
        if verbose or outcome not in ("copied", "present"):
            typer.echo(f"{name} {outcome}")

    report = copy_all(origin, destination, progress)
    typer.echo(
        f"{origin.describe()} -> {destination.describe()}: {report.copied} copied, "
        f"{report.present} already there, {len(report.failed)} failed"
    )
    if report.failed:
        raise typer.Exit(1)
