"""Schema migrations, and the check that refuses to run on an un-migrated database."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations

UPGRADE_COMMAND = "reflections db upgrade"


class DatabaseNotMigrated(RuntimeError):
    pass


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def ensure_migrated(engine: Engine) -> None:
    """Raise with the command to run unless the database is at the newest revision."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        where = engine.url.render_as_string(hide_password=True)
        state = ", ".join(sorted(current)) or "empty"
        raise DatabaseNotMigrated(
            f"The database {where} is not migrated (at: {state}; needs: {', '.join(heads)}). "
            f"Run `{UPGRADE_COMMAND}` first."
        )
