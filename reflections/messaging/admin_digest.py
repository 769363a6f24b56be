"""The administrators' digest: every escalation or emergency that reached nobody since the last
one (the :class:`AdminWarning` rows the outbox writes), sent with the morning digests.

Each admin gets one message listing the warnings, which are then marked digested in the same
transaction; with no admin to tell they stay waiting for the next run. A second run finds them
digested and adds nothing, and the idempotency key (the warnings' id range) stops a race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from notifications import MessageKind, format_local, format_local_date
from reflections.messaging import outbox
from reflections.models import AdministrativeUnit, AdminWarning, OutboxMessage, Reflection, User
from reflections.models.enums import Role
from reflections.platform.settings import get_settings


def pending_warnings(session: Session) -> list[AdminWarning]:
    statement = select(AdminWarning).where(col(AdminWarning.digested_at).is_(None))
    return list(session.exec(statement.order_by(col(AdminWarning.id))))


def _lines(session: Session, warnings: list[AdminWarning], language: str) -> list[dict[str, Any]]:
    codes = dict(
        session.exec(
            select(Reflection.id, Reflection.tracking_code).where(
                col(Reflection.id).in_({w.reflection_id for w in warnings})
            )
        ).all()
    )
    areas = {
        area.id: area
        for area in session.exec(
            select(AdministrativeUnit).where(
                col(AdministrativeUnit.id).in_({w.administrative_unit_id for w in warnings})
            )
        )
    }
    lines = []
    for warning in warnings:
        area = areas.get(warning.administrative_unit_id)
        lines.append(
            {
                "tracking_code": codes.get(warning.reflection_id, "—"),
                "kind": warning.kind,
                "level": warning.detail.get("escalation_level", ""),
                "area": (area.name_en if language == "en" else area.name) if area else "—",
                "at": format_local(warning.created_at, language),
            }
        )
    return lines


def enqueue_admin_digest(session: Session, now: datetime) -> list[OutboxMessage]:
    """Write (and commit) one message per admin channel listing the pending warnings."""
    warnings = pending_warnings(session)
    if not warnings:
        return []
    admins = session.exec(
        select(User)
        .where(User.role == Role.ADMIN, col(User.disabled).is_(False))
        .order_by(col(User.id))
    ).all()
    first, last = warnings[0].id, warnings[-1].id
    link = get_settings().public_url.rstrip("/") + "/console"
    rows = [
        outbox.new_message(
            MessageKind.ADMIN_DIGEST,
            recipient,
            {
                "warnings": _lines(session, warnings, recipient.language),
                "digest_date": format_local_date(now, recipient.language),
                "link_url": link,
            },
            now,
            idempotency_key=f"admin-digest-w{first}-{last}-u{admin.id}-{recipient.channel}",
        )
        for admin in admins
        for recipient in outbox.staff_recipients(admin)
    ]
    if not rows:
        return []  # nobody to tell: the warnings wait for an admin with a contact
    for warning in warnings:
        warning.digested_at = now
    session.add_all([*rows, *warnings])
    try:
        session.commit()
    except IntegrityError:  # another run sent these already
        session.rollback()
        return []
    return rows
