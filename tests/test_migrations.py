"""Migrations build the models' schema from empty, and the service refuses an old database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from reflections.models.metadata import metadata
from reflections.platform import migrate
from reflections.platform.db import get_engine


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


def test_upgrade_keeps_existing_reflections(fresh_database_url: str) -> None:
    """A schema change on a database in use: rows survive, foreign keys and all."""
    from sqlmodel import Session, select

    from reflections.actors import Actor
    from reflections.lifecycle.intake import Submission, submit
    from reflections.models import Reflection

    migrate.upgrade(fresh_database_url, FIRST_API_REVISION)
    engine = get_engine(fresh_database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO reflections (tracking_code, secret_hash, description, address,"
            " submitted_via, state, escalation_level, extension_pending, reopen_count, version,"
            " created_at, updated_at) VALUES ('OLD1-OLD1', 'h', 'Ổ gà', 'Lê Lợi', 'app',"
            " 'received', 0, false, 0, 1, '2025-03-01 01:00:00', '2025-03-01 01:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO history_events (reflection_id, seq, event, to_state, actor_role,"
            " payload, occurred_at, hash) SELECT id, 1, 'submit', 'received', 'citizen', '{}',"
            " created_at, 'x' FROM reflections"
        )
    migrate.upgrade(fresh_database_url)
    migrate.ensure_migrated(engine)
    with Session(engine) as session:
        old = session.exec(select(Reflection).where(Reflection.tracking_code == "OLD1-OLD1")).one()
        assert (old.step_escalations, old.step_reminded) == (0, False)
        submit(session, Submission(description="Mới", address="Hùng Vương"), Actor.citizen())


FIRST_API_REVISION = "3b7fd2b68327"
