"""Building reflections in a given lifecycle position through the real service."""

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    Membership,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.platform import clock
from statemachines import AssignmentStage, LifecycleState

E = LifecycleEvent


@dataclass(frozen=True)
class Refs:
    category_id: int
    administrative_unit_id: int
    unit_id: int
    other_unit_id: int


def refs(session: Session) -> Refs:
    category = session.exec(select(Category).order_by(col(Category.id))).first()
    ward = session.exec(
        select(AdministrativeUnit).where(AdministrativeUnit.level == "commune")
    ).first()
    units = session.exec(select(HandlingUnit).order_by(col(HandlingUnit.id)).limit(2)).all()
    assert category and ward and len(units) == 2
    assert category.id and ward.id and units[0].id and units[1].id
    return Refs(category.id, ward.id, units[0].id, units[1].id)


COORDINATOR = Actor(Role.COORDINATOR)
SYSTEM = Actor.system()


def handler_of(reflection: Reflection) -> Actor:
    assert reflection.handling_unit_id is not None
    return Actor(Role.HANDLER, handling_unit_ids=frozenset({reflection.handling_unit_id}))


def citizen_of(reflection: Reflection) -> Actor:
    return Actor.citizen(reflection.id)


def new_reflection(session: Session, description: str = "Đèn đường hỏng trước số 12") -> Reflection:
    submitted = submit(
        session,
        Submission(description=description, address="12 Lê Lợi, Huế"),
        Actor.citizen(),
    )
    return submitted.reflection


def full_input(event: LifecycleEvent, r: Refs, reflection: Reflection) -> EventInput:
    """The data an event needs to pass its guards."""
    later = clock.now() + timedelta(days=3)
    other = r.other_unit_id if reflection.handling_unit_id == r.unit_id else r.unit_id
    return {
        E.CLASSIFY: EventInput(
            category_id=r.category_id,
            priority=Priority.NORMAL,
            administrative_unit_id=r.administrative_unit_id,
        ),
        E.REJECT: EventInput(reason="trùng lặp"),
        E.ASSIGN: EventInput(handling_unit_id=r.unit_id),
        E.RETURN: EventInput(reason="không đúng thẩm quyền", suggested_unit_id=other),
        E.REASSIGN: EventInput(handling_unit_id=other),
        E.REQUEST_EXTENSION: EventInput(reason="chờ vật tư", new_due_at=later),
        E.DENY_EXTENSION: EventInput(reason="không đủ lý do"),
        E.PROCESS: EventInput(result="Đã thay bóng đèn"),
        E.SEND_BACK: EventInput(reason="chưa xử lý dứt điểm"),
        E.CONFIRM: EventInput(rating=5, comment="Cảm ơn"),
        E.REOPEN: EventInput(reason="đèn lại hỏng"),
        E.NOTE: EventInput(reason="Đã gọi điện cho tổ trưởng dân phố"),
        E.ADD_INFO: EventInput(reason="Ổ gà rộng thêm sau trận mưa tối qua"),
    }.get(event, EventInput())


def unit_handler(session: Session, unit_id: int) -> User:
    """A handler of the unit (made once per unit), for events that name a person."""
    username = f"handler.unit{unit_id}"
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(
            username=username,
            full_name=f"Cán bộ đơn vị {unit_id}",
            role=Role.HANDLER,
            password_hash="-",
            created_at=clock.now(),
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        session.add(Membership(user_id=user.id, handling_unit_id=unit_id))
        session.commit()
    return user


def actor_for(event: LifecycleEvent, reflection: Reflection) -> Actor:
    """Someone whose role and scope allow the event on this reflection."""
    if event in (E.ACCEPT, E.RETURN, E.REQUEST_EXTENSION, E.PROCESS, E.TAKE):
        if reflection.handling_unit_id is None:
            return Actor(Role.HANDLER)
        return handler_of(reflection)
    if event in (E.CONFIRM, E.REOPEN, E.ADD_INFO):
        return citizen_of(reflection)
    if event in (E.ESCALATE, E.REMIND):
        return SYSTEM
    return COORDINATOR


def fire(session: Session, reflection: Reflection, event: LifecycleEvent, r: Refs) -> Reflection:
    assert reflection.id is not None
    data = full_input(event, r, reflection)
    if event is E.TAKE and reflection.handling_unit_id is not None:
        data = EventInput(assignee_user_id=unit_handler(session, reflection.handling_unit_id).id)
    return apply_event(session, reflection.id, event, actor_for(event, reflection), data)


# The path from submission to each machine state.
PATHS: dict[str, list[LifecycleEvent]] = {
    "received": [],
    "classified": [E.CLASSIFY],
    "awaiting_acceptance": [E.CLASSIFY, E.ASSIGN],
    "in_progress": [E.CLASSIFY, E.ASSIGN, E.ACCEPT],
    "processed": [E.CLASSIFY, E.ASSIGN, E.ACCEPT, E.PROCESS],
    "confirmed": [E.CLASSIFY, E.ASSIGN, E.ACCEPT, E.PROCESS, E.CONFIRM],
    "rejected": [E.REJECT],
}


def reflection_at(session: Session, machine_state: str, r: Refs) -> Reflection:
    reflection = new_reflection(session)
    for event in PATHS[machine_state]:
        reflection = fire(session, reflection, event, r)
    return reflection


def machine_state(reflection: Reflection) -> str:
    stage: AssignmentStage | None = reflection.assignment_stage
    return stage.value if stage else LifecycleState(reflection.state).value
