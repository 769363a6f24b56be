"""``reflections backup`` while the service writes, and ``reflections restore`` into an empty
database followed by the audit check: nothing acknowledged before the backup is missing."""

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.models import HistoryEvent, OutboxMessage, Reflection
from reflections.platform import migrate
from reflections.platform.backup import BackupFailed, backup
from reflections.platform.db import get_engine
from reflections.seed import loader
from tests.conftest import new_database

REFLECTIONS = str(Path(__file__).parents[1] / ".venv" / "bin" / "reflections")


@pytest.fixture
def source(tmp_path: Path) -> Iterator[str]:
    """A migrated, seeded database of the test's own (passwords not hashed: speed)."""
    for url in new_database(tmp_path / "source"):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")
            loader.seed(session, demo_password="unused")
        yield url
        get_engine(url).dispose()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    for url in new_database(tmp_path / "target"):
        yield url
        get_engine(url).dispose()


def cli(url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFLECTIONS, *arguments],
        env=os.environ | {"REFLECTIONS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class Writers:
    """Citizens submitting through the one intake service, each answer noted when committed."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url, self.stop = url, threading.Event()
        self.committed: list[tuple[float, str]] = []
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self.write, args=(n,)) for n in range(threads)]

    def write(self, number: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            submission = Submission(
                description=f"Ống nước vỡ, người viết {number}, lần {count}",
                address="Lê Duẩn",
                reporter_phone="0905 000 111",
            )
            try:
                with Session(get_engine(self.url), expire_on_commit=False) as session:
                    code = submit(session, submission, Actor.citizen()).reflection.tracking_code
            except Exception as error:  # SQLite's writer lock under contention: try again
                if "locked" not in str(error):
                    self.errors.append(error)
                continue
            self.committed.append((time.monotonic(), code))

    def __enter__(self) -> "Writers":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def test_a_backup_under_writes_restores_everything_acknowledged_before_it(
    source: str, target: str, tmp_path: Path
) -> None:
    path = tmp_path / "city.backup"
    with Writers(source) as writers:
        time.sleep(0.5)
        started = time.monotonic()
        written = backup(source, path)
        finished = time.monotonic()
        time.sleep(0.3)  # writes go on after it, too
    assert not writers.errors, writers.errors
    before = {code for at, code in writers.committed if at < started}
    after = {code for at, code in writers.committed if at > finished}
    assert before and after and written.size > 0

    restored = cli(target, "restore", str(path))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "chain intact" in restored.stdout
    with Session(get_engine(target)) as session:
        codes = set(session.exec(select(Reflection.tracking_code)).all())
        assert before <= codes  # nothing acknowledged before the backup is lost
        assert codes <= {code for _, code in writers.committed}
        assert not codes & after  # a snapshot: nothing written after it finished
        without_history = session.exec(
            select(func.count())
            .select_from(Reflection)
            .where(~col(Reflection.id).in_(select(HistoryEvent.reflection_id)))
        ).one()
        without_message = session.exec(
            select(func.count())
            .select_from(Reflection)
            .where(~col(Reflection.id).in_(select(OutboxMessage.reflection_id)))
        ).one()
    assert (without_history, without_message) == (0, 0)  # each whole, with its history


def test_restore_refuses_a_database_in_use_and_changes_nothing(source: str, tmp_path: Path) -> None:
    path = tmp_path / "city.backup"
    backup(source, path)
    with Session(get_engine(source)) as session:
        submit(session, Submission(description="Mất điện", address="Huế"), Actor.citizen())
        before = session.exec(select(func.count()).select_from(Reflection)).one()
    refused = cli(source, "restore", str(path))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "new, empty database" in refused.stderr
    with Session(get_engine(source)) as session:
        assert session.exec(select(func.count()).select_from(Reflection)).one() == before


def test_restore_refuses_what_is_not_a_backup(target: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a backup")
    refused = cli(target, "restore", str(path))
    assert refused.returncode == 1 and "not a backup made by" in refused.stderr


def test_backup_of_an_unreachable_server_says_why(tmp_path: Path) -> None:
    url = "postgresql+psycopg://reflections:hunter2@127.0.0.1:9/city"
    with pytest.raises(BackupFailed, match=r"pg_dump failed on .*\*\*\*") as failed:
        backup(url, tmp_path / "x.backup")
    assert "hunter2" not in str(failed.value)
    assert not (tmp_path / "x.backup").exists()
