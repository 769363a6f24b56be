"""Changes between staff that move no state: internal notes and taking a task within the unit;
the extension rules; supervisors acting on what was escalated to them; two events in one change.

All through the one lifecycle service, so each is a hash-chained history row (or is refused
leaving nothing behind).
"""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from reflections.actors import Actor
from reflections.errors import EventNotAllowed, Forbidden, InvalidInput
from reflections.lifecycle.history import timeline
from reflections.lifecycle.service import EventInput, apply_event, apply_events
from reflections.messaging.outbox import staff_recipients
from reflections.models import (
    AdministrativeUnit,
    HandlingUnit,
    HistoryEvent,
    OutboxMessage,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.oversight.audit import verify_reflection
from reflections.platform import clock
from tests.api_helpers import as_citizen, as_user, submit
from tests.lifecycle_helpers import (
    COORDINATOR,
    E,
    fire,
    handler_of,
    reflection_at,
    refs,
    unit_handler,
)


def _history(session: Session, reflection: Reflection) -> list[LifecycleEvent]:
    assert reflection.id is not None
    session.expire_all()
    return [row.event for row in timeline(session, reflection.id)]


def _outbox_count(session: Session, reflection: Reflection) -> int:
    statement = select(func.count()).where(OutboxMessage.reflection_id == reflection.id)
    return session.exec(statement).one()


def test_a_note_is_a_chained_history_row_that_tells_no_one(session: Session) -> None:
    reflection = reflection_at(session, "in_progress", refs(session))
    assert reflection.id is not None
    messages, state, version = (
        _outbox_count(session, reflection),
        reflection.state,
        reflection.version,
    )
    noted = apply_event(
        session,
        reflection.id,
        E.NOTE,
        handler_of(reflection),
        EventInput(reason="Đã hẹn tổ dân phố 14:00 thứ Năm"),
    )
    assert (noted.state, noted.version) == (state, version + 1)
    last = timeline(session, reflection.id)[-1]
    assert (last.event, last.reason) == (E.NOTE, "Đã hẹn tổ dân phố 14:00 thứ Năm")
    assert _outbox_count(session, reflection) == messages  # the citizen hears nothing
    assert verify_reflection(session, reflection.id).intact


def test_an_empty_note_is_refused_and_leaves_nothing(session: Session) -> None:
    reflection = reflection_at(session, "received", refs(session))
    assert reflection.id is not None
    with pytest.raises(Exception, match="reason is required"):
        apply_event(session, reflection.id, E.NOTE, COORDINATOR, EventInput(reason="  "))
    assert _history(session, reflection) == [E.SUBMIT]


def test_a_supervisors_reminder_note_reaches_the_coordinators(session: Session) -> None:
    reflection = reflection_at(session, "received", refs(session))
    assert reflection.id is not None
    city = session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == "46")).one()
    assert city.id is not None
    escalated = apply_event(
        session,
        reflection.id,
        E.ESCALATE,
        Actor.system(),
        EventInput(administrative_unit_id=city.id),
    )
    assert escalated.escalated_at is not None  # the escalation of the running step
    supervisor = Actor(Role.SUPERVISOR, administrative_unit_ids=frozenset({city.id}))
    before = _outbox_count(session, reflection)
    apply_event(
        session,
        reflection.id,
        E.NOTE,
        supervisor,
        EventInput(reason="Đề nghị phân loại ngay trong sáng nay", notify="coordinators"),
    )
    told = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.reflection_id == reflection.id)
        .order_by(col(OutboxMessage.id))
    ).all()[before:]
    coordinators = session.exec(select(User).where(User.role == Role.COORDINATOR)).all()
    expected = {r.address for u in coordinators for r in staff_recipients(u)}  # their choices
    assert expected and {m.recipient for m in told} == expected
    assert {m.kind for m in told} == {"staff_note"}
    assert told[0].context["note"] == "Đề nghị phân loại ngay trong sáng nay"


def test_a_note_may_only_notify_the_coordinators(session: Session) -> None:
    reflection = reflection_at(session, "received", refs(session))
    assert reflection.id is not None
    with pytest.raises(InvalidInput, match="notify"):
        apply_event(
            session, reflection.id, E.NOTE, COORDINATOR, EventInput(reason="x", notify="citizen")
        )
    assert _history(session, reflection) == [E.SUBMIT]


def test_taking_a_task_and_what_clears_it(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "awaiting_acceptance", r)
    assert reflection.id is not None and reflection.handling_unit_id is not None
    lan = unit_handler(session, reflection.handling_unit_id)
    taken = apply_event(
        session,
        reflection.id,
        E.TAKE,
        handler_of(reflection),
        EventInput(assignee_user_id=lan.id),
    )
    assert taken.assignee_id == lan.id
    assert timeline(session, reflection.id)[-1].payload == {"assignee_user_id": lan.id}
    reassigned = fire(session, taken, E.REASSIGN, r)
    assert reassigned.assignee_id is None  # the new unit decides who takes it


def test_who_accepts_takes_the_task_unless_someone_has(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "awaiting_acceptance", r)
    assert reflection.id is not None and reflection.handling_unit_id is not None
    lan = unit_handler(session, reflection.handling_unit_id)
    handler = Actor(
        Role.HANDLER, user_id=lan.id, handling_unit_ids=frozenset({reflection.handling_unit_id})
    )
    accepted = apply_event(session, reflection.id, E.ACCEPT, handler)
    assert accepted.assignee_id == lan.id


def test_only_a_handler_of_the_unit_can_be_given_the_task(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "in_progress", r)
    assert reflection.id is not None
    outsider = unit_handler(session, r.other_unit_id)
    with pytest.raises(InvalidInput, match="assignee_user_id"):
        apply_event(
            session,
            reflection.id,
            E.TAKE,
            handler_of(reflection),
            EventInput(assignee_user_id=outsider.id),
        )
    other_unit = Actor(Role.HANDLER, handling_unit_ids=frozenset({r.other_unit_id}))
    with pytest.raises(Forbidden):
        apply_event(
            session, reflection.id, E.TAKE, other_unit, EventInput(assignee_user_id=outsider.id)
        )
    assert _history(session, reflection)[-1] is E.ACCEPT


def test_an_extension_is_requested_only_once_accepted(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "awaiting_acceptance", r)
    assert reflection.id is not None
    later = clock.now() + timedelta(days=3)
    with pytest.raises(EventNotAllowed) as refused:
        apply_event(
            session,
            reflection.id,
            E.REQUEST_EXTENSION,
            handler_of(reflection),
            EventInput(reason="chờ vật tư", new_due_at=later),
        )
    assert E.REQUEST_EXTENSION not in refused.value.allowed
    assert E.ACCEPT in refused.value.allowed
    assert _history(session, reflection)[-1] is E.ASSIGN


def test_a_pending_request_stays_for_the_coordinators_when_the_task_moves(
    session: Session,
) -> None:
    """Histories written before stay replayable: the chart did not change, so a request made
    by the old unit is still the coordinators' to decide after a reassign."""
    r = refs(session)
    reflection = reflection_at(session, "in_progress", r)
    reflection = fire(session, reflection, E.REQUEST_EXTENSION, r)
    requested = reflection.extension_requested_due_at
    assert reflection.extension_pending and requested
    reassigned = fire(session, reflection, E.REASSIGN, r)
    assert reassigned.extension_pending
    assert reassigned.extension_requested_due_at == requested
    accepted = fire(session, reassigned, E.ACCEPT, r)  # decided once the new unit accepts
    decided = fire(session, accepted, E.DENY_EXTENSION, r)
    assert not decided.extension_pending and decided.id is not None
    assert verify_reflection(session, decided.id).intact  # the replay agrees


def _escalated_to_city(session: Session, reflection: Reflection) -> Actor:
    city = session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == "46")).one()
    assert reflection.id is not None and city.id is not None
    apply_event(
        session,
        reflection.id,
        E.ESCALATE,
        Actor.system(),
        EventInput(administrative_unit_id=city.id),
    )
    return Actor(Role.SUPERVISOR, administrative_unit_ids=frozenset({city.id}))


def test_a_supervisor_classifies_and_assigns_what_was_escalated_to_them(
    session: Session,
) -> None:
    r = refs(session)
    reflection = reflection_at(session, "received", r)
    assert reflection.id is not None
    supervisor = _escalated_to_city(session, reflection)
    seen = reflection.version  # after the escalation
    classify = EventInput(
        category_id=r.category_id,
        priority=Priority.NORMAL,
        administrative_unit_id=r.administrative_unit_id,
    )
    done = apply_events(
        session,
        reflection.id,
        [(E.CLASSIFY, classify), (E.ASSIGN, EventInput(handling_unit_id=r.unit_id))],
        supervisor,
        expected_version=seen,
    )
    assert (done.state, done.handling_unit_id) == ("assigned", r.unit_id)
    assert _history(session, reflection)[-2:] == [E.CLASSIFY, E.ASSIGN]


def test_a_supervisor_may_not_classify_what_was_not_escalated_to_them(
    session: Session,
) -> None:
    r = refs(session)
    reflection = reflection_at(session, "received", r)
    assert reflection.id is not None
    ward = session.get(AdministrativeUnit, r.administrative_unit_id)
    assert ward is not None and ward.id is not None
    supervisor = Actor(Role.SUPERVISOR, administrative_unit_ids=frozenset({ward.id}))
    classify = EventInput(
        category_id=r.category_id,
        priority=Priority.NORMAL,
        administrative_unit_id=r.administrative_unit_id,
    )
    with pytest.raises(Forbidden):
        apply_event(session, reflection.id, E.CLASSIFY, supervisor, classify)
    assert _history(session, reflection) == [E.SUBMIT]


def test_two_events_in_one_change_commit_together_or_not_at_all(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "received", r)
    assert reflection.id is not None
    classify = EventInput(
        category_id=r.category_id,
        priority=Priority.NORMAL,
        administrative_unit_id=r.administrative_unit_id,
    )
    inactive = session.exec(select(HandlingUnit.id).where(col(HandlingUnit.id) < 0)).first()
    with pytest.raises(InvalidInput):
        apply_events(
            session,
            reflection.id,
            [(E.CLASSIFY, classify), (E.ASSIGN, EventInput(handling_unit_id=inactive or -1))],
            COORDINATOR,
        )
    session.expire_all()
    stored = session.get(Reflection, reflection.id)
    assert stored is not None and (stored.state, stored.version) == ("received", 1)
    count = select(func.count()).where(HistoryEvent.reflection_id == reflection.id)
    assert session.exec(count).one() == 1


def test_the_citizen_never_reads_notes_or_takes(client: TestClient) -> None:
    submitted = submit(client, administrative_unit="46.W19768")
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    coordinator, handler = as_user(client, "coordinator"), as_user(client, "handler.phuxuan")

    def post(action: str, headers: dict[str, str], **body: object) -> None:
        response = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
        assert response.status_code == 200, response.text

    post("notes", coordinator, text="Người dân gọi lại lần 2, rất bức xúc")
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": "46.W19768"}
    post("classify", coordinator, **classify)
    post("assign", coordinator, handling_unit="UBND.46.W19768")
    post("take", handler)
    post("notes", handler, text="Số nhà chủ quán: 0905 000 111")
    staff_view = client.get(f"/api/v1/reflections/{code}/history", headers=coordinator).json()
    assert [row["event"] for row in staff_view].count("note") == 2
    mine = client.get(f"/api/v1/reflections/{code}", headers=handler).json()
    assert mine["assignee"] == "handler.phuxuan"

    seen = client.get(f"/api/v1/reflections/{code}/history", headers=as_citizen(key)).json()
    assert [row["event"] for row in seen] == ["submit", "classify", "assign"]
    citizen_view = client.get(f"/api/v1/reflections/{code}", headers=as_citizen(key)).json()
    assert "assignee" not in citizen_view
    assert "0905 000 111" not in str(seen) and "bức xúc" not in str(citizen_view)


def test_the_coordinators_hear_each_morning_what_waits_for_them(session: Session) -> None:
    """Results they may send back and requests to decide: one message a day, not one each."""
    from reflections.messaging.digest import coordinator_work, enqueue_coordinator_digests

    r = refs(session)
    processed = reflection_at(session, "processed", r)
    requested = fire(session, reflection_at(session, "in_progress", r), E.REQUEST_EXTENSION, r)
    results, extensions = coordinator_work(session)
    assert processed.tracking_code in [t.tracking_code for t in results]
    assert requested.tracking_code in [t.tracking_code for t in extensions]
    morning = clock.now() + timedelta(days=400)  # a day no other test writes a digest for
    written = enqueue_coordinator_digests(session, morning)
    coordinators = session.exec(select(User).where(User.role == Role.COORDINATOR)).all()
    expected = {r.address for u in coordinators for r in staff_recipients(u)}
    assert {m.recipient for m in written} == expected and written
    listed = [task["tracking_code"] for task in written[0].context["results"]]
    assert processed.tracking_code in listed
    assert enqueue_coordinator_digests(session, morning) == []  # once a day
