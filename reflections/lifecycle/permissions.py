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
    # system: auto-classification and routing rules; supervisors: what was escalated to them
    E.CLASSIFY: frozenset({R.COORDINATOR, R.SYSTEM, R.SUPERVISOR}),
    E.REJECT: frozenset({R.COORDINATOR}),
    E.ASSIGN: frozenset({R.COORDINATOR, R.SYSTEM, R.SUPERVISOR}),
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
    E.NOTE: frozenset({R.COORDINATOR, R.HANDLER, R.SUPERVISOR}),  # internal, between staff
    E.TAKE: frozenset({R.HANDLER}),  # personal assignment within the unit
    E.ADD_INFO: frozenset({R.CITIZEN}),  # more words or photos while it is open (issue 16)
}
# Supervisors classify and assign only reflections escalated to their own area (an IOC
# leader unblocking what the coordinators left waiting).
_ESCALATED_ONLY = frozenset({E.CLASSIFY, E.ASSIGN})


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
        _check_supervisor(session, actor, event, reflection, new_handling_unit_id)


def _check_supervisor(
    session: Session,
    actor: Actor,
    event: E,
    reflection: Reflection,
    new_handling_unit_id: int | None,
) -> None:
    """Within the units under the supervisor's areas, or on what was escalated to them; a unit
    they hand the reflection to must be within their scope."""

    def within(unit_id: int) -> bool:
        return handling_unit_within(
            session, unit_id, actor.handling_unit_ids, actor.administrative_unit_ids
        )

    escalated_here = reflection.escalated_to_id in actor.administrative_unit_ids
    if event in _ESCALATED_ONLY and not escalated_here:
        raise Forbidden(f"a supervisor may {event} only what was escalated to their area")
    current = reflection.handling_unit_id
    if current is None and not escalated_here:
        raise Forbidden("a supervisor acts only on reflections assigned to a unit")
    if current is not None and not escalated_here and not within(current):
        raise Forbidden("the reflection's unit is outside this supervisor's scope")
    if new_handling_unit_id is not None and not within(new_handling_unit_id):
        raise Forbidden("the new unit is outside this supervisor's scope")
