"""Emergencies run around the clock from intake (DESIGN.md §10), with hand-computed deadlines.

Local times (Asia/Ho_Chi_Minh). Tet 2026: Monday 16 to Friday 20 February are holidays, so
Saturday 14 to Sunday 22 February are off. Normal classify: 240 working minutes; emergency
classify: 60 minutes around the clock (the seeded policies).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from notifications import Channel as DeliveryChannel
from notifications import ConsoleChannel
from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.messaging.dispatcher import dispatch
from reflections.models import Category, HistoryEvent, OutboxMessage, Reflection, User
from reflections.models.enums import Channel, LifecycleEvent, Priority, Role
from reflections.platform import clock
from reflections.platform.security import hash_password
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines
from tests.api_helpers import as_user
from tests.lifecycle_helpers import COORDINATOR, refs
from tests.test_outbox import _tag

VN = ZoneInfo("Asia/Ho_Chi_Minh")
E = LifecycleEvent


def vn(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


SATURDAY_OF_TET_23H = vn(2, 14, 23, 0)
FRIDAY_BEFORE_TET_1650 = vn(2, 13, 16, 50)


def _submit(
    session: Session, at: datetime, *, urgent: bool = False, hint: str | None = None
) -> Reflection:
    with clock.frozen_at(at):
        return submit(
            session,
            Submission(
                description=f"Dây điện đứt rơi xuống đường {_tag()}",
                address="25 Lê Lợi",
                urgent=urgent,
                category_hint=hint,
            ),
            Actor.citizen(),
        ).reflection


def _classify(
    session: Session, reflection: Reflection, priority: Priority, at: datetime
) -> Reflection:
    r = refs(session)
    assert reflection.id is not None
    with clock.frozen_at(at):
        return apply_event(
            session,
            reflection.id,
            E.CLASSIFY,
            COORDINATOR,
            EventInput(
                category_id=r.category_id,
                priority=priority,
                administrative_unit_id=r.administrative_unit_id,
            ),
        )


def _history(session: Session, reflection: Reflection, event: LifecycleEvent) -> HistoryEvent:
    return session.exec(
        select(HistoryEvent).where(
            HistoryEvent.reflection_id == reflection.id, HistoryEvent.event == event
        )
    ).one()


@pytest.fixture
def quiet_nights(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REFLECTIONS_QUIET_HOURS_START", "22:00")
    monkeypatch.setenv("REFLECTIONS_QUIET_HOURS_END", "07:00")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _duty_by_sms(session: Session) -> User:
    """An operator on duty who chose SMS, so quiet hours could hold the message."""
    user = User(
        username=f"truc.{_tag()}",
        full_name="Cán bộ trực đêm",
        role=Role.OPERATOR,
        password_hash=hash_password("a-long-password"),
        phone="+84905111222",
        channels=[Channel.SMS],
        created_at=clock.now(),
    )
    session.add(user)
    session.commit()
    return user


# -- the 60-minute clock from intake ---------------------------------------------------------


def test_an_emergency_at_23h_on_a_saturday_of_tet_is_due_at_midnight_and_wakes_the_duty(
    session: Session, quiet_nights: None
) -> None:
    duty = _duty_by_sms(session)
    emergency = _submit(session, SATURDAY_OF_TET_23H, urgent=True)
    assert emergency.priority is Priority.EMERGENCY
    assert emergency.classify_due_at == vn(2, 15, 0, 0)  # Sunday 00:00, not ten days later
    assert emergency.next_sla_at == vn(2, 14, 23, 45)  # the reminder at 75%
    submitted = _history(session, emergency, E.SUBMIT)
    assert submitted.payload["priority"] == "emergency"
    assert submitted.payload["urgent_because"] == ["citizen"]

    # The same report without the tick waits for Monday 23 February: 07:30 + 4 h.
    normal = _submit(session, SATURDAY_OF_TET_23H)
    assert normal.priority is None and normal.classify_due_at == vn(2, 23, 11, 30)

    # The IOC duty (operators and coordinators) is told at once, through the urgent path.
    rows = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == emergency.id, OutboxMessage.kind == "emergency_received"
        )
    ).all()
    duty_users = session.exec(
        select(User).where(col(User.role).in_([Role.OPERATOR, Role.COORDINATOR]))
    ).all()
    expected = {u.email for u in duty_users if u.email and not u.channels} | {duty.phone}
    assert {row.recipient for row in rows} == expected
    assert all(row.urgent and row.next_attempt_at == SATURDAY_OF_TET_23H for row in rows)
    [sms] = [row for row in rows if row.channel == "sms"]
    stream = StringIO()
    channels: dict[str, DeliveryChannel] = {"email": ConsoleChannel(stream=stream)}
    channels["sms"] = channels["email"]
    with clock.frozen_at(SATURDAY_OF_TET_23H):
        report = dispatch(session, SATURDAY_OF_TET_23H, channels, batch_size=100_000)
    assert sms.id in report.sent and sms.id not in report.held  # 23:00, quiet hours: sent
    assert "[Khẩn cấp]" in stream.getvalue() and "Hạn phân loại" in stream.getvalue()
    # A normal submission's messages at that hour are not for the duty.
    assert not session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == normal.id, OutboxMessage.kind == "emergency_received"
        )
    ).all()


def test_a_power_network_hint_is_an_emergency_by_its_category(session: Session) -> None:
    hinted = _submit(session, FRIDAY_BEFORE_TET_1650, hint="power_network")
    assert hinted.priority is Priority.EMERGENCY
    assert hinted.classify_due_at == vn(2, 13, 17, 50)
    assert _history(session, hinted, E.SUBMIT).payload["urgent_because"] == ["category"]
    flood = session.exec(select(Category).where(Category.code == "drainage_flooding")).one()
    assert flood.default_priority is Priority.EMERGENCY
    # A normal category's hint carries its normal priority and the working-time clock:
    # Friday 16:50–17:00, then Monday 23 February 07:30 + 3 h 50 min = 11:20.
    noise = _submit(session, FRIDAY_BEFORE_TET_1650, hint="noise")
    assert noise.priority is Priority.NORMAL and noise.classify_due_at == vn(2, 23, 11, 20)
    unknown = _submit(session, FRIDAY_BEFORE_TET_1650, hint="no-such-category")
    assert unknown.priority is None


# -- classification changes the policy of the running step ----------------------------------


def test_priority_raised_at_classification_recomputes_from_submission(session: Session) -> None:
    reported = _submit(session, FRIDAY_BEFORE_TET_1650)
    assert reported.classify_due_at == vn(2, 23, 11, 20)  # ten days later, as a normal case
    raised = _classify(session, reported, Priority.EMERGENCY, vn(2, 13, 17, 10))
    # 60 minutes around the clock from the step's start (the submission), not from now.
    assert raised.classify_due_at == vn(2, 13, 17, 50)
    assert raised.step_around_the_clock and raised.step_allowance_minutes == 60
    assert raised.next_sla_at == vn(2, 13, 17, 35)  # the reminder at 75%, already due
    row = _history(session, raised, E.CLASSIFY)
    assert row.payload["deadline_recomputed"] == "classify"
    assert row.payload["previous_due_at"] == "2026-02-23T04:20:00.000000+00:00"
    assert row.payload["new_due_at"] == "2026-02-13T10:50:00.000000+00:00"
    assert row.payload["step_started_at"] == "2026-02-13T09:50:00.000000+00:00"
    assert (row.payload["allowance_minutes"], row.payload["around_the_clock"]) == (60, True)
    # Once assigned, acceptance runs on the emergency policy too: 60 minutes around the clock.
    assert raised.id is not None
    with clock.frozen_at(vn(2, 13, 17, 20)):
        assigned = apply_event(
            session,
            raised.id,
            E.ASSIGN,
            COORDINATOR,
            EventInput(handling_unit_id=refs(session).unit_id),
        )
    assert assigned.accept_due_at == vn(2, 13, 18, 20)


def test_priority_lowered_at_classification_recomputes_in_working_time(session: Session) -> None:
    ticked = _submit(session, SATURDAY_OF_TET_23H, urgent=True)
    lowered = _classify(session, ticked, Priority.NORMAL, vn(2, 14, 23, 30))
    # 240 working minutes from Saturday 23:00: Monday 23 February 07:30 + 4 h = 11:30.
    assert lowered.classify_due_at == vn(2, 23, 11, 30)
    assert not lowered.step_around_the_clock and lowered.step_allowance_minutes == 240
    assert lowered.next_sla_at == vn(2, 23, 10, 30)  # the reminder at 75% (180 min)
    row = _history(session, lowered, E.CLASSIFY)
    assert row.payload["previous_priority"] == "emergency" and row.payload["priority"] == "normal"
    assert row.payload["previous_due_at"] == "2026-02-14T17:00:00.000000+00:00"
    assert row.payload["new_due_at"] == "2026-02-23T04:30:00.000000+00:00"


def test_classification_that_keeps_the_policy_keeps_the_deadline(session: Session) -> None:
    ticked = _submit(session, SATURDAY_OF_TET_23H, urgent=True)
    kept = _classify(session, ticked, Priority.EMERGENCY, vn(2, 14, 23, 20))
    assert kept.classify_due_at == vn(2, 15, 0, 0)
    assert "deadline_recomputed" not in _history(session, kept, E.CLASSIFY).payload


# -- who may say it is urgent, and where it shows ---------------------------------------------


def test_the_operator_s_choice_and_the_citizen_s_tick_through_the_api(client: TestClient) -> None:
    body = {"description": f"Cây đổ chắn ngang đường {_tag()}", "address": "Hùng Vương"}
    by_operator = client.post(
        "/api/v1/reflections", json=body | {"urgent": True}, headers=as_user(client, "operator")
    )
    assert by_operator.status_code == 201, by_operator.text
    assert by_operator.json()["reflection"]["priority"] == "emergency"
    code = by_operator.json()["tracking_code"]
    history = client.get(
        f"/api/v1/reflections/{code}/history", headers=as_user(client, "coordinator")
    ).json()
    assert history[0]["payload"]["urgent_because"] == ["operator"]
    by_citizen = client.post("/api/v1/reflections", json=body | {"urgent": True})
    assert by_citizen.json()["reflection"]["priority"] == "emergency"
    assert client.post("/api/v1/reflections", json=body | {"urgent": "maybe"}).status_code == 422


def test_the_coordinator_queue_puts_emergencies_first(client: TestClient) -> None:
    coordinator = as_user(client, "coordinator")
    body = {"description": f"Ngập sâu đoạn Lê Lợi {_tag()}", "address": "Lê Lợi"}
    older = client.post("/api/v1/reflections", json=body).json()["tracking_code"]
    newer = client.post("/api/v1/reflections", json=body | {"urgent": True}).json()
    newer_code = newer["tracking_code"]

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:  # small pages, so the cursor crosses from emergencies to the rest
        query = {"limit": 25} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/inbox/coordinator", params=query, headers=coordinator).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    keys = [(item["priority"] != "emergency", item["created_at"]) for item in seen]
    assert keys == sorted(keys)
    assert len({item["tracking_code"] for item in seen}) == len(seen)
    codes = [item["tracking_code"] for item in seen]
    assert codes.index(newer_code) < codes.index(older)
    forged = client.get(
        "/api/v1/inbox/coordinator", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=coordinator
    )
    assert forged.status_code == 422


def test_deadline_marks_follow_the_recomputed_policy(session: Session) -> None:
    reported = _submit(session, FRIDAY_BEFORE_TET_1650)
    raised = _classify(session, reported, Priority.EMERGENCY, vn(2, 13, 17, 10))
    assert deadlines.escalation_at(session, raised, 1) == vn(2, 13, 17, 50)
    assert deadlines.escalation_at(session, raised, 2) == vn(2, 13, 18, 20)
    assert deadlines.remaining_minutes(session, raised, vn(2, 13, 17, 10)) == 40
    assert raised.created_at + timedelta(minutes=60) == raised.classify_due_at
