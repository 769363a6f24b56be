"""Tamper evidence for auditors (DESIGN.md §7): anchors over the whole history, and verify.

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

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, func, select, text
from sqlmodel import Session, col

from reflections.errors import EventNotAllowed, GuardFailed, NotFound
from reflections.lifecycle import history
from reflections.models import AuditAnchor, HistoryEvent, Reflection
from reflections.models.enums import AssignmentStage, LifecycleEvent, LifecycleState
from statemachines import Position, fire

SETTLE = timedelta(minutes=5)
BATCH_SIZE = 2000  # rows per fetch while streaming
MAX_PROBLEMS = 50  # problems kept in a report (all are counted)
# pg_advisory_xact_lock key serialising anchor runs: "REFAUDIT" as a big-endian int64.
_ANCHOR_LOCK = int.from_bytes(b"REFAUDIT", "big")
_HISTORY = HistoryEvent.__table__  # type: ignore[attr-defined]


class ProblemKind(StrEnum):
    """What is wrong at a broken link."""

    HISTORY_MISSING = "history_missing"  # a reflection without a single history row
    ROW_MISSING = "row_missing"  # a gap in seq, or fewer rows than the version says
    SEQ_OUT_OF_ORDER = "seq_out_of_order"  # rows reordered (their chain says otherwise)
    CONTENT_CHANGED = "content_changed"  # the hash does not match the row's content
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous row's hash
    EXTRA_ROW = "extra_row"  # more rows than the reflection's version
    IMPOSSIBLE_HISTORY = "impossible_history"  # the lifecycle could not have produced it
    STATE_MISMATCH = "state_mismatch"  # the reflection is not where its history ends
    REFLECTION_MISSING = "reflection_missing"  # history rows whose reflection row is gone
    ANCHOR_CHAIN = "anchor_chain"  # an anchor's prev_hash is not the previous anchor's hash
    ANCHOR_RANGE = "anchor_range"  # anchors' id ranges leave a gap or overlap
    ANCHOR_DIGEST = "anchor_digest"  # the rows in an anchor's range no longer match it


@dataclass(frozen=True)
class Problem:
    """One broken link: where (a reflection and seq, or an anchor and its id range) and what."""

    kind: ProblemKind
    detail: str
    reflection_id: int | None = None
    tracking_code: str | None = None
    seq: int | None = None
    history_id: int | None = None
    anchor_id: int | None = None
    first_history_id: int | None = None
    last_history_id: int | None = None

    @property
    def where(self) -> str:
        if self.anchor_id is not None:
            return (
                f"anchor {self.anchor_id} "
                f"(history ids {self.first_history_id}–{self.last_history_id})"
            )
        place = (
            f"reflection {self.tracking_code}"
            if self.tracking_code
            else f"reflection id {self.reflection_id}"
        )
        if self.seq is not None:
            place += f" seq {self.seq}"
        if self.history_id is not None:
            place += f" (history id {self.history_id})"
        return place

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass
class VerifyReport:
    """What was checked and, unless intact, the broken links (the first first)."""

    reflections: int = 0
    rows: int = 0
    anchors: int = 0
    anchored_rows: int = 0  # rows inside an anchor's id range
    unanchored_rows: int = 0  # rows after the last anchor: only their own chain covers them
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line: "chain intact: ..." or "chain broken at ...: ..."."""
        counts = f"{self.reflections} reflections, {self.rows} rows, {self.anchors} anchors" + (
            f", {self.unanchored_rows} rows not yet anchored" if self.unanchored_rows else ""
        )
        if self.first_problem is None:
            return f"chain intact: {counts}"
        more = self.problem_count - 1
        also = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        return f"chain broken at {self.first_problem}{also}; checked {counts}"


# -- anchors ------------------------------------------------------------------------------


class _Digest:
    """sha256 over the previous anchor's hash, each covered row's ``id:hash`` in id order,
    then the range and the count, so that the anchor's own fields are covered too."""

    def __init__(self, prev_hash: str | None) -> None:
        self._sha = hashlib.sha256((prev_hash or "").encode())
        self.count = 0
        self.last_id: int | None = None

    def add(self, history_id: int, row_hash: str) -> None:
        self._sha.update(f"{history_id}:{row_hash}\n".encode())
        self.count += 1
        self.last_id = history_id

    def hexdigest(self, first_id: int, last_id: int) -> str:
        final = self._sha.copy()
        final.update(f"|{first_id}-{last_id}:{self.count}".encode())
        return final.hexdigest()


def _last_anchor(session: Session) -> AuditAnchor | None:
    statement = select(AuditAnchor).order_by(col(AuditAnchor.id).desc()).limit(1)
    return session.execute(statement).scalars().first()


def _serialise_anchoring(session: Session) -> None:
    """Make concurrent :func:`anchor` runs take turns until this transaction ends.

    PostgreSQL: a transaction-level advisory lock (the anchors table has no unique constraint
    to lose a race on). SQLite serialises writers, but pysqlite begins a transaction only at
    the first write, so two runs could both read the same last anchor first: take the write
    lock before reading (BEGIN IMMEDIATE waits, up to the busy timeout, for the other run).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ANCHOR_LOCK})
    elif connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def anchor(session: Session, now: datetime, settle: timedelta = SETTLE) -> AuditAnchor | None:
    """Anchor the settled history rows not yet anchored, and commit; None if there are none.

    The new anchor covers the ids after the last anchor's ``last_history_id`` up to the last
    row before the first one that occurred less than ``settle`` before ``now``: every row with
    ``occurred_at <= now - settle``, as history is written in time order.

    Why the margin: ids are drawn when a row is inserted, but the row becomes visible only when
    its transaction commits. A transaction that drew id 100 and commits a moment after this
    run saw id 101 committed would leave a hole in the range, then fill it: an anchor over 101
    would no longer match. A lifecycle transaction lasts well under a second, so a row that
    occurred ``settle`` ago belongs to a transaction that has ended, and so do all rows with
    smaller ids, drawn before it. (Drills that write history "as of" another instant bend
    this: a row dated in the future holds anchoring back until then; anchor drills with the
    same ``at``.)

    Runs take turns (see :func:`_serialise_anchoring`), so two at once never cover the same
    rows or fork the chain: the second one anchors what is left, usually nothing.
    """
    try:
        _serialise_anchoring(session)
        previous = _last_anchor(session)
        after = previous.last_history_id if previous else 0
        unsettled = session.execute(
            select(func.min(col(HistoryEvent.id))).where(
                col(HistoryEvent.id) > after, col(HistoryEvent.occurred_at) > now - settle
            )
        ).scalar_one()
        covered = [col(HistoryEvent.id) > after]
        if unsettled is not None:
            covered.append(col(HistoryEvent.id) < unsettled)
        digest = _Digest(previous.hash if previous else None)
        for history_id, row_hash in _hashes(session, *covered):
            digest.add(history_id, row_hash)
        if digest.last_id is None:
            session.commit()  # ends the transaction and frees the lock
            return None
        row = AuditAnchor(
            first_history_id=after + 1,
            last_history_id=digest.last_id,
            row_count=digest.count,
            prev_hash=previous.hash if previous else None,
            hash=digest.hexdigest(after + 1, digest.last_id),
            created_at=now,
        )
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return row


def _hashes(session: Session, *where: ColumnElement[bool]) -> Iterator[tuple[int, str]]:
    """(id, hash) of the history rows matching ``where`` in id order, ``BATCH_SIZE`` a fetch."""
    statement = (
        select(col(HistoryEvent.id), col(HistoryEvent.hash))
        .where(*where)
        .order_by(col(HistoryEvent.id))
        .execution_options(yield_per=BATCH_SIZE)
    )
    result = session.execute(statement)
    try:
        for history_id, row_hash in result:
            assert history_id is not None
            yield history_id, row_hash
    finally:
        result.close()


# -- verify -------------------------------------------------------------------------------


def verify(session: Session) -> VerifyReport:
    """Check every reflection's timeline, then every anchor; stream, in bounded memory.

    Order of the problems: timelines by reflection id, then history rows whose reflection is
    gone, then anchors in chain order. Each reflection contributes its first problem only
    (what follows a broken link is broken too); every anchor is checked.
    """
    report = VerifyReport()
    _verify_timelines(session, report, reflection_id=None)
    _verify_orphans(session, report)
    _verify_anchors(session, report)
    return report


def verify_reflection(session: Session, reflection_id: int) -> VerifyReport:
    """Check one reflection's timeline (not the anchors: that means re-reading their whole
    ranges); ``anchored_rows`` says how many of its rows an anchor covers."""
    if session.get(Reflection, reflection_id) is None:
        raise NotFound(f"reflection {reflection_id} does not exist")
    report = VerifyReport()
    _verify_timelines(session, report, reflection_id)
    previous = _last_anchor(session)
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


def _verify_timelines(session: Session, report: VerifyReport, reflection_id: int | None) -> None:
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
        .execution_options(yield_per=BATCH_SIZE)
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
        position = history.replay(rows, machine=_memo_fire)
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


_MachineKey = tuple[Position, LifecycleEvent, tuple[tuple[str, Any], ...]]
_machine_memo: dict[_MachineKey, Position | EventNotAllowed | GuardFailed] = {}
_MEMO_LIMIT = 100_000


def _guard_view(value: Any) -> Any:
    """What the lifecycle's guards can tell about a value: absent or blank text, other text,
    or the value itself (numbers: a rating's range is checked)."""
    if isinstance(value, str):
        return "text" if value.strip() else ""
    if value is None or isinstance(value, bool | int | float):
        return value
    return type(value).__name__


def _memo_fire(position: Position, event: LifecycleEvent, **data: Any) -> Position:
    """:func:`statemachines.fire`, memoised on the position, the event and what its guards can
    tell of the data (:func:`_guard_view`).

    Replaying costs about a millisecond per row in the machine, and most timelines repeat a few
    dozen shapes: memoised, verify checks a million rows in minutes, not a quarter of an hour.
    Sound as long as guards test text for presence only (they do: ``_require``); a guard that
    read a text's content would need its field added to the key.
    """
    key = (position, event, tuple(sorted((name, _guard_view(v)) for name, v in data.items())))
    outcome = _machine_memo.get(key)
    if outcome is None:
        try:
            outcome = fire(position, event, **data)
        except (EventNotAllowed, GuardFailed) as error:
            outcome = error
        if len(_machine_memo) >= _MEMO_LIMIT:
            _machine_memo.clear()
        _machine_memo[key] = outcome
    if not isinstance(outcome, Position):
        raise outcome.with_traceback(None)
    return outcome


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


def _verify_anchors(session: Session, report: VerifyReport) -> None:
    """Recompute each anchor from the rows now in its id range, and follow the anchor chain.

    The anchors are loaded at once (one an hour is under 10,000 a year); the rows stream.
    """
    anchors = list(session.execute(select(AuditAnchor).order_by(col(AuditAnchor.id))).scalars())
    report.anchors = len(anchors)
    last_anchored = anchors[-1].last_history_id if anchors else 0
    checker = _AnchorChecker(report, anchors)
    rows = _hashes(session, col(HistoryEvent.id) <= last_anchored)
    for history_id, row_hash in rows:
        checker.row(history_id, row_hash)
    checker.finish()
    report.unanchored_rows = session.execute(
        select(func.count()).where(col(HistoryEvent.id) > last_anchored)
    ).scalar_one()


class _AnchorChecker:
    """Walks the anchors in chain order while the rows stream by in id order."""

    def __init__(self, report: VerifyReport, anchors: Sequence[AuditAnchor]) -> None:
        self.report = report
        self.pending = iter(anchors)
        self.previous: AuditAnchor | None = None
        self.current = next(self.pending, None)
        self.digest = _Digest(self.current.prev_hash if self.current else None)

    def row(self, history_id: int, row_hash: str) -> None:
        while self.current is not None and history_id > self.current.last_history_id:
            self._close()
        if self.current is None or history_id < self.current.first_history_id:
            return  # between two anchors' ranges: reported as a gap when the later one closes
        self.digest.add(history_id, row_hash)

    def finish(self) -> None:
        while self.current is not None:
            self._close()

    def _close(self) -> None:
        item, previous = self.current, self.previous
        assert item is not None
        for kind, detail in _anchor_problems(item, previous, self.digest):
            self.report.add(
                Problem(
                    kind,
                    detail,
                    anchor_id=item.id,
                    first_history_id=item.first_history_id,
                    last_history_id=item.last_history_id,
                )
            )
        self.report.anchored_rows += self.digest.count
        self.previous, self.current = item, next(self.pending, None)
        self.digest = _Digest(self.current.prev_hash if self.current else None)


def _anchor_problems(
    item: AuditAnchor, previous: AuditAnchor | None, digest: _Digest
) -> Iterable[tuple[ProblemKind, str]]:
    if item.prev_hash != (previous.hash if previous else None):
        yield (
            ProblemKind.ANCHOR_CHAIN,
            "prev_hash is not the previous anchor's hash (an anchor was removed, changed or "
            "inserted)",
        )
    start = previous.last_history_id + 1 if previous else 1
    if item.first_history_id != start:
        what = "leaves ids unanchored" if item.first_history_id > start else "overlaps it"
        yield (
            ProblemKind.ANCHOR_RANGE,
            f"starts at history id {item.first_history_id}, but the previous anchor ended at "
            f"{start - 1}: the range {what}",
        )
    if digest.hexdigest(item.first_history_id, item.last_history_id) != item.hash:
        difference = digest.count - item.row_count
        if difference:
            rows = f"{abs(difference)} row{'s' if abs(difference) != 1 else ''}"
            how = f"{rows} {'fewer' if difference < 0 else 'more'} than anchored"
        else:
            how = "as many rows as anchored, but a row's id or hash changed"
        yield (
            ProblemKind.ANCHOR_DIGEST,
            f"anchor digest differs: {how} ({digest.count} now, {item.row_count} anchored)",
        )
