"""The `reflections` command line: set-up, users, seeding, the demo, serving, drills,
the outbox, reports, exports and the audit chain; one module per command group."""

import typer

from reflections.cli import calendar, deadlines, outbox, oversight, running, setup

app = typer.Typer(help="Reflections: the citizen-feedback workflow engine.", no_args_is_help=True)
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

if __name__ == "__main__":
    app()
