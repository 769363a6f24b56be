"""`reflections outbox`: dead letters listed and requeued, the dispatcher run by hand.

The database is shared by the session: other tests leave outbox rows, and ``dispatch --drain``
delivers theirs too (to the console file here), so assertions look at this file's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session
from typer.testing import CliRunner, Result

from notifications import render
from reflections import cli
from reflections.cli import outbox as outbox_commands
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.test_outbox_admin import EMAIL, PHONE, outbox_row, status_of


def invoke(*args: str) -> Result:
    """The CLI reads REFLECTIONS_DATABASE_URL, which ``database_url`` set for the session."""
    return CliRunner().invoke(cli.app, ["outbox", *args])


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Tables as wide as they need to be (CliRunner is no terminal: 80 columns)."""
    monkeypatch.setattr(outbox_commands, "console", Console(width=250))


@pytest.fixture
def notifications_file(tmp_path: Path) -> Iterator[Path]:
    """The console channel writes here for the test; settings as they were afterwards."""
    path = tmp_path / "notifications.txt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFLECTIONS_NOTIFICATIONS_FILE", str(path))
        get_settings.cache_clear()
        yield path
    get_settings.cache_clear()


def row(session: Session, row_id: int) -> OutboxMessage:
    session.expire_all()
    found = session.get(OutboxMessage, row_id)
    assert found is not None
    return found


def _by_id(output: str) -> dict[str, str]:
    """Each message's two lines (the one starting with its id, and who and why), by id."""
    lines = output.splitlines()
    return {
        line.split()[0]: line + "\n" + (lines[n + 1] if n + 1 < len(lines) else "")
        for n, line in enumerate(lines)
        if line.split() and line.split()[0].isdigit()
    }


def test_list_shows_dead_letters_masked(session: Session) -> None:
    dead = outbox_row(session, last_error=f"550 <{EMAIL}> unknown")
    failed = outbox_row(
        session, OutboxStatus.FAILED_PERMANENT, channel="sms", recipient=PHONE, last_error="21211"
    )
    sent = outbox_row(session, OutboxStatus.SENT)

    listed = invoke("list", "--limit", "200")
    assert listed.exit_code == 0, listed.output
    lines = _by_id(listed.output)
    assert {str(dead), str(failed)} <= set(lines)
    assert all(len(line) <= 80 for line in listed.output.splitlines())  # an 80-column terminal
    assert str(sent) not in lines
    assert "n***@example.com" in lines[str(dead)]
    assert "550 <n***@example.com> unknown" in lines[str(dead)]
    assert "+84*******56" in lines[str(failed)]
    assert "failed_permanent" in lines[str(failed)]
    assert EMAIL not in listed.output
    assert PHONE not in listed.output
    assert "dead " in listed.output.splitlines()[-1]  # the counts per status


def test_list_filters_by_status(session: Session) -> None:
    dead = outbox_row(session)
    sent = outbox_row(session, OutboxStatus.SENT)
    listed = invoke("list", "--status", "sent", "--limit", "200")
    assert listed.exit_code == 0, listed.output
    assert str(sent) in _by_id(listed.output) and str(dead) not in _by_id(listed.output)
    refused = invoke("list", "--status", "lost")
    assert refused.exit_code == 2
    assert "lost" in refused.output


def test_retry_requeues_the_given_dead_letters(session: Session) -> None:
    dead = outbox_row(session)
    failed = outbox_row(session, OutboxStatus.FAILED_PERMANENT)
    sent = outbox_row(session, OutboxStatus.SENT)

    result = invoke("retry", str(dead), str(failed))
    assert result.exit_code == 0, result.output
    assert f"requeued 2: {dead}, {failed}" in result.output
    assert row(session, dead).status is OutboxStatus.PENDING
    assert row(session, dead).attempts == 0
    assert row(session, failed).status is OutboxStatus.PENDING

    refused = invoke("retry", str(sent), "2147483647")
    assert refused.exit_code == 1
    assert "requeued 0" in refused.output
    assert f"not requeued (not dead or failed_permanent, or unknown): {sent}, 2147483647" in (
        refused.output.replace("\n", " ")
    )
    assert status_of(session, sent) is OutboxStatus.SENT


def test_retry_all(session: Session) -> None:
    dead = [outbox_row(session), outbox_row(session, OutboxStatus.FAILED_PERMANENT)]
    result = invoke("retry", "--all")
    assert result.exit_code == 0, result.output
    assert all(row(session, row_id).status is OutboxStatus.PENDING for row_id in dead)
    assert all(str(row_id) in result.output for row_id in dead)


@pytest.mark.parametrize("args", [(), ("--all", "1")])
def test_retry_needs_ids_or_all(args: tuple[str, ...]) -> None:
    result = invoke("retry", *args)
    assert result.exit_code == 2
    assert "ids or --all" in result.output


def test_dispatch_drain_delivers_to_the_console_file(
    session: Session, notifications_file: Path
) -> None:
    first = outbox_row(session)
    second = outbox_row(session, OutboxStatus.PENDING, channel="sms", recipient=PHONE)
    assert invoke("retry", str(first)).exit_code == 0

    result = invoke("dispatch", "--drain", "--batch-size", "1")
    assert result.exit_code == 0, result.output
    counts = result.output.partition("delivered: ")[2]
    assert int(counts.split("sent ")[1].split(",")[0]) >= 2  # one a batch, drained
    written = notifications_file.read_text(encoding="utf-8")
    for row_id in (first, second):
        message = row(session, row_id)
        assert message.status is OutboxStatus.SENT
        assert message.provider_id == f"console:{message.idempotency_key}"
        text = render(message.kind, message.language, message.context)
        assert (text.sms if message.channel == "sms" else text.text) in written
        assert message.idempotency_key in written

    again = invoke("dispatch")
    assert again.exit_code == 0, again.output
    assert "delivered: nothing was due" in again.output


def test_dispatch_as_of_a_later_instant(session: Session, notifications_file: Path) -> None:
    later = outbox_row(session, OutboxStatus.PENDING)
    waiting = row(session, later)
    waiting.next_attempt_at = clock.now() + timedelta(hours=2)
    session.add(waiting)
    session.commit()

    assert invoke("dispatch", "--drain").exit_code == 0
    assert row(session, later).status is OutboxStatus.PENDING
    at = (clock.now() + timedelta(hours=3)).isoformat()
    result = invoke("dispatch", "--at", at)
    assert result.exit_code == 0, result.output
    message = row(session, later)
    assert message.status is OutboxStatus.SENT
    assert message.sent_at is not None
    assert message.sent_at > clock.now() + timedelta(hours=2)

    refused = invoke("dispatch", "--at", "next monday")
    assert refused.exit_code == 2
    assert "ISO 8601" in refused.output
