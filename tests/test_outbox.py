"""The transactional outbox: rows written with the change, delivered once (DESIGN.md §6).

Other tests share the database and leave pending rows of their own; every dispatch here also
delivers those (to this test's channels), so assertions look at this test's rows only.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from notifications import (
    Channel,
    ConsoleChannel,
    Message,
    OnOutcome,
    Outcome,
    SmtpChannel,
    SmtpConfig,
    render,
)
from reflections.actors import Actor
from reflections.errors import EventNotAllowed
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.messaging.dispatcher import (
    BACKOFF_CAP,
    MAX_ATTEMPTS,
    backoff,
    dispatch,
    retry_dead,
)
from reflections.messaging.outbox import staff_recipients
from reflections.models import (
    AdministrativeUnit,
    HandlingUnit,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Reflection,
    User,
)
from reflections.models.enums import Channel as ContactChannel
from reflections.models.enums import HandlingUnitKind, Language, LifecycleEvent, Priority, Role
from reflections.platform import clock
from tests.lifecycle_helpers import COORDINATOR, SYSTEM, citizen_of, handler_of, refs
from tests.test_notifications_smtp import RecordingHandler, free_port

E = LifecycleEvent
PHONE = "+84905123456"


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _submit(
    session: Session,
    email: str | None = None,
    phone: str | None = None,
    channels: tuple[ContactChannel, ...] = (),
    language: Language = Language.EN,
) -> Reflection:
    return submit(
        session,
        Submission(
            description="Cây đổ chắn đường Lê Lợi",
            address="1 Lê Lợi, Huế",
            reporter_name="Dân" if (email or phone) else None,
            reporter_email=email,
            reporter_phone=phone,
            channels=channels,
            language=language,
        ),
        Actor.citizen(),
    ).reflection


def _rows(session: Session, reflection: Reflection) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.reflection_id == reflection.id)
            .order_by(col(OutboxMessage.id))
        ).all()
    )


def _kinds(rows: Sequence[OutboxMessage]) -> list[tuple[str, str, str]]:
    return [(row.kind, row.channel, row.recipient) for row in rows]


def _user(session: Session, role: Role, email: str) -> User:
    user = User(
        username=f"obx-{_tag()}",
        full_name="Outbox Test",
        role=role,
        password_hash="x",
        email=email,
        language=Language.EN,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    return user


def _unit_with_handler(session: Session, email: str) -> HandlingUnit:
    r = refs(session)
    unit = HandlingUnit(
        code=f"obx-{_tag()}",
        name="Đội cây xanh thử",
        name_en="Test tree team",
        kind=HandlingUnitKind.TEAM,
        administrative_unit_id=r.administrative_unit_id,
    )
    session.add(unit)
    session.flush()
    handler = _user(session, Role.HANDLER, email)
    session.add(Membership(user_id=handler.id or 0, handling_unit_id=unit.id))
    session.commit()
    return unit


def _fire(
    session: Session,
    reflection: Reflection,
    event: LifecycleEvent,
    actor: Actor,
    data: EventInput | None = None,
) -> Reflection:
    assert reflection.id is not None
    return apply_event(session, reflection.id, event, actor, data)


def _classify_and_assign(
    session: Session, reflection: Reflection, unit: HandlingUnit
) -> Reflection:
    r = refs(session)
    reflection = _fire(
        session,
        reflection,
        E.CLASSIFY,
        COORDINATOR,
        EventInput(
            category_id=r.category_id,
            priority=Priority.NORMAL,
            administrative_unit_id=r.administrative_unit_id,
        ),
    )
    return _fire(session, reflection, E.ASSIGN, COORDINATOR, EventInput(handling_unit_id=unit.id))


# --- enqueue ---------------------------------------------------------------------------------


def test_the_lifecycle_writes_the_citizens_and_staffs_messages(session: Session) -> None:
    tag = _tag()
    citizen_email = f"dan-{tag}@example.com"
    handler_email = f"handler-{tag}@example.com"
    unit = _unit_with_handler(session, handler_email)
    reflection = _submit(session, email=citizen_email, phone=PHONE)
    code = reflection.tracking_code
    rows = _rows(session, reflection)
    assert _kinds(rows) == [("received", "sms", PHONE), ("received", "email", citizen_email)]
    assert rows[0].context["tracking_code"] == code
    assert rows[0].language == "en" and rows[0].status is OutboxStatus.PENDING

    reflection = _classify_and_assign(session, reflection, unit)
    new = _rows(session, reflection)[2:]
    assert _kinds(new) == [
        ("assigned", "sms", PHONE),
        ("assigned", "email", citizen_email),
        ("task_new", "email", handler_email),
    ]
    assert new[0].context["unit_name"] == "Test tree team"
    assert new[2].context["unit_name"] == "Test tree team" and new[2].context["due_at"]

    reflection = _fire(session, reflection, E.ACCEPT, handler_of(reflection))
    later = clock.now() + timedelta(days=5)
    reflection = _fire(
        session,
        reflection,
        E.REQUEST_EXTENSION,
        handler_of(reflection),
        EventInput(reason="chờ xe cẩu", new_due_at=later),
    )
    # Accepting tells no one; the request goes to the coordinators, who decide on it.
    requested = _rows(session, reflection)[5:]
    coordinators = session.exec(select(User).where(User.role == Role.COORDINATOR)).all()
    expected = {r.address for u in coordinators for r in staff_recipients(u)}  # their choices
    assert expected and {row.recipient for row in requested} == expected
    assert {row.kind for row in requested} == {"extension_requested"}
    assert requested[0].context["reason"] == "chờ xe cẩu"
    assert requested[0].context["requested_due_at"] != "—"
    shift = len(requested)
    reflection = _fire(session, reflection, E.GRANT_EXTENSION, COORDINATOR)
    extended = _rows(session, reflection)[5 + shift :]
    assert [row.kind for row in extended] == ["extended", "extended"]
    assert "," in extended[0].context["due_date"]  # "28 Nov 2026, 14:05": local, in English

    reflection = _fire(
        session, reflection, E.PROCESS, handler_of(reflection), EventInput(result="Đã dọn cây")
    )
    processed = _rows(session, reflection)[7 + shift :]
    assert [row.kind for row in processed] == ["processed", "processed"]
    assert processed[0].context["result"] == "Đã dọn cây"
    reflection = _fire(
        session, reflection, E.REOPEN, citizen_of(reflection), EventInput(reason="cây lại đổ")
    )
    reflection = _fire(
        session, reflection, E.PROCESS, handler_of(reflection), EventInput(result="Đã dọn hẳn")
    )
    reflection = _fire(session, reflection, E.CONFIRM, citizen_of(reflection), EventInput(rating=5))
    kinds = [row.kind for row in _rows(session, reflection)][9 + shift :]
    assert kinds == ["reopened"] * 2 + ["processed"] * 2 + ["confirmed"] * 2
    keys = [row.idempotency_key for row in _rows(session, reflection)]
    assert len(keys) == len(set(keys))
    assert all(
        isinstance(v, str) for row in _rows(session, reflection) for v in row.context.values()
    )
    # Every context renders with the templates as they are.
    for row in _rows(session, reflection):
        assert code in render(row.kind, row.language, row.context).text


def test_a_refused_event_writes_no_message(session: Session) -> None:
    reflection = _submit(session, email=f"dan-{_tag()}@example.com")
    before = _rows(session, reflection)
    with pytest.raises(EventNotAllowed):
        _fire(session, reflection, E.CONFIRM, citizen_of(reflection), EventInput(rating=5))
    assert _rows(session, reflection) == before
    assert len(before) == 1


def test_rejection_says_why_and_follows_the_chosen_channel(session: Session) -> None:
    email = f"dan-{_tag()}@example.com"
    reflection = _submit(session, email=email, phone=PHONE, channels=(ContactChannel.EMAIL,))
    reflection = _fire(
        session, reflection, E.REJECT, COORDINATOR, EventInput(reason="trùng phản ánh khác")
    )
    rows = _rows(session, reflection)
    assert _kinds(rows) == [("received", "email", email), ("rejected", "email", email)]
    assert rows[1].context["reason"] == "trùng phản ánh khác"


def test_no_contact_no_message(session: Session) -> None:
    reflection = _submit(session)
    reflection = _fire(session, reflection, E.REJECT, COORDINATOR, EventInput(reason="spam"))
    assert _rows(session, reflection) == []


def test_escalation_goes_to_the_areas_supervisors(session: Session) -> None:
    tag = _tag()
    unit = _unit_with_handler(session, f"handler-{tag}@example.com")
    r = refs(session)
    area = session.get(AdministrativeUnit, r.administrative_unit_id)
    assert area is not None and area.id is not None
    supervisor = _user(session, Role.SUPERVISOR, f"sup-{tag}@example.com")
    session.add(Membership(user_id=supervisor.id or 0, administrative_unit_id=area.id))
    session.commit()
    reflection = _classify_and_assign(session, _submit(session), unit)
    reflection = _fire(
        session, reflection, E.ESCALATE, SYSTEM, EventInput(administrative_unit_id=area.id)
    )
    escalated = [row for row in _rows(session, reflection) if row.kind == "task_escalated"]
    assert f"sup-{tag}@example.com" in [row.recipient for row in escalated]
    assert all(row.channel == "email" for row in escalated)


# --- dispatch --------------------------------------------------------------------------------


def _console() -> tuple[StringIO, dict[str, Channel]]:
    stream = StringIO()
    console = ConsoleChannel(stream=stream)
    return stream, {"email": console, "sms": console}


def _statuses(session: Session, reflection: Reflection) -> list[OutboxStatus]:
    return [row.status for row in _rows(session, reflection)]


BIG = 100_000  # one dispatch reaches every due row, whatever other tests left behind


def test_console_dispatch_delivers_once(session: Session) -> None:
    reflection = _submit(session, email=f"dan-{_tag()}@example.com", phone=PHONE)
    stream, channels = _console()
    report = dispatch(session, clock.now(), channels, batch_size=BIG)
    rows = _rows(session, reflection)
    assert {row.id for row in rows} <= set(report.sent)
    assert all(row.status is OutboxStatus.SENT and row.sent_at for row in rows)
    assert all(row.provider_id == f"console:{row.idempotency_key}" for row in rows)
    assert stream.getvalue().count(f"key: {rows[0].idempotency_key}\n") == 1
    again = dispatch(session, clock.now() + timedelta(hours=2), channels, batch_size=BIG)
    assert not {row.id for row in rows} & set(again.sent + again.skipped)
    assert stream.getvalue().count(f"key: {rows[0].idempotency_key}\n") == 1


@pytest.fixture
def recording() -> RecordingHandler:
    return RecordingHandler()


def _smtp(handler: RecordingHandler, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def _smtp_channels(port: int) -> dict[str, Channel]:
    config = SmtpConfig(host="127.0.0.1", port=port, from_address="noreply@hue.example", timeout=5)
    return {"email": SmtpChannel(config), "sms": ConsoleChannel(stream=StringIO())}


def _arrived(handler: RecordingHandler, email: str) -> int:
    return sum(email in item.rcpt_tos for item in handler.received)


def test_smtp_delivers_exactly_once(session: Session, recording: RecordingHandler) -> None:
    email = f"dan-{_tag()}@example.com"
    reflection = _submit(session, email=email)
    port = free_port()
    controller = _smtp(recording, port)
    try:
        dispatch(session, clock.now(), _smtp_channels(port), batch_size=BIG)
        dispatch(session, clock.now() + timedelta(hours=2), _smtp_channels(port), batch_size=BIG)
    finally:
        controller.stop()
    assert _statuses(session, reflection) == [OutboxStatus.SENT]
    assert _arrived(recording, email) == 1
    mail = next(item.message for item in recording.received if email in item.rcpt_tos)
    assert reflection.tracking_code in str(mail["Subject"])


def test_smtp_down_then_back_is_retried_with_backoff(
    session: Session, recording: RecordingHandler
) -> None:
    email = f"dan-{_tag()}@example.com"
    reflection = _submit(session, email=email)
    port = free_port()  # nobody listens yet
    now = clock.now()
    report = dispatch(session, now, _smtp_channels(port), batch_size=BIG)
    (row,) = _rows(session, reflection)
    assert row.id in report.retried
    assert row.status is OutboxStatus.PENDING and row.attempts == 1 and row.last_error
    wait = row.next_attempt_at - now
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)
    assert wait == backoff(row.id, 1)
    controller = _smtp(recording, port)
    try:
        early = dispatch(session, now + timedelta(seconds=20), _smtp_channels(port), BIG)
        assert row.id not in early.sent + early.retried
        assert _arrived(recording, email) == 0
        dispatch(session, now + timedelta(minutes=1), _smtp_channels(port), batch_size=BIG)
        dispatch(session, now + timedelta(hours=2), _smtp_channels(port), batch_size=BIG)
    finally:
        controller.stop()
    (row,) = _rows(session, reflection)
    assert row.status is OutboxStatus.SENT and row.attempts == 2
    assert _arrived(recording, email) == 1


def test_a_550_fails_for_good_at_once(session: Session, recording: RecordingHandler) -> None:
    email = f"nobody-{_tag()}@example.com"
    recording.refused_recipients.add(email)
    reflection = _submit(session, email=email)
    port = free_port()
    controller = _smtp(recording, port)
    try:
        report = dispatch(session, clock.now(), _smtp_channels(port), batch_size=BIG)
        (row,) = _rows(session, reflection)
        assert row.id in report.failed_permanent
        dispatch(session, clock.now() + timedelta(hours=2), _smtp_channels(port), batch_size=BIG)
    finally:
        controller.stop()
    (row,) = _rows(session, reflection)
    assert row.status is OutboxStatus.FAILED_PERMANENT and row.attempts == 1
    assert row.last_error and "550" in row.last_error
    assert _arrived(recording, email) == 0
    assert row.id is not None
    assert retry_dead(session, [row.id]) == [row.id]
    (row,) = _rows(session, reflection)
    assert row.status is OutboxStatus.PENDING and row.attempts == 0


class Failing:
    """A channel whose provider is always briefly unavailable."""

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        return [Outcome.transient(message, "421 try later") for message in messages]


def test_too_many_attempts_is_dead_and_can_be_retried(session: Session) -> None:
    reflection = _submit(session, email=f"dan-{_tag()}@example.com")
    (row,) = _rows(session, reflection)
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row.id)
        .values(attempts=MAX_ATTEMPTS - 1)
    )
    session.commit()
    failing: dict[str, Channel] = {"email": Failing(), "sms": Failing()}
    report = dispatch(session, clock.now(), failing, batch_size=BIG)
    assert row.id in report.dead
    assert _statuses(session, reflection) == [OutboxStatus.DEAD]
    assert row.id is not None
    assert retry_dead(session, [row.id]) == [row.id]
    assert _statuses(session, reflection) == [OutboxStatus.PENDING]
    _, console = _console()
    dispatch(session, clock.now(), console, batch_size=BIG)
    assert _statuses(session, reflection) == [OutboxStatus.SENT]


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    for attempts, base in [(1, 30), (2, 60), (3, 120), (8, 3600), (9, 3600)]:
        wait = backoff(7, attempts).total_seconds()
        assert base * 0.8 <= wait <= base * 1.2
    assert backoff(7, 3) == backoff(7, 3)  # seeded: predictable
    assert backoff(7, 3) != backoff(8, 3)  # and spread between rows
    assert backoff(1, 20) <= BACKOFF_CAP * 1.2


def test_a_row_changed_meanwhile_is_skipped(session: Session) -> None:
    reflection = _submit(session, email=f"dan-{_tag()}@example.com")
    (row,) = _rows(session, reflection)

    class Meddling:
        """While this dispatcher sends, an operator handles the row another way."""

        async def send_batch(
            self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
        ) -> list[Outcome]:
            with Session(session.get_bind()) as other:
                other.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == row.id)
                    .values(status=OutboxStatus.DEAD)
                )
                other.commit()
            return [Outcome.sent(message, "x") for message in messages]

    meddling: dict[str, Channel] = {"email": Meddling(), "sms": Meddling()}
    report = dispatch(session, clock.now(), meddling, batch_size=BIG)
    assert row.id in report.skipped
    assert _statuses(session, reflection) == [OutboxStatus.DEAD]


def test_a_row_changed_meanwhile_leaves_the_rest_of_its_chunk_recorded(session: Session) -> None:
    """The outcomes of a chunk are written together; the one row an operator took over while
    the chunk was out keeps the operator's status, and its neighbours are recorded sent."""
    reflections = [_submit(session, email=f"chunk-{_tag()}@example.com") for _ in range(3)]
    rows = [row for reflection in reflections for row in _rows(session, reflection)]
    assert len(rows) == 3
    taken = rows[1]

    class Meddling:
        async def send_batch(
            self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
        ) -> list[Outcome]:
            with Session(session.get_bind()) as other:
                other.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == taken.id)
                    .values(status=OutboxStatus.DEAD)
                )
                other.commit()
            return [Outcome.sent(message, "x") for message in messages]

    meddling: dict[str, Channel] = {"email": Meddling(), "sms": Meddling()}
    report = dispatch(session, clock.now(), meddling, batch_size=BIG)
    assert taken.id in report.skipped
    assert {rows[0].id, rows[2].id} <= set(report.sent)
    assert [_statuses(session, reflection) for reflection in reflections] == [
        [OutboxStatus.SENT],
        [OutboxStatus.DEAD],
        [OutboxStatus.SENT],
    ]


class Recording:
    """Counts what it was asked to send, slowly, so two dispatchers overlap."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        await asyncio.sleep(0.05)
        with self.lock:
            self.keys += [message.idempotency_key for message in messages]
        return [Outcome.sent(message, "rec") for message in messages]


@pytest.mark.postgres
def test_two_dispatchers_at_once_send_each_row_once(engine: Engine, session: Session) -> None:
    reflections = [_submit(session, email=f"dan-{_tag()}@example.com") for _ in range(30)]
    mine = {row.idempotency_key for r in reflections for row in _rows(session, r)}
    channel = Recording()
    channels: dict[str, Channel] = {"email": channel, "sms": channel}
    barrier = threading.Barrier(2)
    now = clock.now()

    def run() -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            while dispatch(own, now, channels, batch_size=7).claimed:
                pass

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: run(), range(2)))
    sent = [key for key in channel.keys if key in mine]
    assert sorted(sent) == sorted(mine)  # every row, none twice
    for r in reflections:
        assert _statuses(session, r) == [OutboxStatus.SENT]
