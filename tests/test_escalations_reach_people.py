"""Escalations reach people: every level an escalation can reach has a supervisor to tell,
`reflections users create` takes where messages go, and a notice nobody can receive becomes a
warning in the admins' digest instead of vanishing."""

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from reflections.actors import Actor
from reflections.cli import app as cli
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.messaging import outbox
from reflections.messaging.admin_digest import enqueue_admin_digest
from reflections.models import (
    AdministrativeUnit,
    AdminWarning,
    HandlingUnit,
    Membership,
    OutboxMessage,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Role, SubmissionChannel
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine
from reflections.seed import catalog, loader
from reflections.timekeeping import escalation
from tests.api_helpers import as_user

VN = ZoneInfo("Asia/Ho_Chi_Minh")
E = LifecycleEvent
runner = CliRunner()


def _area(session: Session, code: str) -> AdministrativeUnit:
    return session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == code)).one()


def _submitted(session: Session, at: datetime, ward: str) -> Reflection:
    with clock.frozen_at(at):
        return submit(
            session,
            Submission(description="Rác thải ùn ứ", administrative_unit_id=_area(session, ward).id),
            Actor.citizen(),
        ).reflection


def _escalate(session: Session, reflection: Reflection, at: datetime, **data: int) -> Reflection:
    assert reflection.id is not None
    with clock.frozen_at(at):
        return apply_event(
            session,
            reflection.id,
            E.ESCALATE,
            Actor.system(),
            EventInput(**data),  # type: ignore[arg-type]
        )


def _messages(session: Session, reflection: Reflection, kind: str) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.reflection_id == reflection.id, OutboxMessage.kind == kind
            )
        )
    )


def test_every_level_an_escalation_can_reach_has_someone_to_tell(session: Session) -> None:
    """For every place and handling unit of both maps, on a day of that map."""
    three_tier, two_tier = date(2025, 3, 3), date(2025, 9, 1)
    units = session.exec(select(HandlingUnit)).all()
    areas = session.exec(select(AdministrativeUnit)).all()
    starts: list[tuple[int | None, int | None, date]] = []
    for unit in units:
        day = three_tier if unit.valid_to else two_tier
        starts.append((unit.id, None, day))
    for area in areas:
        if area.level == "commune":
            starts.append((None, area.id, three_tier if area.valid_to else two_tier))
    reachable: dict[int, date] = {}
    for unit_id, area_id, day in starts:
        created = datetime.combine(day, time(9), tzinfo=VN)
        probe = Reflection(  # never stored: only what the ladder reads
            tracking_code="PROBE",
            secret_hash="-",
            description="-",
            submitted_via=SubmissionChannel.WEB,
            state=LifecycleState.RECEIVED,
            handling_unit_id=unit_id,
            administrative_unit_id=area_id,
            created_at=created,
            updated_at=created,
        )
        for ladder_area in escalation.ladder(session, probe):
            reachable[ladder_area] = day
    assert {a.level for a in areas if a.id in reachable} == {"province", "district"}
    heard = {
        area_id
        for area_id in reachable
        for user in session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == User.id)
            .where(User.role == Role.SUPERVISOR, Membership.administrative_unit_id == area_id)
        )
        if outbox.staff_recipients(user)
    }
    assert heard == set(reachable)
    assert len([u for u in catalog.DEMO_USERS if u.username.startswith("supervisor.d")]) == 9


def test_a_district_level_escalation_reaches_the_district_s_supervisor(session: Session) -> None:
    june = _submitted(session, datetime(2025, 6, 2, 9, 0, tzinfo=VN), "46.D474.W19777")
    escalated = _escalate(session, june, datetime(2025, 6, 2, 15, 0, tzinfo=VN))
    assert escalated.escalated_to_id == _area(session, "46.D474").id
    [message] = _messages(session, escalated, "task_escalated")
    assert message.recipient == "lanhdao.d474@hue.example" and message.urgent


# -- reflections users create --email --phone ------------------------------------------------


def test_users_create_takes_an_email_and_a_phone(session: Session, database_url: str) -> None:
    username = f"ld.{uuid.uuid4().hex[:6]}"
    result = runner.invoke(
        cli,
        [
            "users", "create", username, "--role", "supervisor", "--full-name", "Lê Văn Tâm",
            "--area", "46.D475", "--email", "Tam.Le@Hue.Example", "--phone", "0905 222 333",
            "--password", "a-long-password",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no messages" not in result.output
    user = session.exec(select(User).where(User.username == username)).one()
    assert (user.email, user.phone) == ("Tam.Le@hue.example", "+84905222333")

    # Only a phone: SMS, not silence.
    sms_only = f"ld.{uuid.uuid4().hex[:6]}"
    result = runner.invoke(
        cli,
        [
            "users", "create", sms_only, "--role", "supervisor", "--full-name", "Hồ Thị Na",
            "--area", "46.D476", "--phone", "0905 444 555", "--password", "a-long-password",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    phone_user = session.exec(select(User).where(User.username == sms_only)).one()
    assert [r.channel for r in outbox.staff_recipients(phone_user)] == ["sms"]


def test_users_create_warns_of_silence_and_refuses_bad_contacts(
    session: Session, database_url: str
) -> None:
    silent = f"ld.{uuid.uuid4().hex[:6]}"
    result = runner.invoke(
        cli,
        [
            "users", "create", silent, "--role", "supervisor", "--full-name", "Ngô Văn Lực",
            "--area", "46.D477", "--password", "a-long-password",
        ],
    )  # fmt: skip
    assert result.exit_code == 0
    assert "will get no messages" in result.output and "escalations" in result.output
    for option, value in (("--phone", "12"), ("--email", "not-an-email")):
        username = f"bad.{uuid.uuid4().hex[:6]}"
        refused = runner.invoke(
            cli,
            [
                "users", "create", username, "--role", "supervisor", "--full-name", "X",
                "--area", "46.D477", option, value, "--password", "a-long-password",
            ],
        )  # fmt: skip
        assert refused.exit_code == 1 and option in refused.output
        assert session.exec(select(User).where(User.username == username)).first() is None


# -- nobody to tell: a warning in the admin digest -------------------------------------------


def test_an_escalation_nobody_hears_goes_to_the_admin_digest(
    session: Session, client: TestClient
) -> None:
    # Phường Vỹ Dạ (two-tier) has no supervisor of its own: escalating a case there reaches
    # nobody.
    case = _submitted(session, datetime(2026, 3, 4, 9, 0, tzinfo=VN), "46.W19777")
    nobody = _area(session, "46.W19777")
    assert nobody.id is not None
    escalated = _escalate(
        session, case, datetime(2026, 3, 4, 15, 0, tzinfo=VN), administrative_unit_id=nobody.id
    )
    assert _messages(session, escalated, "task_escalated") == []
    [warning] = session.exec(
        select(AdminWarning).where(AdminWarning.reflection_id == escalated.id)
    ).all()
    assert (warning.kind, warning.administrative_unit_id, warning.digested_at) == (
        "escalation_unheard",
        nobody.id,
        None,
    )
    pending = client.get(
        "/api/v1/admin/warnings",
        params={"pending": True, "limit": 200},
        headers=as_user(client, "admin"),
    ).json()["items"]
    assert {
        "kind": "escalation_unheard",
        "tracking_code": case.tracking_code,
        "area": "46.W19777",
    }.items() <= next(w for w in pending if w["tracking_code"] == case.tracking_code).items()

    morning = datetime(2026, 3, 5, 7, 0, tzinfo=VN)
    rows = enqueue_admin_digest(session, morning)
    admin = session.exec(select(User).where(User.username == "admin")).one()
    [mine] = [row for row in rows if row.recipient == admin.email]
    assert mine.kind == "admin_digest"
    listed = [w for w in mine.context["warnings"] if w["tracking_code"] == case.tracking_code]
    assert listed == [
        {
            "tracking_code": case.tracking_code,
            "kind": "escalation_unheard",
            "level": 1,
            "area": "Phường Vỹ Dạ",
            "at": "15:00 ngày 04/03/2026",
        }
    ]
    session.refresh(warning)
    assert warning.digested_at == morning
    assert enqueue_admin_digest(session, morning) == []  # listed once


@pytest.fixture
def own_session(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    migrate.upgrade(fresh_database_url)
    monkeypatch.setattr(loader, "hash_password", lambda password: "not-a-hash")
    with Session(get_engine(fresh_database_url), expire_on_commit=False) as session:
        loader.seed(session, demo_password="unused")
        yield session
    get_engine(fresh_database_url).dispose()


def test_an_emergency_with_no_duty_officer_is_a_warning(own_session: Session) -> None:
    session = own_session
    for user in session.exec(
        select(User).where(col(User.role).in_([Role.OPERATOR, Role.COORDINATOR]))
    ):
        user.disabled = True
        session.add(user)
    session.commit()
    at = datetime(2026, 3, 7, 23, 0, tzinfo=VN)
    with clock.frozen_at(at):
        emergency = submit(
            session,
            Submission(description="Cháy dây điện", address="Lê Lợi", urgent=True),
            Actor.citizen(),
        ).reflection
    assert _messages(session, emergency, "emergency_received") == []
    [warning] = session.exec(select(AdminWarning)).all()
    assert (warning.kind, warning.reflection_id) == ("emergency_unheard", emergency.id)
    [digest] = enqueue_admin_digest(session, at)  # the seeded admin, by email
    [line] = digest.context["warnings"]
    assert (line["kind"], line["tracking_code"]) == ("emergency_unheard", emergency.tracking_code)
