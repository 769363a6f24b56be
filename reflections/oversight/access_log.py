"""Who looked at a reporter's identity, when, how and why (DESIGN.md §3 and §7).

Three kinds of access are logged in ``personal_data_access`` (append-only on PostgreSQL):

- ``reveal``: an auditor, coordinator or admin unmasks one reporter on purpose, giving a reason;
- ``read``: a response showed reporters unmasked (a coordinator's or admin's views), one row per
  reflection shown, written by one bulk insert per response;
- ``export``: reserved for exports of personal data.

Handlers and supervisors never reach a reporter: :func:`reveal` refuses every role but the
three above before it reads anything, and refusals write nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, insert, or_
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Forbidden, InvalidInput, NotFound
from reflections.models import PersonalDataAccess, Reflection, Reporter, User
from reflections.models.enums import Language, Role
from reflections.platform import clock

REVEALERS = frozenset({Role.AUDITOR, Role.COORDINATOR, Role.ADMIN})
LOG_READERS = frozenset({Role.AUDITOR, Role.ADMIN})
REASON_MIN, REASON_MAX = 10, 500


class AccessAction(StrEnum):
    REVEAL = "reveal"
    READ = "read"
    EXPORT = "export"


@dataclass(frozen=True)
class ReporterIdentity:
    name: str | None
    phone: str | None  # E.164
    email: str | None
    language: Language


@dataclass(frozen=True)
class Access:
    """One row of the log, with the actor's username (None for the system)."""

    id: int
    username: str | None
    role: Role
    action: AccessAction
    reason: str | None
    occurred_at: datetime


AccessKey = tuple[datetime, int]  # (occurred_at, id) of the last row of a page


def check_reason(reason: str | None) -> str:
    """The reason, stripped; 10 to 500 characters or an InvalidInput naming ``reason``."""
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise InvalidInput("reason", f"say why, in at least {REASON_MIN} characters")
    if len(text) > REASON_MAX:
        raise InvalidInput("reason", f"is longer than {REASON_MAX} characters")
    return text


def reveal(
    session: Session, actor: Actor, reflection_id: int, reason: str | None
) -> ReporterIdentity:
    """The reporter's full identity, logged as a ``reveal`` with the reason, in one commit.

    Order of refusals: role (Forbidden), reason (InvalidInput), then a reflection without a
    reporter (NotFound: an anonymous report has no identity to reveal). None of them logs.
    """
    if actor.role not in REVEALERS:
        raise Forbidden(
            "only an auditor, a coordinator or an admin may reveal a reporter; "
            f"you are {actor.role}"
        )
    text = check_reason(reason)
    reflection = session.get(Reflection, reflection_id)
    if reflection is None:
        raise NotFound(f"reflection {reflection_id} does not exist")
    reporter = session.get(Reporter, reflection.reporter_id) if reflection.reporter_id else None
    if reporter is None:
        raise NotFound(f"reflection {reflection.tracking_code} was reported anonymously")
    identity = ReporterIdentity(
        name=reporter.name,
        phone=reporter.phone_e164,
        email=reporter.email,
        language=reporter.language,
    )
    try:
        session.add(
            PersonalDataAccess(
                reflection_id=reflection_id,
                user_id=actor.user_id,
                actor_role=actor.role,
                action=AccessAction.REVEAL,
                reason=text,
                occurred_at=clock.now(),
            )
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return identity


def record_reads(session: Session, actor: Actor, reflection_ids: list[int]) -> None:
    """One ``read`` row per reflection whose reporter was shown, in one insert and one commit.

    The caller has just built the response; it is logged before it leaves, so a response that
    fails afterwards is logged too (an extra row is better than a missing one).
    """
    ids = list(dict.fromkeys(reflection_ids))  # once each, in order
    if not ids:
        return
    now = clock.now()
    rows = [
        {
            "reflection_id": reflection_id,
            "user_id": actor.user_id,
            "actor_role": actor.role,
            "action": AccessAction.READ.value,
            "reason": None,
            "occurred_at": now,
        }
        for reflection_id in ids
    ]
    try:
        session.execute(insert(PersonalDataAccess), rows)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def accesses(
    session: Session,
    actor: Actor,
    reflection_id: int,
    limit: int = 50,
    after: AccessKey | None = None,
) -> tuple[list[Access], AccessKey | None]:
    """One page of a reflection's log, newest first, and the key of the next page, if any.

    Only auditors and admins read the log: it names the staff who looked, and why.
    """
    if actor.role not in LOG_READERS:
        raise Forbidden(
            f"only an auditor or an admin may read the access log; you are {actor.role}"
        )
    occurred, ident = col(PersonalDataAccess.occurred_at), col(PersonalDataAccess.id)
    statement = (
        select(PersonalDataAccess, User.username)
        .outerjoin(User, col(User.id) == col(PersonalDataAccess.user_id))
        .where(PersonalDataAccess.reflection_id == reflection_id)
    )
    if after is not None:
        at, last_id = after
        statement = statement.where(or_(occurred < at, and_(occurred == at, ident < last_id)))
    rows = session.exec(statement.order_by(occurred.desc(), ident.desc()).limit(limit + 1)).all()
    entries = [
        Access(
            id=row.id or 0,
            username=username,
            role=row.actor_role,
            action=AccessAction(row.action),
            reason=row.reason,
            occurred_at=row.occurred_at,
        )
        for row, username in rows[:limit]
    ]
    if len(rows) <= limit:
        return entries, None
    last = entries[-1]
    return entries, (last.occurred_at, last.id)
