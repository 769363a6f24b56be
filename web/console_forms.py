"""The staff's action forms: what each one sends, and the lifecycle events it becomes.

Forms are read here rather than by FastAPI's parameter validation so that a refusal gives the
form back as typed with the sentence at the field (``web/field_errors.py``), instead of a
separate error page that loses the clerk's text. Every form ends in the one lifecycle service.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from api.deps import Caller
from api.lookup import id_for_code
from reflections.errors import InvalidInput
from reflections.lifecycle.service import NOTIFY_COORDINATORS, EventInput
from reflections.models import AdministrativeUnit, CannedText, Category, HandlingUnit
from reflections.models.enums import LifecycleEvent, Priority
from web.local_dates import local_instant, parse_clock, parse_day

E = LifecycleEvent
Steps = list[tuple[LifecycleEvent, EventInput]]


@dataclass(frozen=True)
class Input:
    name: str
    required: bool = False
    max_length: int = 2000


@dataclass(frozen=True)
class Action:
    """One form: its inputs, the text input a canned text may fill, and its events."""

    inputs: tuple[Input, ...]
    build: Callable[[Session, Caller, Mapping[str, str]], Steps]
    canned: str | None = None  # the input a chosen canned text fills when left empty
    aliases: Mapping[str, str] | None = None  # the domain's field names -> this form's inputs


# The domain's field names as the forms call them.
ALIASES = {
    "handling_unit_id": "handling_unit",
    "category_id": "category",
    "administrative_unit_id": "ward",
    "new_due_at": "new_due_date",
    "suggested_unit_id": "suggested_unit",
    "extension": "reason",
}


def _unit(session: Session, code: str, name: str) -> int | None:
    return id_for_code(session, HandlingUnit, code or None, name)


def _optional(text: str) -> str | None:
    return text.strip() or None


def _classify(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    """Classify, and assign at once when a unit is chosen (the routing rule's by default)."""
    try:
        priority = Priority(form["priority"])
    except ValueError:
        raise InvalidInput("priority", "is not a priority", "unknown_choice") from None
    data = EventInput(
        category_id=id_for_code(session, Category, form["category"], "category"),
        priority=priority,
        administrative_unit_id=id_for_code(session, AdministrativeUnit, form["ward"], "ward"),
    )
    steps: Steps = [(E.CLASSIFY, data)]
    unit = _unit(session, form["handling_unit"], "handling_unit")
    if unit is not None:
        steps.append((E.ASSIGN, EventInput(handling_unit_id=unit, reason=_optional(form["note"]))))
    return steps


def _to_unit(event: LifecycleEvent) -> Callable[[Session, Caller, Mapping[str, str]], Steps]:
    def build(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
        unit = _unit(session, form["handling_unit"], "handling_unit")
        return [(event, EventInput(handling_unit_id=unit, reason=_optional(form["reason"])))]

    return build


def _reason(event: LifecycleEvent) -> Callable[[Session, Caller, Mapping[str, str]], Steps]:
    def build(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
        return [(event, EventInput(reason=_optional(form["reason"])))]

    return build


def _due(form: Mapping[str, str]) -> Any:
    if not form["new_due_date"].strip():
        return None
    day = parse_day(form["new_due_date"], "new_due_date")
    return local_instant(day, parse_clock(form["new_due_time"], "new_due_time"), "new_due_date")


def _request_extension(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    data = EventInput(reason=_optional(form["reason"]), new_due_at=_due(form))
    return [(E.REQUEST_EXTENSION, data)]


def _grant_extension(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    """Without a date, what the unit asked for is granted."""
    return [
        (E.GRANT_EXTENSION, EventInput(reason=_optional(form["reason"]), new_due_at=_due(form)))
    ]


def _return(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    suggested = _unit(session, form["suggested_unit"], "suggested_unit")
    return [(E.RETURN, EventInput(reason=_optional(form["reason"]), suggested_unit_id=suggested))]


def _process(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    return [(E.PROCESS, EventInput(result=_optional(form["result"])))]


def _note(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    notify = NOTIFY_COORDINATORS if form["notify"] == "1" else None
    return [(E.NOTE, EventInput(reason=_optional(form["note"]), notify=notify))]


def _take(session: Session, caller: Caller, form: Mapping[str, str]) -> Steps:
    return [(E.TAKE, EventInput(assignee_user_id=caller.actor.user_id))]


REASON = Input("reason", required=True)
OPTIONAL_REASON = Input("reason")
DATE, TIME = Input("new_due_date", max_length=20), Input("new_due_time", max_length=10)
CODE = 64

ACTIONS: dict[str, Action] = {
    "classify": Action(
        (
            Input("category", True, CODE),
            Input("priority", True, 16),
            Input("ward", True, CODE),
            Input("handling_unit", False, CODE),
            Input("note"),
        ),
        _classify,
    ),
    "assign": Action((Input("handling_unit", True, CODE), OPTIONAL_REASON), _to_unit(E.ASSIGN)),
    "reassign": Action((Input("handling_unit", True, CODE), OPTIONAL_REASON), _to_unit(E.REASSIGN)),
    "accept": Action((), lambda session, caller, form: [(E.ACCEPT, EventInput())]),
    "return": Action((REASON, Input("suggested_unit", max_length=CODE)), _return, "reason"),
    "request_extension": Action(
        (REASON, Input("new_due_date", True, 20), TIME), _request_extension, "reason"
    ),
    "grant_extension": Action((OPTIONAL_REASON, DATE, TIME), _grant_extension),
    "deny_extension": Action((REASON,), _reason(E.DENY_EXTENSION), "reason"),
    "process": Action((Input("result", True, 5000),), _process, "result"),
    "send_back": Action((REASON,), _reason(E.SEND_BACK), "reason"),
    "reject": Action((REASON,), _reason(E.REJECT), "reason"),
    "escalate": Action((OPTIONAL_REASON,), _reason(E.ESCALATE)),
    "note": Action(
        (Input("note", True), Input("notify", max_length=1)), _note, aliases={"reason": "note"}
    ),
    "take": Action((), _take),
}
CANNED_FOR = {  # which event's canned texts a form offers
    "process": E.PROCESS,
    "reject": E.REJECT,
    "return": E.RETURN,
    "request_extension": E.REQUEST_EXTENSION,
    "deny_extension": E.DENY_EXTENSION,
    "send_back": E.SEND_BACK,
}

Refusal = tuple[str, str, dict[str, Any]]  # input, code, parameters of the sentence


def read_form(
    session: Session, action: str, raw: Mapping[str, Any]
) -> tuple[dict[str, str], list[Refusal]]:
    """The form's values as typed (strings; a chosen canned text fills its empty input) and
    what is missing or too long."""
    spec = ACTIONS[action]
    values = {field.name: _text(raw.get(field.name)) for field in spec.inputs}
    if spec.canned and not values[spec.canned].strip():
        values[spec.canned] = _canned(session, action, _text(raw.get("canned")))
    refusals: list[Refusal] = []
    for field in spec.inputs:
        value = values[field.name]
        if field.required and not value.strip():
            refusals.append((field.name, "required", {}))
        elif len(value) > field.max_length:
            refusals.append((field.name, "too_long", {"max": field.max_length}))
    return values, refusals


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _canned(session: Session, action: str, chosen: str) -> str:
    event = CANNED_FOR.get(action)
    if event is None or not chosen.isdigit():
        return ""
    row = session.exec(
        select(CannedText).where(CannedText.id == int(chosen), CannedText.event == event)
    ).first()
    return row.text if row is not None and row.retired_at is None else ""
