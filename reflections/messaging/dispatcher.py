"""Delivering the outbox (DESIGN.md §6): a stateless batch driver, safe on several workers.

:func:`dispatch`:

1. it *claims* due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) by setting them ``sending``
   with a lease (``next_attempt_at = now + outbox_lease_seconds``) and commits;
2. holds non-urgent SMS in quiet hours, renders the rest and hands them, grouped by channel, in
   chunks of ``outbox_chunk_size`` to the channel's ``send_batch``, starting no chunk once half
   the lease is gone (the rest is given back for the next run); each channel is held for the
   run (:func:`notifications.holding`), so email keeps one SMTP connection across the chunks;
3. records a chunk's outcomes together, in one commit once the chunk is done, and each only if
   the row is still ``sending`` under *its* lease, so a row whose status changed meanwhile
   (retried by an operator, reclaimed after the lease ran out) is skipped. A row is therefore
   sent at most once per lease, and a dispatcher that dies mid-chunk leaves only that chunk
   unrecorded: its rows are sent again once the lease has run out, with the same idempotency
   key (the email's Message-ID, the SMS callback's key), so a recipient's system can drop the
   duplicates. One commit a chunk rather than one a message is what keeps the dispatcher close
   to a bare send loop (issue 18); ``outbox_chunk_size = 1`` commits every outcome on its own.

``dispatch`` is a plain function that runs the async channels with :func:`asyncio.run`, so the
CLI and synchronous Prefect tasks call it directly; code already inside an event loop awaits
:func:`dispatch_async` instead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, Update, bindparam, update
from sqlmodel import Session, col

from notifications import (
    Channel,
    ChannelName,
    Message,
    Outcome,
    OutcomeStatus,
    holding,
    render,
)
from reflections.messaging.quiet_hours import QuietHours
from reflections.models import (
    OutboxMessage,
    OutboxStatus,
)
from reflections.platform import clock, leases
from reflections.platform.settings import get_settings

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_FACTOR = 2
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_JITTER = 0.2
MAX_ATTEMPTS = 10
MAX_AGE = timedelta(hours=24)
_OUTBOX = cast(Table, OutboxMessage.__table__)  # type: ignore[attr-defined]


@dataclass
class DispatchReport:
    """Row ids by what became of them in this run."""

    sent: list[int] = field(default_factory=list)
    failed_permanent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # changed meanwhile: not ours any more
    held: list[int] = field(default_factory=list)  # non-urgent SMS in quiet hours
    deferred: list[int] = field(default_factory=list)  # left for the next run: lease half gone

    def _buckets(self) -> tuple[list[int], ...]:
        return (
            self.sent,
            self.failed_permanent,
            self.retried,
            self.dead,
            self.skipped,
            self.held,
            self.deferred,
        )

    @property
    def claimed(self) -> int:
        return sum(len(ids) for ids in self._buckets())

    def add(self, other: DispatchReport) -> None:
        for mine, theirs in zip(self._buckets(), other._buckets(), strict=True):
            mine.extend(theirs)

    def counts(self) -> dict[str, int]:
        names = ("sent", "failed_permanent", "retried", "dead", "skipped", "held", "deferred")
        return {name: len(ids) for name, ids in zip(names, self._buckets(), strict=True)}


def backoff(row_id: int, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s doubling to at most 1 h, ±20% jitter.

    The jitter is drawn from a generator seeded with the row and attempt, so it is the same
    every time it is computed (tests can predict it) yet spreads rows apart."""
    exponent = max(attempts - 1, 0)
    delay = min(BACKOFF_BASE * BACKOFF_FACTOR**exponent, BACKOFF_CAP)
    jitter = random.Random(row_id * 1000 + attempts).uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
    result: timedelta = delay * (1 + jitter)
    return result


class _Row(NamedTuple):
    """What the dispatcher reads of a claimed row, returned by the claim itself."""

    id: int
    kind: str
    channel: str
    recipient: str
    language: str
    context: dict[str, Any]
    idempotency_key: str
    attempts: int
    created_at: datetime
    urgent: bool


_ROW_COLUMNS = [getattr(OutboxMessage, name) for name in _Row._fields]


def _claim(session: Session, now: datetime, batch_size: int) -> tuple[list[_Row], datetime]:
    """Lease due rows to this dispatcher: pending rows that are due, and rows whose previous
    dispatcher's lease ran out (it died before recording). The claim's RETURNING brings what
    sending needs, so the rows are not read again."""
    lease_until = now + timedelta(seconds=get_settings().outbox_lease_seconds)
    claimed = leases.claim(
        session,
        OutboxMessage,
        col(OutboxMessage.id),
        due=[
            col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            col(OutboxMessage.next_attempt_at) <= now,
        ],
        order_by=[col(OutboxMessage.next_attempt_at), col(OutboxMessage.id)],
        batch_size=batch_size,
        lease={"status": OutboxStatus.SENDING, "next_attempt_at": lease_until},
        returning=_ROW_COLUMNS,
    )
    return sorted((_Row(*row) for row in claimed), key=lambda row: row.id), lease_until


def _message(row: _Row) -> Message:
    rendered = render(row.kind, row.language, row.context)
    sms = row.channel == "sms"
    brand = get_settings().sms_brand.strip()  # "[Hue-S]": an SMS says who sends it (issue 16)
    return Message(
        channel=cast(ChannelName, row.channel if row.channel in ("sms", "email") else "email"),
        recipient=row.recipient,
        language=rendered.language,
        text=(f"{brand} {rendered.sms}" if brand else rendered.sms) if sms else rendered.text,
        idempotency_key=row.idempotency_key,
        subject="" if sms else rendered.subject,
        html=None if sms else rendered.html,
    )


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    attempts: int
    created_at: datetime


class _Delivery:
    """One claimed batch. A chunk's outcomes are kept as the channel reports them and written
    in one commit when the chunk is done, so a dispatcher that dies mid-chunk leaves only that
    chunk unrecorded; and no chunk starts once half the lease is gone, so a slow provider
    cannot keep rows past their lease, where another dispatcher would take them too."""

    def __init__(
        self, session: Session, now: datetime, lease_until: datetime, report: DispatchReport
    ) -> None:
        self.session, self.now, self.lease_until, self.report = session, now, lease_until, report
        self.recorded: set[int] = set()
        self.unwritten: list[tuple[_Claimed, Outcome]] = []
        self.started = time.monotonic()
        self.half_lease = (lease_until - now).total_seconds() / 2
        self.chunk_size = get_settings().outbox_chunk_size

    def record(self, item: _Claimed, outcome: Outcome) -> None:
        """Keep the first outcome told for a row, to be written by :meth:`write`."""
        if item.row_id in self.recorded:
            return
        self.recorded.add(item.row_id)
        self.unwritten.append((item, outcome))

    def write(self) -> None:
        """Write the kept outcomes and commit them together.

        Outcomes that set the same columns go in one executemany UPDATE (one round trip on
        psycopg, one statement compiled), each row still only if it is ours. When the rows
        matched fall short of the rows given, some were not ours any more; which ones, a
        summed row count cannot tell, so the chunk is rolled back and written row by row."""
        if not self.unwritten:
            return
        planned = [
            (item, *_values(item.row_id, item.attempts, item.created_at, outcome, self.now))
            for item, outcome in self.unwritten
        ]
        self.unwritten = []
        if not self._write_grouped(planned):
            self.session.rollback()
            for item, values, bucket in planned:
                ours = _update_if_ours(self.session, item.row_id, self.lease_until, values)
                (bucket(self.report) if ours else self.report.skipped).append(item.row_id)
        self.session.commit()

    def _write_grouped(self, planned: Sequence[tuple[_Claimed, dict[str, Any], _Bucket]]) -> bool:
        """One executemany per set of columns; False as soon as a group matched fewer rows."""
        groups: dict[tuple[str, ...], list[tuple[_Claimed, dict[str, Any], _Bucket]]] = {}
        for entry in planned:
            groups.setdefault(tuple(sorted(entry[1])), []).append(entry)
        connection = self.session.connection()
        for entries in groups.values():
            if len(entries) == 1:
                item, values, _ = entries[0]
                if not _update_if_ours(self.session, item.row_id, self.lease_until, values):
                    return False
                continue
            result = connection.execute(
                _ours(self.lease_until),
                [{"row_id": item.row_id, **values} for item, values, _ in entries],
            )
            if not result.supports_sane_multi_rowcount() or result.rowcount != len(entries):
                return False
        for item, _, bucket in planned:
            bucket(self.report).append(item.row_id)
        return True

    def release(self, items: Sequence[_Claimed], due: datetime, bucket: list[int]) -> None:
        """Give rows back unsent and without an attempt counted, due at ``due``."""
        for item in items:
            values = {"status": OutboxStatus.PENDING, "next_attempt_at": due}
            ours = _update_if_ours(self.session, item.row_id, self.lease_until, values)
            (bucket if ours else self.report.skipped).append(item.row_id)
        self.session.commit()

    async def send(self, channel: Channel, pairs: Sequence[tuple[_Claimed, Message]]) -> None:
        size = self.chunk_size
        for start in range(0, len(pairs), size):
            if time.monotonic() - self.started > self.half_lease:
                self.release([item for item, _ in pairs[start:]], self.now, self.report.deferred)
                return
            chunk = pairs[start : start + size]
            messages = [message for _, message in chunk]

            def on_outcome(index: int, outcome: Outcome, chunk: Sequence[Any] = chunk) -> None:
                self.record(chunk[index][0], outcome)

            try:
                results = await channel.send_batch(messages, on_outcome)
            except Exception as exc:  # channels should not raise; if one does, try again later
                results = [Outcome.transient(m, f"{type(exc).__name__}: {exc}") for m in messages]
            for (item, _), outcome in zip(chunk, results, strict=True):
                self.record(item, outcome)  # what the channel did not report as it went
            self.write()


async def dispatch_async(
    session: Session,
    now: datetime,
    channels: Mapping[str, Channel],
    batch_size: int = 100,
) -> DispatchReport:
    """Deliver up to ``batch_size`` due messages; see the module's docstring."""
    report = DispatchReport()
    rows, lease_until = _claim(session, now, batch_size)
    if not rows:
        return report
    morning = QuietHours.from_settings().release(now)
    held: list[_Claimed] = []
    refused: list[tuple[_Claimed, Outcome]] = []
    by_channel: dict[str, list[tuple[_Claimed, Message]]] = {}
    for row in rows:
        item = _Claimed(row.id, row.attempts, row.created_at)
        if row.channel == "sms" and not row.urgent and morning > now:
            held.append(item)
            continue
        try:
            message = _message(row)
        except Exception as exc:  # a template or context that cannot render never will
            error = f"render: {exc}"
            refused.append(
                (item, Outcome(row.idempotency_key, OutcomeStatus.PERMANENT, error=error))
            )
            continue
        if row.channel not in channels:
            refused.append((item, Outcome.transient(message, f"no {row.channel} channel")))
            continue
        by_channel.setdefault(row.channel, []).append((item, message))
    # Nothing is held open while the providers answer: the claim was committed.
    session.rollback()
    delivery = _Delivery(session, now, lease_until, report)
    delivery.release(held, morning, report.held)
    for item, outcome in refused:
        delivery.record(item, outcome)
    delivery.write()
    for name, pairs in by_channel.items():
        async with holding(channels[name]):  # one SMTP connection for the run, not per chunk
            await delivery.send(channels[name], pairs)
    return report


async def drain_async(
    session: Session,
    channels: Mapping[str, Channel],
    at: datetime | None = None,
    batch_size: int = 100,
    max_batches: int | None = None,
) -> DispatchReport:
    """Dispatch batches until one claims nothing (or ``max_batches``). Each batch reads the
    clock afresh, so its lease is counted from when it starts; ``at`` fixes the instant for
    drills."""
    total = DispatchReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        report = await dispatch_async(session, at or clock.now(), channels, batch_size)
        batches += 1
        total.add(report)
        if report.claimed == 0 or report.claimed == len(report.skipped):
            break
    return total


def dispatch(
    session: Session,
    now: datetime,
    channels: Mapping[str, Channel],
    batch_size: int = 100,
) -> DispatchReport:
    """Synchronous :func:`dispatch_async` (runs its own event loop; not for use inside one)."""
    return asyncio.run(dispatch_async(session, now, channels, batch_size))


_Bucket = Callable[[DispatchReport], list[int]]


def _values(
    row_id: int, previous_attempts: int, created_at: datetime, outcome: Outcome, now: datetime
) -> tuple[dict[str, Any], _Bucket]:
    """What an outcome sets on its row, and the report's list the row goes to if it is ours."""
    values: dict[str, Any]
    attempts = previous_attempts + 1
    if outcome.status is OutcomeStatus.SENT:
        values = {
            "status": OutboxStatus.SENT,
            "provider_id": outcome.provider_id,
            "sent_at": now,
            "attempts": attempts,
            "last_error": None,
        }
        return values, attrgetter("sent")
    if outcome.status is OutcomeStatus.PERMANENT:
        values = {
            "status": OutboxStatus.FAILED_PERMANENT,
            "attempts": attempts,
            "last_error": outcome.error,
        }
        return values, attrgetter("failed_permanent")
    if attempts >= MAX_ATTEMPTS or now - created_at >= MAX_AGE:
        return {
            "status": OutboxStatus.DEAD,
            "attempts": attempts,
            "last_error": outcome.error,
        }, attrgetter("dead")
    values = {
        "status": OutboxStatus.PENDING,
        "attempts": attempts,
        "next_attempt_at": now + backoff(row_id, attempts),
        "last_error": outcome.error,
    }
    return values, attrgetter("retried")


def _ours(lease_until: datetime) -> Update:
    """An UPDATE of the row ``:row_id`` only if it is still ``sending`` under this lease; the
    columns it sets are the other keys of the parameters it is executed with."""
    table = _OUTBOX
    return update(table).where(
        table.c.id == bindparam("row_id"),
        table.c.status == OutboxStatus.SENDING,
        table.c.next_attempt_at == lease_until,
    )


def _update_if_ours(
    session: Session, row_id: int, lease_until: datetime, values: Mapping[str, Any]
) -> bool:
    """Write ``values`` if the row is still ``sending`` under this dispatcher's lease.

    A Core statement on the session's connection: the ORM's bulk-update bookkeeping cost more
    than the statement itself, once per message (issue 18)."""
    result = session.connection().execute(_ours(lease_until), {"row_id": row_id, **values})
    return result.rowcount == 1


def retry_dead(session: Session, ids: Sequence[int], now: datetime | None = None) -> list[int]:
    """Put dead or permanently failed rows back in the queue (an operator fixed the cause);
    returns the ids that were requeued. Sent, pending and sending rows are left alone."""
    when = now or clock.now()
    requeued = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(list(ids)),
            col(OutboxMessage.status).in_([OutboxStatus.DEAD, OutboxStatus.FAILED_PERMANENT]),
        )
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=when)
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(row[0] for row in requeued)
