"""The desk's lists: the coordinator's queue (search, filters, sort, total, pages, next item),
what waits for a coordinator's decision, and the supervisor's current escalations.

The session's database is shared, so each test tags its own reflections and narrows the queue
to them by searching for the tag.
"""

import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.lifecycle import worklists
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.lifecycle.worklists import QueueFilters, QueueSort
from reflections.models import AdministrativeUnit, Category, Reflection
from reflections.models.enums import LifecycleEvent, LifecycleState, Priority, Role
from reflections.platform import clock
from tests.lifecycle_helpers import COORDINATOR, E, fire, handler_of, refs

WARD = "46.W19768"


def _tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def _ward_id(session: Session, code: str = WARD) -> int:
    ward = session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == code)).one()
    assert ward.id is not None
    return ward.id


def _submit(session: Session, tag: str, **fields: object) -> Reflection:
    values: dict[str, object] = {
        "description": f"Lấn chiếm vỉa hè {tag}",
        "address": "3 Lê Lợi",
        "administrative_unit_id": _ward_id(session),
    }
    values |= fields
    return submit(session, Submission(**values), Actor.citizen()).reflection  # type: ignore[arg-type]


def _codes(session: Session, filters: QueueFilters, size: int = 50) -> list[str]:
    statement = worklists.coordinator_queue(filters)
    page = worklists.numbered_page(
        session, statement, worklists.queue_ordering(filters.sort), 1, size
    )
    return [r.tracking_code for r in page.items]


def test_search_finds_words_codes_and_the_callers_phone(session: Session) -> None:
    tag = _tag()
    one = _submit(session, tag, reporter_phone="0935 111 222")
    two = _submit(session, tag, address=f"Kiệt 12 {tag.upper()}")
    assert set(_codes(session, QueueFilters(text=tag))) == {one.tracking_code, two.tracking_code}
    code = one.tracking_code.lower()
    assert _codes(session, QueueFilters(text=code)) == [one.tracking_code]
    by_phone = _codes(session, QueueFilters(text="0935111222"))
    assert one.tracking_code in by_phone and two.tracking_code not in by_phone


def test_filters_narrow_and_emergencies_come_first(session: Session) -> None:
    tag = _tag()
    plain = _submit(session, tag, category_hint="noise")
    urgent = _submit(session, tag, category_hint="drainage_flooding")
    assert urgent.id is not None
    apply_event(
        session,
        urgent.id,
        E.CLASSIFY,
        COORDINATOR,
        EventInput(
            category_id=session.exec(
                select(Category.id).where(Category.code == "drainage_flooding")
            ).one(),
            priority=Priority.EMERGENCY,
            administrative_unit_id=_ward_id(session),
        ),
    )
    other_ward = _submit(session, tag, administrative_unit_id=_ward_id(session, "46.W19815"))
    everything = _codes(session, QueueFilters(text=tag))
    assert everything[0] == urgent.tracking_code  # oldest first, but emergencies above all
    assert _codes(session, QueueFilters(text=tag, emergency=True)) == [urgent.tracking_code]
    hinted = _codes(session, QueueFilters(text=tag, category_code="noise"))
    assert hinted == [plain.tracking_code]
    classified = _codes(session, QueueFilters(text=tag, category_code="drainage_flooding"))
    assert classified == [urgent.tracking_code]
    in_ward = _codes(session, QueueFilters(text=tag, ward_code="46.W19815"))
    assert in_ward == [other_ward.tracking_code]
    waiting = _codes(session, QueueFilters(text=tag, state=LifecycleState.CLASSIFIED))
    assert waiting == [urgent.tracking_code]
    newest = _codes(session, QueueFilters(text=tag, sort=QueueSort.NEWEST))
    assert newest == [urgent.tracking_code, other_ward.tracking_code, plain.tracking_code]


def test_overdue_and_returned(session: Session) -> None:
    tag = _tag()
    late = _submit(session, tag)
    with clock.frozen_at(clock.now() + timedelta(days=3)):
        fresh = _submit(session, tag)
        overdue = _codes(session, QueueFilters(text=tag, overdue=True))
    assert late.tracking_code in overdue and fresh.tracking_code not in overdue
    r = refs(session)
    sent_back = _submit(session, tag)
    sent_back = fire(session, sent_back, E.CLASSIFY, r)
    sent_back = fire(session, sent_back, E.ASSIGN, r)
    sent_back = fire(session, sent_back, E.RETURN, r)
    only_classified = _submit(session, tag)
    fire(session, only_classified, E.CLASSIFY, r)
    assert _codes(session, QueueFilters(text=tag, returned=True)) == [sent_back.tracking_code]


def test_total_pages_and_the_next_item(session: Session) -> None:
    tag = _tag()
    made = [_submit(session, tag).tracking_code for _ in range(5)]
    filters = QueueFilters(text=tag)
    statement = worklists.coordinator_queue(filters)
    ordering = worklists.queue_ordering(filters.sort)
    second = worklists.numbered_page(session, statement, ordering, 2, 2)
    assert (second.total, second.pages, second.number) == (5, 3, 2)
    assert [r.tracking_code for r in second.items] == made[2:4]
    beyond = worklists.numbered_page(session, statement, ordering, 99, 2)
    assert beyond.number == 3 and [r.tracking_code for r in beyond.items] == made[4:]

    ids = {
        r.tracking_code: r.id or 0
        for r in session.exec(select(Reflection).where(col(Reflection.description).contains(tag)))
    }
    following = [worklists.next_in_order(session, statement, ordering, ids[c]) for c in made]
    assert following == [*made[1:], made[0]]  # the last one wraps round to the first
    newest = QueueFilters(text=tag, sort=QueueSort.NEWEST)
    backwards = worklists.coordinator_queue(newest)
    newest_order = worklists.queue_ordering(QueueSort.NEWEST)
    assert worklists.next_in_order(session, backwards, newest_order, ids[made[3]]) == made[2]


def test_decisions_waiting_for_a_coordinator(session: Session) -> None:
    r = refs(session)
    reflection = _submit(session, _tag())
    for event in (E.CLASSIFY, E.ASSIGN, E.ACCEPT, E.REQUEST_EXTENSION):
        reflection = fire(session, reflection, event, r)
    assert reflection.id is not None
    pending = session.exec(worklists.extension_requests()).all()
    assert reflection.id in {p.id for p in pending}
    request = worklists.latest_events(session, [reflection.id], LifecycleEvent.REQUEST_EXTENSION)
    assert request[reflection.id].reason == "chờ vật tư"
    reflection = fire(session, reflection, E.GRANT_EXTENSION, r)
    assert reflection.id not in {p.id for p in session.exec(worklists.extension_requests())}
    reflection = fire(session, reflection, E.PROCESS, r)
    assert reflection.id in {p.id for p in session.exec(worklists.processed_results())}


def test_a_supervisor_sees_what_moved_up_until_the_step_restarts(session: Session) -> None:
    r = refs(session)
    reflection = _submit(session, _tag())
    for event in (E.CLASSIFY, E.ASSIGN):
        reflection = fire(session, reflection, event, r)
    assert reflection.id is not None and reflection.handling_unit_id is not None
    city = _ward_id(session, "46")
    apply_event(
        session,
        reflection.id,
        E.ESCALATE,
        Actor.system(),
        EventInput(administrative_unit_id=city),
    )
    leader = Actor(Role.SUPERVISOR, administrative_unit_ids=frozenset({city}))
    unit_head = Actor(Role.SUPERVISOR, handling_unit_ids=frozenset({reflection.handling_unit_id}))
    for supervisor in (leader, unit_head):
        listed = session.exec(worklists.supervisor_escalations(session, supervisor)).all()
        assert reflection.id in {x.id for x in listed}
    assert not worklists.moved_up(leader, reflection)
    assert worklists.moved_up(unit_head, reflection)
    apply_event(session, reflection.id, E.ACCEPT, handler_of(reflection))  # the step restarts
    listed = session.exec(worklists.supervisor_escalations(session, leader)).all()
    assert reflection.id not in {x.id for x in listed}
