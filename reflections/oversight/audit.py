"""Tamper evidence for auditors (DESIGN.md §7): verifying the history's two chains.

Two chains cover the history table:

- **Per reflection** (:mod:`reflections.lifecycle.history`): each row's ``hash`` covers its
  content and the previous row's hash, seq 1..n with n the reflection's ``version``. Changing,
  deleting, reordering or inserting a row of a timeline breaks it there.
- **Anchors** (:class:`~reflections.models.AuditAnchor`, written hourly by
  ``flows/audit.py``): a digest of every history row of a contiguous id range, chained to the
  previous anchor. Deleting a whole reflection (its row and its history) leaves nothing for
  the first chain to notice; the anchor that covered its rows no longer matches.

:func:`verify` checks both and names the first broken link; :func:`verify_reflection` checks
one timeline. On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on the history and
anchor tables (migration bfd8b1e26f0f), so tampering takes a superuser switching triggers off;
these checks are what shows it afterwards, on PostgreSQL and on SQLite alike.

What no hash chain kept inside the database can show: rows appended since the last anchor
that were deleted together with their reflection, or forged with a correct hash, before the
next anchor; and an attacker who recomputes every hash and every anchor. The anchor flow logs
each anchor's hash in Prefect's run logs, outside this database: compare them to catch that.
"""

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select
from sqlmodel import Session, col

from reflections.errors import EventNotAllowed, GuardFailed, NotFound
from reflections.lifecycle import history
from reflections.models import HistoryEvent, Reflection
from reflections.models.enums import AssignmentStage, LifecycleState
from reflections.oversight import anchors
from reflections.oversight.findings import Problem, ProblemKind, VerifyReport
from statemachines import memo

_HISTORY = HistoryEvent.__table__  # type: ignore[attr-defined]


Progress = Callable[[int], None]  # told how many reflections have been checked so far


def verify(session: Session, progress: Progress | None = None) -> VerifyReport:
    """Check every reflection's timeline, then every anchor; stream, in bounded memory.

    Order of the problems: timelines by reflection id, then history rows whose reflection is
    gone, then anchors in chain order. Each reflection contributes its first problem only
    (what follows a broken link is broken too); every anchor is checked.
    """
    report = VerifyReport()
    _verify_timelines(session, report, reflection_id=None, progress=progress)
    _verify_orphans(session, report)
    anchors.verify_anchors(session, report)
    return report


def verify_reflection(session: Session, reflection_id: int) -> VerifyReport:
    """Check one reflection's timeline (not the anchors: that means re-reading their whole
    ranges); ``anchored_rows`` says how many of its rows an anchor covers."""
    if session.get(Reflection, reflection_id) is None:
        raise NotFound(f"reflection {reflection_id} does not exist")
    report = VerifyReport()
    _verify_timelines(session, report, reflection_id)
    previous = anchors.last_anchor(session)
    last_anchored = previous.last_history_id if previous else 0
    report.anchored_rows = session.execute(
        select(func.count()).where(
            col(HistoryEvent.reflection_id) == reflection_id,
            col(HistoryEvent.id) <= last_anchored,
        )
    ).scalar_one()
    report.unanchored_rows = report.rows - report.anchored_rows
    return report


@dataclass(frozen=True)
class _Header:
    id: int
    tracking_code: str
    version: int
    state: LifecycleState
    stage: AssignmentStage | None


def reflection_count(session: Session) -> int:
    """How many timelines :func:`verify` reads (for a progress bar)."""
    return int(session.execute(select(func.count()).select_from(Reflection)).scalar_one())


def _verify_timelines(
    session: Session,
    report: VerifyReport,
    reflection_id: int | None,
    progress: Progress | None = None,
) -> None:
    # One statement, so every reflection and its history come from the same snapshot: a
    # change commits the new version and its history row together. Plain rows, not ORM
    # objects (a third of the cost): they carry the history columns by name, which is all
    # that hashing and replaying read.
    statement = (
        select(
            col(Reflection.id).label("reflection_key"),
            col(Reflection.tracking_code).label("reflection_code"),
            col(Reflection.version).label("reflection_version"),
            col(Reflection.state).label("reflection_state"),
            col(Reflection.assignment_stage).label("reflection_stage"),
            *_HISTORY.columns,
        )
        .select_from(Reflection)
        .outerjoin(_HISTORY, _HISTORY.c.reflection_id == col(Reflection.id))
        .order_by(col(Reflection.id), _HISTORY.c.seq)
        .execution_options(yield_per=anchors.BATCH_SIZE)
    )
    if reflection_id is not None:
        statement = statement.where(col(Reflection.id) == reflection_id)
    result = session.execute(statement)
    try:
        for _, group in itertools.groupby(result, key=lambda row: row.reflection_key):
            first = next(group)
            header = _Header(
                first.reflection_key,
                first.reflection_code,
                first.reflection_version,
                first.reflection_state,
                first.reflection_stage,
            )
            rows = [
                cast(HistoryEvent, row)
                for row in itertools.chain([first], group)
                if row.id is not None  # the outer join's row of a reflection without history
            ]
            report.reflections += 1
            report.rows += len(rows)
            problem = _timeline_problem(header, rows)
            if problem is not None:
                report.add(problem)
            if progress is not None:
                progress(report.reflections)
    finally:
        result.close()


def _timeline_problem(header: _Header, rows: Sequence[HistoryEvent]) -> Problem | None:
    """The first broken link of one reflection's timeline (``rows`` ordered by seq), if any."""

    def problem(
        kind: ProblemKind, detail: str, row: HistoryEvent | None = None, **where: Any
    ) -> Problem:
        if row is not None:
            where.setdefault("seq", row.seq)
            where["history_id"] = row.id
        return Problem(
            kind, detail, reflection_id=header.id, tracking_code=header.tracking_code, **where
        )

    if not rows:
        return problem(
            ProblemKind.HISTORY_MISSING,
            f"history missing entirely (the reflection is at version {header.version})",
        )
    previous: HistoryEvent | None = None
    for expected, row in enumerate(rows, start=1):
        if row.seq > expected:
            gone = f"seq {expected}" + (f"–{row.seq - 1}" if row.seq > expected + 1 else "")
            return problem(
                ProblemKind.ROW_MISSING,
                f"row missing: {gone} (the next row is seq {row.seq})",
                seq=expected,
            )
        if row.seq < expected:
            return problem(ProblemKind.SEQ_OUT_OF_ORDER, f"seq {row.seq} appears twice", row)
        if row.prev_hash != (previous.hash if previous else None):
            linked = next((other for other in rows if other.hash == row.prev_hash), None)
            if linked is not None:
                return problem(
                    ProblemKind.SEQ_OUT_OF_ORDER,
                    f"seq out of order: at seq {expected}, but chained after the row now at "
                    f"seq {linked.seq}",
                    row,
                )
            if history.chain_hash(row, row.prev_hash) == row.hash:
                return problem(
                    ProblemKind.BROKEN_LINK,
                    "prev_hash is not the previous row's hash (a row was replaced or inserted)",
                    row,
                )
            return problem(ProblemKind.CONTENT_CHANGED, "hash does not match content", row)
        if history.chain_hash(row, row.prev_hash) != row.hash:
            return problem(ProblemKind.CONTENT_CHANGED, "hash does not match content", row)
        previous = row
    if len(rows) < header.version:
        gone = f"seq {len(rows) + 1}" + (
            f"–{header.version}" if header.version > len(rows) + 1 else ""
        )
        return problem(
            ProblemKind.ROW_MISSING,
            f"row missing: {gone} (the reflection is at version {header.version}, "
            f"its history ends at seq {len(rows)})",
            seq=len(rows) + 1,
        )
    if len(rows) > header.version:
        extra = rows[header.version]
        return problem(
            ProblemKind.EXTRA_ROW,
            f"row not accounted for: the reflection is at version {header.version}, "
            f"its history has {len(rows)} rows",
            extra,
        )
    try:
        position = history.replay(rows, machine=memo.fire)  # a few dozen shapes, remembered
    except (history.HistoryMismatch, EventNotAllowed, GuardFailed) as error:
        return problem(
            ProblemKind.IMPOSSIBLE_HISTORY,
            f"the lifecycle could not have produced this history: {error}",
        )
    if (position.state, position.stage) != (header.state, header.stage):
        return problem(
            ProblemKind.STATE_MISMATCH,
            f"the reflection is {_place(header.state, header.stage)} but its history ends "
            f"{_place(position.state, position.stage)}",
        )
    return None


def _place(state: LifecycleState, stage: AssignmentStage | None) -> str:
    return f"{state.value}/{stage.value}" if stage else state.value


def _verify_orphans(session: Session, report: VerifyReport) -> None:
    """History rows whose reflection row is gone (foreign keys were switched off)."""
    statement = (
        select(col(HistoryEvent.reflection_id), func.count(), func.min(col(HistoryEvent.id)))
        .outerjoin(Reflection, col(Reflection.id) == col(HistoryEvent.reflection_id))
        .where(col(Reflection.id).is_(None))
        .group_by(col(HistoryEvent.reflection_id))
        .order_by(col(HistoryEvent.reflection_id))
    )
    for reflection_id, count, first_id in session.execute(statement):
        report.rows += count
        report.add(
            Problem(
                ProblemKind.REFLECTION_MISSING,
                f"{count} history row{'s' if count != 1 else ''} of a reflection whose row "
                "is missing",
                reflection_id=reflection_id,
                history_id=first_id,
            )
        )
