"""The reflection lifecycle of DESIGN.md §4 as a python-statemachine chart.

The machine is flat: the ``assigned`` state of the design has two stages (awaiting acceptance,
in progress), which are machine states here and a (state, stage) pair in storage.
Guards check the data an event needs; who may fire an event is the domain core's business.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from statemachine import Event, State, StateChart
from statemachine.contrib.diagram import formatter
from statemachine.exceptions import TransitionNotAllowed


class LifecycleState(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    ASSIGNED = "assigned"
    PROCESSED = "processed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class AssignmentStage(StrEnum):
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    IN_PROGRESS = "in_progress"


class LifecycleEvent(StrEnum):
    SUBMIT = "submit"
    CLASSIFY = "classify"
    REJECT = "reject"
    ASSIGN = "assign"
    ACCEPT = "accept"
    RETURN = "return"
    REASSIGN = "reassign"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    DENY_EXTENSION = "deny_extension"
    PROCESS = "process"
    SEND_BACK = "send_back"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    REMIND = "remind"
    ESCALATE = "escalate"
    NOTE = "note"  # an internal note between staff: never shown to the citizen
    TAKE = "take"  # a handler takes the task within the unit (personal assignment)
    ADD_INFO = "add_info"  # the citizen adds information or photos while it is open


FINAL_STATES = frozenset({LifecycleState.CONFIRMED, LifecycleState.REJECTED})


class EventNotAllowed(Exception):
    """The event does not apply in the current state."""

    def __init__(
        self, event: str, state: str, stage: str | None, allowed: list[LifecycleEvent]
    ) -> None:
        self.event, self.state, self.stage, self.allowed = event, state, stage, allowed
        where = f"{state} ({stage})" if stage else state
        names = ", ".join(allowed) or "none"
        super().__init__(f"'{event}' is not allowed in state {where}; allowed: {names}")


class GuardFailed(Exception):
    """The event applies in this state, but the data it needs is missing or wrong."""

    def __init__(self, event: str, field: str, reason: str, code: str = "invalid") -> None:
        self.event, self.field, self.reason, self.code = event, field, reason, code
        super().__init__(f"{event}: {field} {reason}")


@dataclass(frozen=True)
class Position:
    """Where a reflection stands: what the machine reads and what it changes."""

    state: LifecycleState = LifecycleState.RECEIVED
    stage: AssignmentStage | None = None
    extension_pending: bool = False
    reopen_count: int = 0
    confirm_due_at: datetime | None = None

    @property
    def machine_state(self) -> str:
        return self.stage.value if self.stage else self.state.value


_STAGES = {stage.value: stage for stage in AssignmentStage}


class _Model:
    """Mutable holder the chart writes to; converted back into a :class:`Position`."""

    def __init__(self, position: Position) -> None:
        self.state: str = position.machine_state
        self.load(position)

    def load(self, position: Position) -> None:
        self.extension_pending = position.extension_pending
        self.reopen_count = position.reopen_count
        self.confirm_due_at = position.confirm_due_at

    def position(self) -> Position:
        stage = _STAGES.get(self.state)
        state = LifecycleState.ASSIGNED if stage else LifecycleState(self.state)
        return Position(
            state, stage, self.extension_pending, self.reopen_count, self.confirm_due_at
        )


def _require(event: str, field: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise GuardFailed(event, field, "is required", "required")


class ReflectionLifecycle(StateChart[_Model]):
    """States and events of one reflection; guards raise :class:`GuardFailed`."""

    allow_event_without_transition = False
    catch_errors_as_events = False
    enable_self_transition_entries = False

    received = State("Received", initial=True)
    classified = State("Classified")
    awaiting_acceptance = State("Assigned: awaiting acceptance")
    in_progress = State("Assigned: in progress")
    processed = State("Processed")
    confirmed = State("Confirmed", final=True)
    rejected = State("Rejected", final=True)

    classify = classified.from_(received, validators="needs_classification")
    reject = rejected.from_(received, classified, validators="needs_reason")
    assign = classified.to(awaiting_acceptance, validators="needs_unit")
    accept = awaiting_acceptance.to(in_progress)
    return_ = Event(
        awaiting_acceptance.to(classified, validators="needs_reason")
        | in_progress.to(classified, validators="needs_reason"),
        id="return",
        name="Return",
    )
    reassign = awaiting_acceptance.from_(awaiting_acceptance, in_progress, validators="needs_unit")
    request_extension = awaiting_acceptance.to.itself(
        internal=True, validators="needs_extension_request", on="mark_extension_pending"
    ) | in_progress.to.itself(
        internal=True, validators="needs_extension_request", on="mark_extension_pending"
    )
    grant_extension = awaiting_acceptance.to.itself(
        internal=True, validators="needs_pending_extension", on="clear_extension"
    ) | in_progress.to.itself(
        internal=True, validators="needs_pending_extension", on="clear_extension"
    )
    deny_extension = awaiting_acceptance.to.itself(
        internal=True, validators=["needs_pending_extension", "needs_reason"], on="clear_extension"
    ) | in_progress.to.itself(
        internal=True, validators=["needs_pending_extension", "needs_reason"], on="clear_extension"
    )
    process = in_progress.to(processed, validators="needs_result")
    send_back = processed.to(in_progress, validators="needs_reason")
    confirm = processed.to(confirmed, validators="needs_valid_rating")
    reopen = processed.to(in_progress, validators="needs_reopen_allowance", on="count_reopen")
    remind = (
        received.to.itself(internal=True)
        | classified.to.itself(internal=True)
        | awaiting_acceptance.to.itself(internal=True)
        | in_progress.to.itself(internal=True)
    )
    escalate = (
        received.to.itself(internal=True)
        | classified.to.itself(internal=True)
        | awaiting_acceptance.to.itself(internal=True)
        | in_progress.to.itself(internal=True)
        | processed.to.itself(internal=True)
    )
    # Changes to a reflection that move no state, kept in the chained history like the rest.
    note = (
        received.to.itself(internal=True, validators="needs_reason")
        | classified.to.itself(internal=True, validators="needs_reason")
        | awaiting_acceptance.to.itself(internal=True, validators="needs_reason")
        | in_progress.to.itself(internal=True, validators="needs_reason")
        | processed.to.itself(internal=True, validators="needs_reason")
    )
    take = awaiting_acceptance.to.itself(
        internal=True, validators="needs_assignee"
    ) | in_progress.to.itself(internal=True, validators="needs_assignee")
    add_info = (
        received.to.itself(internal=True, validators="needs_reason")
        | classified.to.itself(internal=True, validators="needs_reason")
        | awaiting_acceptance.to.itself(internal=True, validators="needs_reason")
        | in_progress.to.itself(internal=True, validators="needs_reason")
    )

    # -- guards ---------------------------------------------------------------------------
    def needs_classification(
        self,
        event: str,
        category_id: Any = None,
        priority: Any = None,
        administrative_unit_id: Any = None,
        **_: Any,
    ) -> None:
        _require(event, "category_id", category_id)
        _require(event, "priority", priority)
        _require(event, "administrative_unit_id", administrative_unit_id)

    def needs_reason(self, event: str, reason: str | None = None, **_: Any) -> None:
        _require(event, "reason", reason)

    def needs_unit(self, event: str, handling_unit_id: Any = None, **_: Any) -> None:
        _require(event, "handling_unit_id", handling_unit_id)

    def needs_assignee(self, event: str, assignee_user_id: Any = None, **_: Any) -> None:
        _require(event, "assignee_user_id", assignee_user_id)

    def needs_extension_request(
        self,
        event: str,
        reason: str | None = None,
        new_due_at: datetime | None = None,
        now: datetime | None = None,
        **_: Any,
    ) -> None:
        if self.model.extension_pending:
            raise GuardFailed(event, "extension", "is already requested and not yet decided")
        _require(event, "reason", reason)
        _require(event, "new_due_at", new_due_at)
        if isinstance(now, datetime) and isinstance(new_due_at, datetime) and new_due_at <= now:
            raise GuardFailed(event, "new_due_at", "must be in the future", "not_in_future")

    def needs_pending_extension(self, event: str, **_: Any) -> None:
        if not self.model.extension_pending:
            raise GuardFailed(event, "extension", "has not been requested")

    def needs_result(self, event: str, result: str | None = None, **_: Any) -> None:
        _require(event, "result", result)

    def needs_valid_rating(self, event: str, rating: int | None = None, **_: Any) -> None:
        if rating is not None and not 1 <= rating <= 5:
            raise GuardFailed(event, "rating", "must be between 1 and 5", "rating_range")

    def needs_reopen_allowance(
        self,
        event: str,
        reason: str | None = None,
        max_reopens: int = 0,
        now: datetime | None = None,
        **_: Any,
    ) -> None:
        _require(event, "reason", reason)
        if self.model.reopen_count >= max_reopens:
            raise GuardFailed(
                event, "reopen", f"is allowed at most {max_reopens} times", "reopen_limit"
            )
        due = self.model.confirm_due_at
        if now is not None and due is not None and now > due:
            raise GuardFailed(event, "reopen", "window has closed", "reopen_closed")

    # -- actions --------------------------------------------------------------------------
    def mark_extension_pending(self) -> None:
        self.model.extension_pending = True

    def clear_extension(self) -> None:
        self.model.extension_pending = False

    def count_reopen(self) -> None:
        self.model.reopen_count += 1


_local = threading.local()


def _machine(position: Position) -> ReflectionLifecycle:
    """A machine placed at ``position``; one per thread, since building one costs ~1 ms."""
    machine: ReflectionLifecycle | None = getattr(_local, "machine", None)
    if machine is None:
        machine = _local.machine = ReflectionLifecycle(model=_Model(position))
    else:
        machine.model.load(position)
        machine.current_state_value = position.machine_state
        # A final state stops the engine; placed elsewhere it runs again (rebuilding it would
        # cost the millisecond this cache saves, once per closed reflection).
        machine._engine.running = True
    return machine


@cache
def _events_by_state() -> dict[str, list[LifecycleEvent]]:
    return {
        state.value: [LifecycleEvent(event) for event in state.transitions.unique_events]
        for state in ReflectionLifecycle.states_map.values()
    }


def allowed_events(position: Position) -> list[LifecycleEvent]:
    """Events that apply in this state, in declaration order (guards not evaluated)."""
    return list(_events_by_state()[position.machine_state])


def fire(position: Position, event: LifecycleEvent, **data: Any) -> Position:
    """Apply ``event`` with its data and return the new position; the input is unchanged.

    ``data`` uses the field names of the history payloads, so a stored history replays.
    Raises :class:`EventNotAllowed` or :class:`GuardFailed`.
    """
    allowed = allowed_events(position)
    if event not in allowed:
        raise EventNotAllowed(event, position.state, position.stage, allowed)
    machine = _machine(position)
    try:
        machine.send(event.value, **data)
    except TransitionNotAllowed:  # the table above refuses these first; kept as a backstop
        raise EventNotAllowed(event, position.state, position.stage, allowed) from None
    return machine.model.position()


def mermaid_diagram() -> str:
    """Mermaid source of the chart, for the README."""
    return formatter.render(ReflectionLifecycle, "mermaid")
