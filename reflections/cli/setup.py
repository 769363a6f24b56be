"""Set-up: the schema, seed data, staff users and service clients' API keys."""

from typing import Annotated

import typer
from sqlmodel import select

from reflections.cli.common import console, open_session
from reflections.models import Membership, User
from reflections.models.enums import Role
from reflections.platform import migrate
from reflections.platform.settings import get_settings

# What each role would miss without an email or phone.
MESSAGED_ROLES = {
    Role.HANDLER: "new tasks, reminders, the morning digest",
    Role.SUPERVISOR: "escalations",
    Role.COORDINATOR: "reminders to classify, emergencies at any hour",
    Role.OPERATOR: "emergencies at any hour",
    Role.ADMIN: "the admin digest of warnings",
}

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff users.", no_args_is_help=True)
apikeys_app = typer.Typer(help="API keys of service clients (Open311 apps).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the configured database to the newest schema (or REVISION)."""
    migrate.upgrade(get_settings().database_url, revision)
    console.print(f"database at {revision}")


def seed() -> None:
    """Load Hue's divisions, categories, units, routing rules and demo users (idempotent)."""
    from reflections.seed.loader import seed as load

    with open_session() as session:
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
    email: Annotated[str | None, typer.Option(help="Where messages go (the default).")] = None,
    phone: Annotated[
        str | None, typer.Option(help="For SMS, e.g. 0905 123 456; used when no email.")
    ] = None,
) -> None:
    """Create a staff user with a role, unit memberships and where their messages go."""
    from reflections.errors import InvalidInput
    from reflections.messaging.contacts import normalise_email, normalise_phone
    from reflections.organisation.users import UserError, create_user

    try:
        address = normalise_email(email, "--email") if email else None
        number = normalise_phone(phone, "--phone") if phone else None
    except InvalidInput as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    with open_session() as session:
        try:
            user = create_user(
                session,
                username,
                full_name,
                role,
                password,
                handling_unit or [],
                area or [],
                email=address,
                phone=number,
            )
        except UserError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    console.print(f"created {user.role} {user.username} with {len(memberships)} membership(s)")
    if role in MESSAGED_ROLES and not (address or number):
        console.print(
            f"[yellow]{user.username} has no email or phone and will get no messages "
            f"({role} messages: {MESSAGED_ROLES[role]}); set one with the admin API.[/yellow]"
        )


@users_app.command("list")
def users_list() -> None:
    """List staff users and their roles."""
    with open_session() as session:
        for user in session.exec(select(User).order_by(User.username)):
            state = " (disabled)" if user.disabled else ""
            console.print(f"{user.username:24} {user.role:12} {user.full_name}{state}")


@apikeys_app.command("create")
def apikeys_create(name: str) -> None:
    """Create a key for a service client; the key is printed only now (it is stored hashed)."""
    from reflections.organisation.auth import create_api_key

    with open_session() as session:
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
    from reflections.organisation.auth import revoke_api_key

    with open_session() as session:
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
    with open_session() as session:
        for row in session.exec(select(ApiKey).order_by(ApiKey.name)):
            created = f"{row.created_at.astimezone(zone):%Y-%m-%d %H:%M}"
            revoked = row.revoked_at and f"{row.revoked_at.astimezone(zone):%Y-%m-%d %H:%M}"
            state = f"revoked {revoked}" if revoked else "active"
            typer.echo(f"{row.name:32} {row.prefix:10} created {created}  {state}")
