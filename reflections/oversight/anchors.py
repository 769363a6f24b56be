"""Anchors (DESIGN.md §7): hourly digests of every history row of a contiguous id range,
chained to the previous anchor, so deleting a whole reflection (its row and its history) is
still seen. Writing them (:func:`anchor`, run by ``flows/audit.py``) and checking them
(:func:`verify_anchors`, part of :func:`reflections.oversight.audit.verify`)."""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, text
from sqlmodel import Session, col

from reflections.models import AuditAnchor, HistoryEvent
from reflections.oversight.findings import Problem, ProblemKind, VerifyReport

SETTLE = timedelta(minutes=5)
BATCH_SIZE = 2000  # rows per fetch while streaming
# pg_advisory_xact_lock key serialising anchor runs: "REFAUDIT" as a big-endian int64.
_ANCHOR_LOCK = int.from_bytes(b"REFAUDIT", "big")


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


def last_anchor(session: Session) -> AuditAnchor | None:
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
        previous = last_anchor(session)
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
        for history_id, row_hash in history_hashes(session, *covered):
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


def history_hashes(session: Session, *where: ColumnElement[bool]) -> Iterator[tuple[int, str]]:
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


def verify_anchors(session: Session, report: VerifyReport) -> None:
    """Recompute each anchor from the rows now in its id range, and follow the anchor chain.

    The anchors are loaded at once (one an hour is under 10,000 a year); the rows stream.
    """
    anchors = list(session.execute(select(AuditAnchor).order_by(col(AuditAnchor.id))).scalars())
    report.anchors = len(anchors)
    last_anchored = anchors[-1].last_history_id if anchors else 0
    checker = _AnchorChecker(report, anchors)
    rows = history_hashes(session, col(HistoryEvent.id) <= last_anchored)
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
