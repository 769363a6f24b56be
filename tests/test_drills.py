"""Drills never write into live data, and the CLI sweep drains (DESIGN.md §10).

Each test has a database of its own (a sweep acts on every due reflection of its database):
a SQLite file, or a PostgreSQL database when the suite runs there. After a drill the live
database is compared byte for byte (SQLite) or row for row, table by table (PostgreSQL).
"""

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from reflections.actors import Actor
from reflections.cli import app as cli
from reflections.lifecycle import drill_guard, drills, sla
from reflections.lifecycle.intake import Submission, submit
from reflections.models import DrillCopy, HistoryEvent, OutboxMessage, Reflection
from reflections.models.metadata import metadata
from reflections.platform import clock, copies, migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed import loader

runner = CliRunner()


@pytest.fixture
def live_url(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A seeded database with a few reflections, configured as *the* database for the CLI."""
    migrate.upgrade(fresh_database_url)
    monkeypatch.setattr(loader, "hash_password", lambda password: "not-a-hash")
    with Session(get_engine(fresh_database_url)) as session:
        loader.seed(session, demo_password="unused")
    monkeypatch.setenv("REFLECTIONS_DATABASE_URL", fresh_database_url)
    get_settings.cache_clear()
    reset_engines()
    yield fresh_database_url
    for url in copies.copies_of(fresh_database_url):
        copies.drop_copy(url)
    get_engine(fresh_database_url).dispose()
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engines()


def _submit(url: str, count: int, at: datetime) -> list[str]:
    with Session(get_engine(url)) as session, clock.frozen_at(at):
        return [
            submit(
                session,
                Submission(description=f"Ổ gà số {n}", address="Lê Duẩn"),
                Actor.citizen(),
            ).reflection.tracking_code
            for n in range(count)
        ]


def _state_of(url: str) -> Any:
    """SQLite: the file's bytes, with anything written since folded in from the write-ahead
    log first. PostgreSQL: every row of every table, in primary-key order."""
    get_engine(url).dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return hashlib.sha256(path.read_bytes()).hexdigest()
    rows = {}
    with get_engine(url).connect() as connection:
        for table in metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            rows[table.name] = connection.execute(
                table.select().order_by(*(table.c[k] for k in keys))
            ).all()
        rows["alembic_version"] = connection.execute(text("SELECT * FROM alembic_version")).all()
        assert set(rows) >= set(inspect(connection).get_table_names())
    get_engine(url).dispose()
    return rows


def test_a_drill_leaves_the_live_database_exactly_as_it_was(live_url: str) -> None:
    codes = _submit(live_url, 3, clock.now() - timedelta(hours=1))
    before = _state_of(live_url)
    next_week = clock.now() + timedelta(days=7)
    at = next_week.astimezone().strftime("%Y-%m-%dT%H:%M%z")
    result = runner.invoke(cli, ["sla", "sweep", "--at", at], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "drill on a copy of the database:" in result.output
    assert "the live database is not touched" in result.output
    assert "3 reminded, 3 escalated" in result.output
    assert "task_escalated" in result.output  # what would go out, queued on the copy only
    since = clock.now().astimezone().strftime("%Y-%m-%dT%H:%M%z")
    trained = runner.invoke(cli, ["sla", "replay", "--from", since, "--days", "2"])
    assert trained.exit_code == 0, trained.output
    assert "replayed" in trained.output

    assert _state_of(live_url) == before  # not a byte, not a row changed

    made = {}
    for url in copies.copies_of(live_url):
        with Session(get_engine(url)) as copy:
            made[copy.exec(select(DrillCopy.purpose)).one().split(" of")[0]] = url
    assert set(made) == {"sla sweep as", "training replay"}
    with Session(get_engine(made["sla sweep as"])) as copy:
        drilled = copy.exec(
            select(Reflection).where(col(Reflection.tracking_code).in_(codes))
        ).all()
        assert {r.escalation_level for r in drilled} == {1}
        escalated = copy.exec(select(HistoryEvent).where(HistoryEvent.event == "escalate")).all()
        assert {row.occurred_at for row in escalated} == {
            next_week.replace(second=0, microsecond=0)
        }
        assert copy.exec(select(OutboxMessage).where(OutboxMessage.status != "pending")).all() == []
    listed = runner.invoke(cli, ["sla", "copies"])
    assert "2 drill copies" in listed.output
    dropped = runner.invoke(cli, ["sla", "copies", "--drop"])
    assert dropped.exit_code == 0 and copies.copies_of(live_url) == []
    assert _state_of(live_url) == before


def test_the_live_database_refuses_a_sweep_in_the_future(live_url: str) -> None:
    _submit(live_url, 1, clock.now() - timedelta(hours=1))
    before = _state_of(live_url)
    tomorrow = clock.wall_now() + timedelta(days=1)
    with Session(get_engine(live_url)) as session:
        with pytest.raises(drill_guard.DrillRefused, match="copy of the database"):
            sla.sweep(session, tomorrow)
        with pytest.raises(drill_guard.DrillRefused):
            sla.auto_confirm(session, tomorrow)
        with pytest.raises(drill_guard.DrillRefused):
            sla.drain(session, tomorrow)
    assert _state_of(live_url) == before
    # A few minutes of clock skew are allowed on the live database.
    with Session(get_engine(live_url)) as session:
        sla.sweep(session, clock.wall_now() + drill_guard.LIVE_TOLERANCE - timedelta(seconds=5))
    # On a copy the future is allowed.
    copy = drills.make_copy(live_url, "test")
    with drills.session_on(copy) as session:
        assert drill_guard.is_copy(session)
        assert sla.sweep(session, tomorrow).claimed == 1
    copies.drop_copy(copy.url)


def test_the_cli_sweep_drains_in_batches_and_prints_totals(live_url: str) -> None:
    _submit(live_url, 7, clock.now() - timedelta(days=3))
    result = runner.invoke(cli, ["sla", "sweep", "--batch-size", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # Each overdue case is reminded and escalated once: 7 due, drained in 3 batches + 1 empty.
    assert "7 reminded, 7 escalated: 7 due, 4 batch(es) of up to 3" in result.output
    again = runner.invoke(cli, ["sla", "sweep"])
    assert "0 reminded, 0 escalated: 0 due" in again.output


def test_a_drain_stops_at_its_time_bound_and_says_what_is_left(live_url: str) -> None:
    _submit(live_url, 5, clock.now() - timedelta(days=3))
    with Session(get_engine(live_url)) as session:
        now = clock.now()
        assert sla.due_count(session, now) == 5
        stopped = sla.drain(session, now, batch_size=2, max_seconds=0)
        assert (stopped.batches, stopped.complete, len(stopped.reminders)) == (1, False, 2)
        finished = sla.drain(session, now, batch_size=2)
        assert finished.complete and len(finished.reminders) == 3
        assert sla.due_count(session, now) == 0


def test_databases_that_begin_alike_do_not_share_copies() -> None:
    """Copy names keep 30 characters of the live name: longer names that begin alike (a test
    run's scratch databases, a city's yearly databases) get a hash of the whole name instead,
    so one database's list of copies never holds another's."""
    first, second = "reflections_production_hue_2026", "reflections_production_hue_2027"
    assert not copies._pg_prefix(first).startswith(copies._pg_prefix(second))
    assert not copies._pg_prefix(second).startswith(copies._pg_prefix(first))
    assert copies._pg_prefix("reflections") == "reflections_drill_"  # short names as before
    longest = copies._pg_prefix("x" * 63) + "20261207094535ef72"
    assert len(longest) <= 63  # PostgreSQL's identifier limit
