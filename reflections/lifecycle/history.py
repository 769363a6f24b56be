"""History rows: one per change, chained by hash so that tampering shows."""

import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from reflections.lifecycle import rows
from reflections.models import HistoryEvent
from reflections.models.enums import AssignmentStage, LifecycleEvent, LifecycleState, Role
from reflections.models.types import table_of, utc_text
from reflections.platform.db import execute
from statemachines import Position, fire

# The columns a row's hash covers, in the order of its JSON (sorted by name when hashed).
_HASHED = (
    "reflection_id",
    "seq",
    "event",
    "from_state",
    "from_stage",
    "to_state",
    "to_stage",
    "actor_user_id",
    "actor_role",
    "payload",
    "reason",
    "occurred_at",
)


def _canonical(values: Mapping[str, Any]) -> str:
    """The hashed fields as deterministic JSON: enums by value, the instant to the microsecond.
    The encoder asks :func:`_plain` only for what it cannot write itself (a StrEnum it writes
    as its value already), which is cheaper than asking for every field (issue 18)."""
    return _ENCODER.encode({name: values.get(name) for name in _HASHED})


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _instant(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# json.dumps with these options builds a new encoder on every call; one is enough (issue 18).
_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain
)


def canonical_content(row: HistoryEvent) -> str:
    """The fields a row's hash covers, as deterministic JSON."""
    return _canonical({name: getattr(row, name) for name in _HASHED})


def _digest(content: str, prev_hash: str | None) -> str:
    digest = hashlib.sha256((prev_hash or "").encode())
    digest.update(content.encode())
    return digest.hexdigest()


def chain_hash(row: HistoryEvent, prev_hash: str | None) -> str:
    return _digest(canonical_content(row), prev_hash)


_HISTORY = table_of(HistoryEvent)
# The newest row's hash (the chain's head) of the reflection bound as ``reflection_id``: read
# with the event's other reads (lifecycle/checks.py) when the row does not keep it yet.
LAST_HASH = (
    sa_select(_HISTORY.c.hash)
    .where(_HISTORY.c.reflection_id == bindparam("reflection_id"))
    .order_by(_HISTORY.c.seq.desc())
    .limit(1)
)


def append(session: Session, row: HistoryEvent, prev_hash: str | None) -> HistoryEvent:
    """Chain an ORM row and add it to the session (tests and tools building odd histories)."""
    row.prev_hash = prev_hash
    row.hash = chain_hash(row, prev_hash)
    session.add(row)
    return row


_INSERT = insert(_HISTORY)


def write(
    connection: Connection,
    *,
    reflection_id: int,
    seq: int,
    event: LifecycleEvent,
    to_state: LifecycleState,
    actor_role: Role,
    occurred_at: datetime,
    prev_hash: str | None,
    from_state: LifecycleState | None = None,
    from_stage: AssignmentStage | None = None,
    to_stage: AssignmentStage | None = None,
    actor_user_id: int | None = None,
    payload: dict[str, Any] | None = None,
    reason: str | None = None,
) -> str:
    """Chain and insert one history row in the connection's transaction (the session's);
    returns its hash.

    The service's path: one precompiled INSERT rather than an ORM object and a flush, which cost
    more than the rest of an event (issue 18). The row is the same as :func:`append` writes.
    """
    values: dict[str, Any] = {
        "reflection_id": reflection_id,
        "seq": seq,
        "event": event,
        "from_state": from_state,
        "from_stage": from_stage,
        "to_state": to_state,
        "to_stage": to_stage,
        "actor_user_id": actor_user_id,
        "actor_role": actor_role,
        "payload": payload or {},
        "reason": reason,
        "occurred_at": occurred_at,
        "prev_hash": prev_hash,
    }
    rows.refuse_nul({"reason": reason, **(payload or {})})
    values["hash"] = _digest(_canonical(values), prev_hash)
    execute(connection, _INSERT, values)
    return str(values["hash"])


def timeline(session: Session, reflection_id: int) -> list[HistoryEvent]:
    statement = (
        select(HistoryEvent)
        .where(HistoryEvent.reflection_id == reflection_id)
        .order_by(col(HistoryEvent.seq))
    )
    return list(session.exec(statement))


# Changes between staff that citizens never see: internal notes and who within the unit took
# the task. They are history rows like any other (hash-chained, replayed, audited).
INTERNAL_EVENTS = frozenset({LifecycleEvent.NOTE, LifecycleEvent.TAKE})


def citizen_timeline(rows: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """A timeline as the citizen may read it: without the staff's internal rows."""
    return [row for row in rows if row.event not in INTERNAL_EVENTS]


def _instant(value: datetime) -> str:
    """``isoformat(timespec="microseconds")``; for a plain UTC instant (nearly all) written
    field by field (:func:`utc_text`), the same text."""
    if type(value) is datetime and value.tzinfo is UTC:
        return utc_text(value, "T") + "+00:00"
    return value.isoformat(timespec="microseconds")


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """Payload values as JSON-native types, without the empty ones."""
    return {
        key: _instant(value) if isinstance(value, datetime) else value
        for key, value in data.items()
        if value is not None
    }


class HistoryMismatch(Exception):
    """A history that the lifecycle could not have produced."""


def replay(rows: Sequence[HistoryEvent], machine: Callable[..., Position] = fire) -> Position:
    """Run the machine over a stored history and return where it ends.

    Each row must start where the previous one ended and end where the machine says.
    ``machine`` stands in for :func:`statemachines.fire` (the audit passes a memoised one).
    """
    if not rows or rows[0].event is not LifecycleEvent.SUBMIT:
        raise HistoryMismatch("a history starts with its submission")
    position = Position()
    for row in rows[1:]:
        if (row.from_state, row.from_stage) != (position.state, position.stage):
            raise HistoryMismatch(
                f"row {row.seq} starts from {row.from_state}, not {position.state}"
            )
        position = machine(
            position, row.event, **row.payload, reason=row.reason, max_reopens=sys.maxsize
        )
        if (row.to_state, row.to_stage) != (position.state, position.stage):
            raise HistoryMismatch(f"row {row.seq} ends in {row.to_state}, not {position.state}")
    return position
