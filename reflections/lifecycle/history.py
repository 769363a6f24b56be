"""History rows: one per change, chained by hash so that tampering shows."""

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from reflections.models import HistoryEvent
from reflections.models.enums import LifecycleEvent
from statemachines import Position, fire


def canonical_content(row: HistoryEvent) -> str:
    """The fields a row's hash covers, as deterministic JSON."""
    content: dict[str, Any] = {
        "reflection_id": row.reflection_id,
        "seq": row.seq,
        "event": row.event.value,
        "from_state": row.from_state.value if row.from_state else None,
        "from_stage": row.from_stage.value if row.from_stage else None,
        "to_state": row.to_state.value,
        "to_stage": row.to_stage.value if row.to_stage else None,
        "actor_user_id": row.actor_user_id,
        "actor_role": row.actor_role.value,
        "payload": row.payload,
        "reason": row.reason,
        "occurred_at": _instant(row.occurred_at),
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(row: HistoryEvent, prev_hash: str | None) -> str:
    digest = hashlib.sha256((prev_hash or "").encode())
    digest.update(canonical_content(row).encode())
    return digest.hexdigest()


def last_hash(session: Session, reflection_id: int) -> str | None:
    statement = (
        select(HistoryEvent.hash)
        .where(HistoryEvent.reflection_id == reflection_id)
        .order_by(col(HistoryEvent.seq).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def append(session: Session, row: HistoryEvent, prev_hash: str | None) -> HistoryEvent:
    row.prev_hash = prev_hash
    row.hash = chain_hash(row, prev_hash)
    session.add(row)
    return row


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
