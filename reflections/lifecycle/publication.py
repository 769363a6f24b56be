"""Publishing what a citizen wrote: a coordinator's decision (DESIGN.md §10), as FixMyStreet does.

Until a coordinator publishes a reflection, public views show only its category, ward, status,
dates and agency (see :mod:`reflections.oversight.public_feed`). Publishing makes the citizen's
description public, or an edited ``public_summary`` instead (a name or a phone number taken
out), and the place rounded to about 100 m. Unpublishing takes them off again. Each decision is
one append-only :class:`PublicationDecision` row: who, when and what, the audit of a staff
decision. It does not touch the reflection row, so its version still counts history events.

:func:`decide` adds the row without committing: at classify the row commits with the event (or
rolls back with its refusal); :func:`publish_now` is the standalone action.
"""

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Forbidden, InvalidInput
from reflections.models import PublicationDecision, Reflection
from reflections.models.enums import Role
from reflections.platform import clock

MAX_SUMMARY = 2000
# Coordinators decide what the city publishes (they read every reflection, DESIGN.md §3).
DECIDERS = frozenset({Role.COORDINATOR})


def current(session: Session, reflection_id: int) -> PublicationDecision | None:
    """The latest decision on a reflection; None when nobody decided (not published)."""
    return session.exec(
        select(PublicationDecision)
        .where(PublicationDecision.reflection_id == reflection_id)
        .order_by(col(PublicationDecision.id).desc())
    ).first()


def decide(
    session: Session,
    reflection: Reflection,
    actor: Actor,
    published: bool,
    public_summary: str | None = None,
) -> PublicationDecision:
    """Record a publish (``published``) or unpublish decision; the caller commits."""
    if actor.role not in DECIDERS:
        raise Forbidden(f"a {actor.role} may not publish a reflection")
    summary = " ".join((public_summary or "").split()) or None
    if summary is not None and not published:
        raise InvalidInput("public_summary", "comes only with publishing", "summary_unpublished")
    if summary is not None and len(summary) > MAX_SUMMARY:
        reason = f"is longer than {MAX_SUMMARY} characters"
        raise InvalidInput("public_summary", reason, "too_long", max=MAX_SUMMARY)
    assert reflection.id is not None
    decision = PublicationDecision(
        reflection_id=reflection.id,
        published=published,
        public_summary=summary,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        occurred_at=clock.now(),
    )
    session.add(decision)
    return decision


def publish_now(
    session: Session,
    reflection: Reflection,
    actor: Actor,
    published: bool,
    public_summary: str | None = None,
) -> PublicationDecision:
    """The publish / unpublish action on its own: decide and commit."""
    try:
        decision = decide(session, reflection, actor, published, public_summary)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return decision
