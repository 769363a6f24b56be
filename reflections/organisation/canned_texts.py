"""Canned texts (DESIGN.md §3, admins keep them): the results and reasons staff would otherwise
type again and again, offered per category in the action forms.

A change never rewrites a row: editing retires it and adds its successor (``replaces_id``),
withdrawing retires it, so the table itself says who wrote, changed or withdrew what and when.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Conflict, InvalidInput, NotFound
from reflections.models import CannedText, Category
from reflections.models.enums import LifecycleEvent
from reflections.platform import clock

E = LifecycleEvent
# The actions with a free text a canned one can fill: the result, and the reasons.
CANNED_EVENTS: tuple[LifecycleEvent, ...] = (
    E.PROCESS,
    E.REJECT,
    E.RETURN,
    E.REQUEST_EXTENSION,
    E.DENY_EXTENSION,
    E.SEND_BACK,
)
TITLE_MAX = 100
TEXT_MAX = 2000


def offered(
    session: Session, events: Sequence[LifecycleEvent], category_id: int | None
) -> dict[LifecycleEvent, list[CannedText]]:
    """The current texts for these actions: the category's own first, then those for all."""
    if not events:
        return {}
    statement = select(CannedText).where(
        col(CannedText.retired_at).is_(None),
        col(CannedText.event).in_(list(events)),
        or_(col(CannedText.category_id).is_(None), col(CannedText.category_id) == category_id),
    )
    rows = sorted(
        session.exec(statement),
        key=lambda row: (row.category_id is None, row.title.casefold(), row.id or 0),
    )
    found: dict[LifecycleEvent, list[CannedText]] = {event: [] for event in events}
    for row in rows:
        found[row.event].append(row)
    return found


def current(session: Session, text_id: int) -> CannedText:
    row = session.get(CannedText, text_id)
    if row is None or row.retired_at is not None:
        raise NotFound(f"no current canned text {text_id}")
    return row


def _checked(
    session: Session, event: LifecycleEvent, category_code: str | None, title: str, text: str
) -> tuple[int | None, str, str]:
    if event not in CANNED_EVENTS:
        raise InvalidInput("event", f"is one of {', '.join(CANNED_EVENTS)}", "unknown_choice")
    title, text = title.strip(), text.strip()
    if not title:
        raise InvalidInput("title", "is required", "required")
    if not text:
        raise InvalidInput("text", "is required", "required")
    if len(title) > TITLE_MAX:
        raise InvalidInput("title", f"is longer than {TITLE_MAX}", "too_long", max=TITLE_MAX)
    if len(text) > TEXT_MAX:
        raise InvalidInput("text", f"is longer than {TEXT_MAX}", "too_long", max=TEXT_MAX)
    category_id = None
    if category_code:
        category = session.exec(select(Category).where(Category.code == category_code)).first()
        if category is None:
            raise InvalidInput("category", f"no category {category_code!r}", "unknown_choice")
        category_id = category.id
    return category_id, title, text


def create(
    session: Session,
    actor: Actor,
    event: LifecycleEvent,
    category_code: str | None,
    title: str,
    text: str,
    *,
    replaces: CannedText | None = None,
    now: datetime | None = None,
) -> CannedText:
    category_id, title, text = _checked(session, event, category_code, title, text)
    row = CannedText(
        event=event,
        category_id=category_id,
        title=title,
        text=text,
        replaces_id=replaces.id if replaces else None,
        created_at=now or clock.now(),
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.commit()
    return row


def replace(
    session: Session,
    actor: Actor,
    text_id: int,
    category_code: str | None,
    title: str,
    text: str,
) -> CannedText:
    """Retire the current row and add its successor, in one commit."""
    old = current(session, text_id)
    now = clock.now()
    _retire(old, actor, now)
    try:
        return create(session, actor, old.event, category_code, title, text, replaces=old, now=now)
    except InvalidInput:
        session.rollback()
        raise


def retire(session: Session, actor: Actor, text_id: int) -> CannedText:
    row = current(session, text_id)
    _retire(row, actor, clock.now())
    session.add(row)
    session.commit()
    return row


def _retire(row: CannedText, actor: Actor, now: datetime) -> None:
    if row.retired_at is not None:
        raise Conflict(f"canned text {row.id} was withdrawn already")
    row.retired_at = now
    row.retired_by_id = actor.user_id
