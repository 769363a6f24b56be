"""The demo with real channels (issue "Done when"): every lifecycle step's Vietnamese message
reaches an aiosmtpd SMTP server and Stoplight Prism serving Twilio's contract, through
``reflections demo --tour --deliver`` configured only by REFLECTIONS_* settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from notifications import render
from reflections.cli import app
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings
from reflections.seed import loader
from reflections.seed.demo_tour import CITIZEN_EMAIL
from tests.conftest import new_database
from tests.peers import free_port
from tests.test_notifications_smtp import RecordingHandler

CITIZEN_KINDS = [
    "received",
    "assigned",
    "extended",
    "processed",
    "reopened",
    "processed",
    "confirmed",
]
STAFF_KINDS = {"task_new", "task_reminder", "task_escalated"}


@pytest.fixture
def demo_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    for url in new_database(tmp_path):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
            loader.seed(session, demo_password="unused")
        try:
            yield url
        finally:
            get_engine(url).dispose()


@pytest.fixture
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    handler, port = RecordingHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _kinds_by_reflection(rows: list[OutboxMessage]) -> list[list[str]]:
    kinds: dict[int | None, list[str]] = {}
    for row in rows:
        kinds.setdefault(row.reflection_id, []).append(row.kind)
    return list(kinds.values())


def test_the_demo_delivers_every_steps_vietnamese_message_to_smtp_and_twilio(
    demo_database: str,
    smtp: tuple[RecordingHandler, int],
    prism_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, port = smtp
    for name, value in {
        "DATABASE_URL": demo_database,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_FROM": "Phản ánh hiện trường <no-reply@hue.example>",
        "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "TWILIO_AUTH_TOKEN": "demo-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_BASE_URL": prism_url,
        "SMS_PER_SECOND": "0",
    }.items():
        monkeypatch.setenv(f"REFLECTIONS_{name}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "--count", "3", "--tour", "--deliver"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output

    with Session(get_engine(demo_database)) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        assert rows and all(row.status is OutboxStatus.SENT for row in rows), [
            (row.kind, row.channel, row.last_error) for row in rows if row.status != "sent"
        ]
        citizen = [row for row in rows if row.recipient == CITIZEN_EMAIL]
        sms = [row for row in rows if row.channel == "sms" and row.recipient == "+84905123456"]

    # The citizen's email for every step, in Vietnamese, exactly as the templates render it.
    arrived = [item for item in handler.received if CITIZEN_EMAIL in item.rcpt_tos]
    subjects = [str(item.message["Subject"]) for item in arrived]
    expected = [render(row.kind, "vi", row.context).subject for row in citizen]
    assert subjects == expected
    assert _kinds_by_reflection(citizen) == [CITIZEN_KINDS, ["received", "rejected"]]
    assert {str(item.message["Content-Language"]) for item in arrived} == {"vi"}
    assert "Phản ánh" in subjects[0] or "phản ánh" in subjects[0]
    # The same steps by SMS, accepted by Prism under Twilio's contract (a SID each).
    assert _kinds_by_reflection(sms) == [CITIZEN_KINDS, ["received", "rejected"]]
    assert all((row.provider_id or "").startswith("SM") for row in sms)
    # Staff: the new task and the reminder to the unit, the escalation to the supervisors.
    staff_kinds = {row.kind for row in rows if row.kind in STAFF_KINDS}
    assert staff_kinds == STAFF_KINDS
    by_recipient = {
        (row.recipient, render(row.kind, row.language, row.context).subject)
        for row in rows
        if row.channel == "email"
    }
    arrived_all = {(item.rcpt_tos[0], str(item.message["Subject"])) for item in handler.received}
    assert arrived_all == by_recipient  # long Vietnamese subjects keep their spaces
    assert any("Nhắc việc: sắp đến hạn xử lý" in subject for _, subject in arrived_all)
