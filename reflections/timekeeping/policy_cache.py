"""Step policies kept in memory per process and database (issue 18): every event that starts
a step, and every processed reflection, reads its policy, and a query each time was a tenth of
a transition's cost.

The table is small and rarely changes. A policy row written through the ORM in this process drops
the copy at once (and again at commit or rollback, so an uncommitted change never stays
cached); other processes read the table again after ``policy_refresh_seconds``, so a change
made by an administrator applies everywhere within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import object_session
from sqlmodel import Session, col

from reflections.models import StepPolicy
from reflections.models.enums import Priority
from reflections.platform.db import database_key
from reflections.platform.settings import get_settings


@dataclass(frozen=True)
class Policy:
    """A step policy row's allowances, detached from any session."""

    classify_minutes: int
    accept_minutes: int
    process_minutes: int
    confirm_window_minutes: int
    around_the_clock: bool


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    policies: dict[tuple[int | None, Priority], Policy]


_lock = threading.Lock()
_snapshots: dict[str, _Snapshot] = {}
_TOUCHED = "reflections.step_policies_touched"


def _database(session: OrmSession) -> str:
    return database_key(session)


def _load(session: Session) -> _Snapshot:
    # Columns, not entities: rows already in the session's identity map would come back as
    # they were loaded, not as the table holds them now.
    statement = sa_select(
        col(StepPolicy.category_id),
        col(StepPolicy.priority),
        col(StepPolicy.classify_minutes),
        col(StepPolicy.accept_minutes),
        col(StepPolicy.process_minutes),
        col(StepPolicy.confirm_window_minutes),
        col(StepPolicy.around_the_clock),
    )
    policies = {
        (category_id, Priority(priority)): Policy(classify, accept, process, window, around)
        for category_id, priority, classify, accept, process, window, around in session.execute(
            statement
        )
    }
    return _Snapshot(time.monotonic(), policies)


def policy_for(session: Session, category_id: int | None, priority: Priority) -> Policy | None:
    """The category's own policy for this priority, else the priority's default."""
    if session.info.get(_TOUCHED):  # this transaction changed policies: read them as it sees them
        snapshot = _load(session)
    else:
        key = _database(session)
        with _lock:
            snapshot_or_none = _snapshots.get(key)
        refresh = get_settings().policy_refresh_seconds
        if snapshot_or_none is None or time.monotonic() - snapshot_or_none.loaded_at >= refresh:
            snapshot_or_none = _load(session)
            with _lock:
                _snapshots[key] = snapshot_or_none
        snapshot = snapshot_or_none
    own = snapshot.policies.get((category_id, priority)) if category_id is not None else None
    return own or snapshot.policies.get((None, priority))


def invalidate(session: OrmSession | None = None) -> None:
    """Forget what was read (of one database, or of all): the next reading reloads."""
    with _lock:
        if session is None:
            _snapshots.clear()
        else:
            _snapshots.pop(_database(session), None)


def _changed(_mapper: Any, _connection: Any, row: StepPolicy) -> None:
    session = object_session(row)
    if session is not None:
        session.info[_TOUCHED] = True
        invalidate(session)


for _kind in ("after_insert", "after_update", "after_delete"):
    event.listen(StepPolicy, _kind, _changed)


def _transaction_ended(session: OrmSession, *_args: Any) -> None:
    if session.info.pop(_TOUCHED, False):
        invalidate(session)


event.listen(OrmSession, "after_commit", _transaction_ended)
event.listen(OrmSession, "after_soft_rollback", _transaction_ended)
