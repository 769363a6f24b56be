"""Who hears of what: opt-outs, staff channels, reminders and urgency (DESIGN.md §6)."""

from __future__ import annotations

from sqlmodel import Session, select

from reflections.lifecycle.service import EventInput
from reflections.models import Membership, Reporter, User
from reflections.models.enums import Channel, LifecycleEvent, Priority, Role
from tests.lifecycle_helpers import COORDINATOR, SYSTEM, refs
from tests.test_outbox import (
    PHONE,
    _classify_and_assign,
    _fire,
    _kinds,
    _rows,
    _submit,
    _tag,
    _unit_with_handler,
    _user,
)

E = LifecycleEvent


def test_a_reporter_who_opted_out_hears_nothing_more(session: Session) -> None:
    email = f"dan-{_tag()}@example.com"
    reflection = _submit(session, email=email, phone=PHONE)
    assert len(_rows(session, reflection)) == 2
    reporter = session.get(Reporter, reflection.reporter_id)
    assert reporter is not None
    reporter.opted_out = True
    session.add(reporter)
    session.commit()
    reflection = _fire(session, reflection, E.REJECT, COORDINATOR, EventInput(reason="trùng"))
    assert [row.kind for row in _rows(session, reflection)] == ["received", "received"]


def test_staff_get_email_unless_they_chose_sms_and_nothing_once_opted_out(
    session: Session,
) -> None:
    tag = _tag()
    handler_email = f"handler-{tag}@example.com"
    unit = _unit_with_handler(session, handler_email)
    by_sms = _user(session, Role.HANDLER, f"sms-{tag}@example.com")
    by_sms.phone, by_sms.channels = "+84912000111", [Channel.SMS]
    quiet = _user(session, Role.HANDLER, f"quiet-{tag}@example.com")
    quiet.opted_out = True
    for user in (by_sms, quiet):
        session.add(user)
        session.add(Membership(user_id=user.id or 0, handling_unit_id=unit.id))
    session.commit()
    reflection = _classify_and_assign(session, _submit(session), unit)
    staff = [row for row in _rows(session, reflection) if row.kind == "task_new"]
    assert sorted(_kinds(staff)) == [
        ("task_new", "email", handler_email),
        ("task_new", "sms", "+84912000111"),
    ]


def test_a_reminder_goes_to_the_unit_or_while_unclassified_to_the_coordinators(
    session: Session,
) -> None:
    tag = _tag()
    handler_email = f"handler-{tag}@example.com"
    unit = _unit_with_handler(session, handler_email)
    waiting = _submit(session)
    waiting = _fire(session, waiting, E.REMIND, SYSTEM)
    coordinators = {row.recipient for row in _rows(session, waiting)}
    demo_coordinator = session.exec(select(User).where(User.username == "coordinator")).one()
    assert demo_coordinator.email in coordinators
    assert {row.kind for row in _rows(session, waiting)} == {"task_reminder"}

    assigned = _classify_and_assign(session, _submit(session), unit)
    assigned = _fire(session, assigned, E.REMIND, SYSTEM)
    reminders = [row for row in _rows(session, assigned) if row.kind == "task_reminder"]
    assert _kinds(reminders) == [("task_reminder", "email", handler_email)]
    assert reminders[0].context["due_at"] != "—" and not reminders[0].urgent


def test_an_emergency_and_an_escalation_are_urgent_others_not(session: Session) -> None:
    unit = _unit_with_handler(session, f"handler-{_tag()}@example.com")
    r = refs(session)
    normal = _classify_and_assign(session, _submit(session, phone=PHONE), unit)
    assert not any(row.urgent for row in _rows(session, normal))
    emergency = _submit(session, phone=PHONE)
    emergency = _fire(
        session,
        emergency,
        E.CLASSIFY,
        COORDINATOR,
        EventInput(
            category_id=r.category_id,
            priority=Priority.EMERGENCY,
            administrative_unit_id=r.administrative_unit_id,
        ),
    )
    emergency = _fire(
        session, emergency, E.ASSIGN, COORDINATOR, EventInput(handling_unit_id=unit.id)
    )
    rows = _rows(session, emergency)
    assert [row.urgent for row in rows if row.kind == "received"] == [False]
    assert all(row.urgent for row in rows if row.kind in ("assigned", "task_new"))
