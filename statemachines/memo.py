"""The chart's outcomes remembered (issue 18): :func:`fire` answers as
:func:`statemachines.lifecycle.fire` does, without running python-statemachine again for a
case it has already decided.

An outcome depends on the position (without its confirmation deadline), the event, and what
the guards can tell of the data: whether a text is given (they test presence only), the
numbers themselves (a rating's range, the reopen limit), and how the instants compare (a new
due date after ``now``; ``now`` past the confirmation deadline). Those make the key; a guard
that read more of its data would need it added here (``tests/test_statemachine.py`` compares
both on generated cases). The machine does not change the confirmation deadline, so the
outcome carries the caller's.
"""

from dataclasses import replace
from datetime import datetime
from typing import Any

from statemachines.lifecycle import EventNotAllowed, GuardFailed, LifecycleEvent, Position
from statemachines.lifecycle import fire as machine_fire

_Key = tuple[Any, ...]
_memo: dict[_Key, Position | EventNotAllowed | GuardFailed] = {}
_LIMIT = 10_000
_INSTANTS = ("now", "new_due_at")


_NUMBERS = (bool, int, float)  # a tuple built once: ``bool | int | float`` was a new union per call


def _view(value: Any) -> Any:
    if value is None:  # most of an event's data
        return None
    if isinstance(value, str):
        return "text" if value.strip() else ""
    if isinstance(value, _NUMBERS):
        return value
    return type(value).__name__


def _before(first: Any, second: Any) -> bool | None:
    if isinstance(first, datetime) and isinstance(second, datetime):
        return first < second
    return None


def _key(position: Position, event: LifecycleEvent, data: dict[str, Any]) -> _Key:
    now, new_due = data.get("now"), data.get("new_due_at")
    instants = (
        _view(now),
        _view(new_due),
        _before(now, new_due),  # the requested date is in the future
        _view(position.confirm_due_at),
        _before(position.confirm_due_at, now),  # the confirmation window has closed
    )
    # Sorted by name (each name once, so the values are never compared); most values are None,
    # which is their own view: no call for them (issue 18).
    rest = tuple(
        [
            (name, None if v is None else _view(v))
            for name, v in sorted(data.items())
            if name not in _INSTANTS
        ]
    )
    return (_without_deadline(position), event, instants, rest)


def _without_deadline(position: Position) -> Position:
    """The position without its confirmation deadline (mostly it has none: no copy then, a
    copy of a frozen dataclass cost more than the lookup it keys; issue 18)."""
    if position.confirm_due_at is None:
        return position
    return replace(position, confirm_due_at=None)


def fire(position: Position, event: LifecycleEvent, **data: Any) -> Position:
    """:func:`statemachines.lifecycle.fire`, remembered; raises the same refusals."""
    key = _key(position, event, data)
    outcome = _memo.get(key)
    if outcome is None:
        try:
            outcome = _without_deadline(machine_fire(position, event, **data))
        except (EventNotAllowed, GuardFailed) as error:
            outcome = error
        if len(_memo) >= _LIMIT:
            _memo.clear()
        _memo[key] = outcome
    if not isinstance(outcome, Position):
        raise outcome.with_traceback(None)
    if position.confirm_due_at is None:
        return outcome  # frozen: the remembered one is safe to hand out
    return replace(outcome, confirm_due_at=position.confirm_due_at)
