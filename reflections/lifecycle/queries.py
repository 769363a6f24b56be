"""The lists people work from, as SQL statements (paged and filtered by the caller)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, literal, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from reflections.actors import Actor
from reflections.messaging.sign_in import Contact, reporter_clause
from reflections.models import Category, Follower, HandlingUnit, Reflection, Reporter
from reflections.models.enums import AssignmentStage, LifecycleState, Priority
from reflections.models.types import UTCDateTime
from reflections.organisation.visibility import visible_clause
from reflections.platform import clock

OPEN_STATES = (LifecycleState.RECEIVED, LifecycleState.CLASSIFIED, LifecycleState.ASSIGNED)
FAR_FUTURE = datetime.fromisoformat("9999-01-01T00:00:00+00:00")


def current_due_at() -> ColumnElement[datetime]:
    """The deadline of the step the reflection is in (NULL when none runs)."""
    return case(
        (
            col(Reflection.state).in_([LifecycleState.RECEIVED, LifecycleState.CLASSIFIED]),
            col(Reflection.classify_due_at),
        ),
        (
            col(Reflection.assignment_stage) == AssignmentStage.AWAITING_ACCEPTANCE,
            col(Reflection.accept_due_at),
        ),
        (
            col(Reflection.assignment_stage) == AssignmentStage.IN_PROGRESS,
            col(Reflection.process_due_at),
        ),
        else_=None,
    )


def due_sort_key() -> ColumnElement[datetime]:
    """Soonest deadline first, reflections without one last."""
    return func.coalesce(current_due_at(), literal(FAR_FUTURE, UTCDateTime()))


@dataclass(frozen=True)
class SearchFilters:
    state: LifecycleState | None = None
    category_code: str | None = None
    unit_code: str | None = None
    priority: Priority | None = None
    overdue: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None


def search(session: Session, actor: Actor, filters: SearchFilters) -> SelectOfScalar[Reflection]:
    statement = select(Reflection).where(visible_clause(session, actor))
    if filters.state:
        statement = statement.where(Reflection.state == filters.state)
    if filters.category_code:
        statement = statement.join(Category, col(Category.id) == Reflection.category_id).where(
            Category.code == filters.category_code
        )
    if filters.unit_code:
        statement = statement.join(
            HandlingUnit, col(HandlingUnit.id) == Reflection.handling_unit_id
        ).where(HandlingUnit.code == filters.unit_code)
    if filters.priority:
        statement = statement.where(Reflection.priority == filters.priority)
    if filters.overdue is not None:
        late = current_due_at() < clock.now()
        statement = statement.where(
            late if filters.overdue else or_(~late, current_due_at().is_(None))
        )
    if filters.created_from:
        statement = statement.where(col(Reflection.created_at) >= filters.created_from)
    if filters.created_to:
        statement = statement.where(col(Reflection.created_at) < filters.created_to)
    if filters.text:
        words = filters.text.lower()  # % and _ are the citizen's characters, not wildcards
        statement = statement.where(
            or_(
                func.lower(col(Reflection.description)).contains(words, autoescape=True),
                func.lower(col(Reflection.address)).contains(words, autoescape=True),
                col(Reflection.tracking_code) == filters.text.upper(),
            )
        )
    return statement


def emergencies_first() -> ColumnElement[int]:
    """0 for emergencies, 1 for the rest: the coordinator's queue puts emergencies on top."""
    return case((col(Reflection.priority) == Priority.EMERGENCY, 0), else_=1)


def coordinator_queue() -> SelectOfScalar[Reflection]:
    """New reflections, and those a unit returned, waiting for the IOC."""
    return select(Reflection).where(
        or_(
            col(Reflection.state) == LifecycleState.RECEIVED,
            and_(
                col(Reflection.state) == LifecycleState.CLASSIFIED,
                col(Reflection.handling_unit_id).is_(None),
            ),
        )
    )


def handler_inbox(actor: Actor) -> SelectOfScalar[Reflection]:
    return select(Reflection).where(
        col(Reflection.handling_unit_id).in_(actor.handling_unit_ids),
        Reflection.state == LifecycleState.ASSIGNED,
    )


def citizen_reflections(key_hash: str) -> SelectOfScalar[Reflection]:
    return select(Reflection).where(Reflection.secret_hash == key_hash)


def _contact_reporters(contact: Contact) -> SelectOfScalar[int | None]:
    return select(col(Reporter.id)).where(reporter_clause(contact))


def contact_reflections(contact: Contact) -> SelectOfScalar[Reflection]:
    """Every reflection made with this contact (on any device, or by an operator for them),
    and those its reporters follow."""
    reporters = _contact_reporters(contact)
    followed = select(Follower.reflection_id).where(col(Follower.reporter_id).in_(reporters))
    return select(Reflection).where(
        or_(col(Reflection.reporter_id).in_(reporters), col(Reflection.id).in_(followed))
    )


def contact_opens(session: Session, contact: Contact, reflection: Reflection) -> bool:
    mine = contact_reflections(contact).where(Reflection.id == reflection.id)
    return session.exec(mine).first() is not None


def contact_owns(session: Session, contact: Contact, reflection: Reflection) -> bool:
    """Whether the reflection was made with this contact (not merely followed)."""
    if reflection.reporter_id is None:
        return False
    mine = _contact_reporters(contact).where(Reporter.id == reflection.reporter_id)
    return session.exec(mine).first() is not None
