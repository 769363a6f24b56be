"""``reflections backup`` and ``reflections restore``: the operator's copies of the database."""

from pathlib import Path
from typing import Annotated

import typer

from reflections.platform.backup import BackupFailed, backup, restore
from reflections.platform.db import masked_url
from reflections.platform.settings import get_settings


def backup_command(
    path: Annotated[Path, typer.Argument(help="Where to write the backup (replaced if there).")],
) -> None:
    """A consistent copy of the configured database, taken while the service runs."""
    try:
        written = backup(get_settings().database_url, path)
    except BackupFailed as error:
        typer.echo(f"reflections: {error}", err=True)  # one line, unwrapped
        raise typer.Exit(1) from None
    typer.echo(f"backed up {masked_url()} to {written.path} ({written.size} bytes, {written.kind})")


def restore_command(
    path: Annotated[Path, typer.Argument(help="A file written by `reflections backup`.")],
) -> None:
    """Load a backup into the configured database, which must be empty; then verify the audit
    chain of what was restored (exit 1 if it is broken)."""
    from reflections.cli.oversight import audit_verify

    if not path.is_file():
        typer.echo(f"reflections: no backup at {path}", err=True)
        raise typer.Exit(2)
    try:
        restore(get_settings().database_url, path)
    except BackupFailed as error:
        typer.echo(f"reflections: {error}", err=True)  # one line, unwrapped
        raise typer.Exit(1) from None
    typer.echo(f"restored {path} into {masked_url()}; verifying the audit chain")
    audit_verify(reflection=None)
