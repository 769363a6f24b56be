"""The `reflections` command line: set-up, users, seeding, the demo, serving, drills,
the outbox, reports, exports and the audit chain; one module per command group."""

import sys
from typing import Any

import typer

from reflections.cli import (
    backups,
    calendar,
    deadlines,
    outbox,
    oversight,
    running,
    setup,
    storage,
)
from reflections.platform.db import DATABASE_FAULTS, describe_failure, masked_url


class _Command(typer.Typer):
    """A database the command cannot reach is one line naming it (password hidden) and why,
    and exit status 2, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except DATABASE_FAULTS as error:
            print(
                f"reflections: cannot use the database {masked_url()}: {describe_failure(error)}",
                file=sys.stderr,
            )
            sys.exit(2)


app = _Command(help="Reflections: the citizen-feedback workflow engine.", no_args_is_help=True)
app.add_typer(setup.db_app, name="db")
app.command()(setup.seed)
app.add_typer(setup.users_app, name="users")
app.add_typer(setup.apikeys_app, name="apikeys")
app.command()(running.demo)
app.command()(running.serve)
app.add_typer(deadlines.sla_app, name="sla")
app.add_typer(calendar.calendar_app, name="calendar")
app.add_typer(outbox.outbox_app, name="outbox")
app.command()(running.diagram)
app.command()(oversight.report)
app.add_typer(oversight.export_app, name="export")
app.add_typer(oversight.audit_app, name="audit")
app.command("backup")(backups.backup_command)
app.command("restore")(backups.restore_command)
app.add_typer(storage.storage_app, name="storage")

if __name__ == "__main__":
    app()
