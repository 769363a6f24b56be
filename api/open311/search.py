"""GET requests: the specification's filters, its 90-day window and its 1000-row limit."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.open311.mapping import CLOSED_STATES
from api.open311.render import Open311Error
from reflections.models import Category, Reflection

WINDOW = timedelta(days=90)
LIMIT = 1000
STATUSES = frozenset({"open", "closed"})


def comma_list(raw: str | None) -> list[str]:
    """``a,b`` and repeated parameters alike; empty entries are no entries."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


@dataclass(frozen=True)
class Filters:
    service_request_ids: list[str]
    service_codes: list[str]
    statuses: frozenset[str]
    start: datetime
    end: datetime


def w3_datetime(name: str, raw: str | None) -> datetime | None:
    """ISO 8601 / RFC 3339 with a time zone, as the specification requires."""
    if not raw:
        return None
    text = raw.strip().upper()
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Python keeps microseconds at most
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Open311Error(
            400, f"{name}: is not a w3 datetime, e.g. 2026-03-02T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name}: needs a time zone, e.g. 2026-03-02T09:00:00Z")
    return value


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The requested range: at most 90 days, the most recent 90 days by default."""
    try:
        start = start.astimezone(UTC) if start else None
        end = end.astimezone(UTC) if end else None
        if start is None and end is None:
            return now - WINDOW, now
        if start is None:
            assert end is not None
            return end - WINDOW, end
        if end is None:
            return start, start + WINDOW
    except OverflowError:
        raise Open311Error(400, "start_date/end_date: out of range") from None
    if end < start:
        raise Open311Error(400, "end_date: is before start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "start_date/end_date: may not span more than 90 days")
    return start, end


def filters(
    service_request_id: str | None,
    service_code: str | None,
    status: str | None,
    start_date: str | None,
    end_date: str | None,
    now: datetime,
) -> Filters:
    statuses = frozenset(comma_list(status))
    if statuses - STATUSES:
        raise Open311Error(400, "status: must be open, closed or both (comma separated)")
    ids = [code.upper() for code in comma_list(service_request_id)]
    if len(ids) > LIMIT:
        raise Open311Error(400, f"service_request_id: at most {LIMIT} at once")
    if ids:  # they override every other argument, dates included
        start_date = end_date = None
    start, end = w3_datetime("start_date", start_date), w3_datetime("end_date", end_date)
    first, last = window(start, end, now)
    return Filters(ids, comma_list(service_code), statuses, first, last)


def statement(f: Filters) -> SelectOfScalar[Reflection]:
    """Newest first; ``service_request_id`` overrides every other filter, as specified."""
    query = select(Reflection)
    if f.service_request_ids:
        query = query.where(col(Reflection.tracking_code).in_(f.service_request_ids))
    else:
        query = query.where(
            col(Reflection.created_at) >= f.start, col(Reflection.created_at) <= f.end
        )
        if f.service_codes:
            codes = select(Category.id).where(col(Category.code).in_(f.service_codes))
            query = query.where(
                or_(
                    col(Reflection.category_id).in_(codes),
                    and_(
                        col(Reflection.category_id).is_(None),
                        col(Reflection.category_hint).in_(f.service_codes),
                    ),
                )
            )
        if len(f.statuses) == 1:
            closed = col(Reflection.state).in_(sorted(CLOSED_STATES))
            query = query.where(closed if "closed" in f.statuses else ~closed)
    return query.order_by(col(Reflection.created_at).desc(), col(Reflection.id).desc()).limit(LIMIT)
