"""The notification outbox for operators (DESIGN.md §6): dead letters, counts and requeuing.

Messages the dispatcher gave up on (``dead``, ``failed_permanent``) are listed newest first with
the recipient masked (DESIGN.md §3); once the cause is fixed, an admin requeues them.
"""

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import SessionDep
from api.routes.admin.common import Body, IdCursor, Limit
from api.schemas import Page
from reflections.errors import InvalidInput
from reflections.messaging import dead_letters
from reflections.models import OutboxStatus

router = APIRouter(prefix="/outbox", tags=["admin: notification outbox"])

MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL
MessageId = Annotated[int, Field(ge=1, le=MAX_ID)]
Statuses = Annotated[
    list[OutboxStatus] | None,
    Query(
        alias="status",
        max_length=len(OutboxStatus),
        description="Repeat to list several; by default dead and failed_permanent.",
    ),
]


class OutboxItemOut(BaseModel):
    id: int
    tracking_code: str | None = Field(description="The reflection's, if the message is about one.")
    kind: str = Field(description="What the message says: received, assigned, task_new...")
    channel: str
    recipient: str = Field(description="Masked: a reporter's contact is personal data.")
    language: str
    status: OutboxStatus
    attempts: int
    last_error: str | None = Field(description="The last failure, recipient masked.")
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivery_status: str | None = Field(description="The provider's last word, if it reported.")


class StatusCounts(BaseModel):
    pending: int
    sending: int
    sent: int
    failed_permanent: int
    dead: int
    held: int = Field(default=0, description="Over an unproven contact's daily cap: not sent.")


class OutboxSummary(BaseModel):
    total: int
    statuses: StatusCounts
    channels: dict[str, StatusCounts] = Field(description="The same counts for each channel.")


class RetryIn(Body):
    ids: list[MessageId] = Field(min_length=1, max_length=1000)


class RetryOut(BaseModel):
    requeued: list[int] = Field(description="Back in the queue, due at once.")
    not_requeued: list[int] = Field(description="Not dead or failed_permanent, or no such row.")


def _decode(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        row_id = int(value)
        if kind != "before" or not 1 <= row_id <= MAX_ID:
            raise ValueError(cursor)
        return row_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("cursor", "is not a cursor this API gave out") from error


def _encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{row_id}".encode()).decode()


def _counts(numbers: dict[OutboxStatus, int]) -> StatusCounts:
    return StatusCounts.model_validate({status.value: n for status, n in numbers.items()})


@router.get("", response_model=Page[OutboxItemOut])
def list_outbox_messages(
    session: SessionDep,
    statuses: Statuses = None,
    limit: Limit = 50,
    cursor: IdCursor = None,
) -> Page[OutboxItemOut]:
    """Outbox messages, newest first; by default the dead letters (dead, failed_permanent)."""
    page = dead_letters.list_messages(
        session,
        statuses or dead_letters.UNDELIVERED,
        limit,
        _decode(cursor) if cursor else None,
    )
    return Page(
        items=[OutboxItemOut.model_validate(item, from_attributes=True) for item in page.items],
        next_cursor=_encode(page.next_before_id) if page.next_before_id is not None else None,
    )


@router.get("/summary", response_model=OutboxSummary)
def outbox_summary(session: SessionDep) -> OutboxSummary:
    """How many messages are in each status, overall and per channel."""
    counts = dead_letters.counts(session)
    return OutboxSummary(
        total=counts.total,
        statuses=_counts(counts.by_status),
        channels={channel: _counts(n) for channel, n in counts.by_channel.items()},
    )


@router.post("/retry", response_model=RetryOut)
def retry_outbox_messages(session: SessionDep, body: RetryIn) -> RetryOut:
    """Requeue dead or permanently failed messages (after fixing the cause); other ids are
    left alone and listed as not requeued."""
    result = dead_letters.requeue(session, body.ids)
    return RetryOut(requeued=result.requeued, not_requeued=result.not_requeued)
