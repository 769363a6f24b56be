"""Migrations build the models' schema from empty, and the service refuses an old database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from reflections import migrate
from reflections.db import get_engine
from reflections.models.metadata import metadata


def test_upgrade_from_empty_matches_the_models(fresh_database_url: str) -> None:
    migrate.upgrade(fresh_database_url)
    engine = get_engine(fresh_database_url)
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), metadata
        )
    assert differences == []
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    migrate.ensure_migrated(engine)  # does not raise


def test_unmigrated_database_is_refused_with_the_command(fresh_database_url: str) -> None:
    with pytest.raises(migrate.DatabaseNotMigrated, match="reflections db upgrade"):
        migrate.ensure_migrated(get_engine(fresh_database_url))
