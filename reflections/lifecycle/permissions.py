"""Who may fire which event on which reflection (DESIGN.md §3 and §4)."""

from sqlmodel import Session

from reflections.actors import Actor
from reflections.errors import Forbidden
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent as E
from reflections.models.enums import Role as R  # noqa: N817  (the table below reads better)
from reflections.organisation.hierarchy import handling_unit_within

EVENT_ROLES: dict[E, frozenset[R]] = {
    E.SUBMIT: frozenset({R.CITIZEN, R.OPERATOR}),
    E.CLASSIFY: frozenset({R.COORDINATOR, R.SYSTEM}),  # system: auto-classification rules
    E.REJECT: frozenset({R.COORDINATOR}),
    E.ASSIGN: frozenset({R.COORDINATOR, R.SYSTEM}),  # system: routing rules
    E.ACCEPT: frozenset({R.HANDLER}),
    E.RETURN: frozenset({R.HANDLER}),
    E.REASSIGN: frozenset({R.COORDINATOR, R.SUPERVISOR}),
    E.REQUEST_EXTENSION: frozenset({R.HANDLER}),
    E.GRANT_EXTENSION: frozenset({R.COORDINATOR}),
    E.DENY_EXTENSION: frozenset({R.COORDINATOR}),
    E.PROCESS: frozenset({R.HANDLER}),
    E.SEND_BACK: frozenset({R.COORDINATOR}),
    E.CONFIRM: frozenset({R.CITIZEN, R.SYSTEM}),  # system: the confirmation window closed
    E.REOPEN: frozenset({R.CITIZEN}),
    E.REMIND: frozenset({R.SYSTEM}),  # the deadline sweep, at 75% of a step's allowance
    E.ESCALATE: frozenset({R.SYSTEM, R.SUPERVISOR}),
}


def may_fire(role: R, event: E) -> bool:
    return role in EVENT_ROLES[event]


def check_may_fire(
    session: Session,
    actor: Actor,
    event: E,
    reflection: Reflection,
    new_handling_unit_id: int | None = None,
) -> None:
    """Raise :class:`Forbidden` unless the actor's role and scope allow the event here."""
    if not may_fire(actor.role, event):
        raise Forbidden(f"a {actor.role} may not {event} a reflection")
    if actor.role is R.CITIZEN and actor.reflection_id != reflection.id:
        raise Forbidden("a citizen acts only on their own reflection")
    if actor.role is R.HANDLER and reflection.handling_unit_id not in actor.handling_unit_ids:
        raise Forbidden("a handler acts only on reflections assigned to their unit")
    if actor.role is R.SUPERVISOR:
        units = [reflection.handling_unit_id, new_handling_unit_id]
        for unit in filter(None, units):
            if not handling_unit_within(
                session, unit, actor.handling_unit_ids, actor.administrative_unit_ids
            ):
                raise Forbidden("the reflection's unit is outside this supervisor's scope")
        if reflection.handling_unit_id is None:
            raise Forbidden("a supervisor acts only on reflections assigned to a unit")
