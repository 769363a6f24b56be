"""The transactional outbox (DESIGN.md §6): which messages a change causes, and to whom.

:func:`enqueue_for_event` is called by the lifecycle service (and intake) after the history row
and before the one commit, so a message exists if and only if its state change does. The
messages are delivered by :mod:`reflections.messaging.dispatcher`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlmodel import Session

from notifications import (
    ChannelName,
    MessageKind,
    format_local,
)
from reflections.messaging import contact_limits, opt_out
from reflections.messaging.links import citizen_link
from reflections.models import (
    AdministrativeUnit,
    AdminWarning,
    Follower,
    HandlingUnit,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Reflection,
    Reporter,
    User,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Priority, Role
from reflections.models.reflection import short_title
from reflections.models.types import table_of
from reflections.platform.db import execute, held
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines

# Not held in quiet hours (nor is anything about an emergency).
URGENT_KINDS = frozenset({MessageKind.TASK_ESCALATED, MessageKind.EMERGENCY_RECEIVED})
ESCALATION_UNHEARD = "escalation_unheard"  # AdminWarning kinds
EMERGENCY_UNHEARD = "emergency_unheard"

E = LifecycleEvent

# The citizen's messages (DESIGN.md §6); every other event sends the citizen nothing.
_CITIZEN_KINDS = {
    E.SUBMIT: MessageKind.RECEIVED,
    E.ASSIGN: MessageKind.ASSIGNED,
    E.REASSIGN: MessageKind.ASSIGNED,
    E.GRANT_EXTENSION: MessageKind.EXTENDED,
    E.PROCESS: MessageKind.PROCESSED,
    E.REOPEN: MessageKind.REOPENED,
    E.CONFIRM: MessageKind.CONFIRMED,
    E.REJECT: MessageKind.REJECTED,
}


@dataclass(frozen=True)
class Recipient:
    channel: ChannelName
    address: str
    language: str


def enqueue_for_event(
    session: Session,
    reflection: Reflection,
    event: LifecycleEvent,
    payload: Mapping[str, Any],
    now: datetime,
    *,
    followed: bool = True,
) -> int:
    """Write the outbox rows this event causes in the session's transaction (not committed: the
    caller's one commit writes them with the change); returns how many. ``reflection`` is
    already in its new state; ``followed=False`` says it has no followers (the service's UPDATE
    told it), so they are not read."""
    assert reflection.id is not None
    rows: list[dict[str, Any]] = []
    kind = _CITIZEN_KINDS.get(event)
    if kind is not None:
        unfollowed = event is E.SUBMIT or not followed
        for recipient in _citizen_recipients(session, reflection, unfollowed):
            standing = contact_limits.standing(session, recipient.channel, recipient.address, now)
            if standing.stopped:
                continue  # the contact followed a stop link
            context = _citizen_context(session, reflection, kind, payload, recipient.language)
            context["link_url"] = citizen_link(reflection, now)  # opens without typing
            if standing.new:
                context["stop_url"] = opt_out.stop_url(recipient.channel, recipient.address)
            row = _row(reflection, kind, recipient, context, now)
            if standing.held:
                row |= {"status": OutboxStatus.HELD, "last_error": contact_limits.HELD_REASON}
            rows.append(row)
    staff_kind, staff = _staff_message(session, reflection, event, payload)
    for recipient in staff:
        assert staff_kind is not None
        context = _staff_context(session, reflection, recipient.language)
        context |= _staff_extras(session, reflection, staff_kind, payload, recipient.language)
        rows.append(_row(reflection, staff_kind, recipient, context, now))
    if not staff and (event is E.ESCALATE or staff_kind is MessageKind.EMERGENCY_RECEIVED):
        session.add(_unheard(reflection, event, now))  # for the admin digest
    if rows:  # one INSERT, not an ORM object per row: every change writes some (issue 18)
        session.connection().execute(_INSERT_OUTBOX, rows)
    return len(rows)


def _unheard(reflection: Reflection, event: LifecycleEvent, now: datetime) -> AdminWarning:
    """An escalation or an emergency that nobody can be told of: a warning, not silence."""
    if event is E.ESCALATE:
        return AdminWarning(
            kind=ESCALATION_UNHEARD,
            reflection_id=reflection.id,
            administrative_unit_id=reflection.escalated_to_id,
            detail={"escalation_level": reflection.escalation_level},
            created_at=now,
        )
    return AdminWarning(
        kind=EMERGENCY_UNHEARD,
        reflection_id=reflection.id,
        administrative_unit_id=reflection.administrative_unit_id,
        created_at=now,
    )


def _staff_message(
    session: Session, reflection: Reflection, event: LifecycleEvent, payload: Mapping[str, Any]
) -> tuple[MessageKind | None, list[Recipient]]:
    """Who among the staff hears of this event: the IOC duty (operators and coordinators) of
    an emergency as soon as it is submitted, the unit's handlers of a new task or a reminder
    (the coordinators while it still waits for classification), the supervisors of the area
    it was escalated to, the coordinators of an extension to decide on or of a note that asks
    them to act."""
    unit_id = reflection.handling_unit_id
    if event is E.SUBMIT and reflection.priority is Priority.EMERGENCY:
        duty = _staff(session, Role.OPERATOR) + _staff(session, Role.COORDINATOR)
        return MessageKind.EMERGENCY_RECEIVED, duty
    if event in (E.ASSIGN, E.REASSIGN) and unit_id is not None:
        return MessageKind.TASK_NEW, _staff(session, Role.HANDLER, unit_id=unit_id)
    if event is E.REMIND:
        if unit_id is not None and reflection.state is LifecycleState.ASSIGNED:
            return MessageKind.TASK_REMINDER, _staff(session, Role.HANDLER, unit_id=unit_id)
        return MessageKind.TASK_REMINDER, _staff(session, Role.COORDINATOR)
    if event is E.ESCALATE and reflection.escalated_to_id is not None:
        area_id = reflection.escalated_to_id
        return MessageKind.TASK_ESCALATED, _staff(session, Role.SUPERVISOR, area_id=area_id)
    if event is E.REQUEST_EXTENSION:
        return MessageKind.EXTENSION_REQUESTED, _staff(session, Role.COORDINATOR)
    if event is E.NOTE and payload.get("notify") == "coordinators":
        return MessageKind.STAFF_NOTE, _staff(session, Role.COORDINATOR)
    return None, []


def _staff_extras(
    session: Session,
    reflection: Reflection,
    kind: MessageKind,
    payload: Mapping[str, Any],
    language: str,
) -> dict[str, Any]:
    """What a message about a request or a note adds: the words of the person asking."""
    if kind is MessageKind.EXTENSION_REQUESTED:
        new_due = payload.get("new_due_at")
        return {
            "reason": payload.get("reason") or "",
            "requested_due_at": format_local(new_due, language) if new_due else "—",
        }
    if kind is MessageKind.STAFF_NOTE:
        return {"note": payload.get("reason") or ""}
    return {}


def _row(
    reflection: Reflection,
    kind: MessageKind,
    recipient: Recipient,
    context: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    # One row per (change, kind, channel, recipient): the version is the history row's seq.
    key = f"r{reflection.id}-v{reflection.version}-{kind.value}-{recipient.channel}"
    return message_values(
        kind,
        recipient,
        context,
        now,
        idempotency_key=f"{key}-{_fingerprint(recipient.address)}",
        reflection_id=reflection.id,
        urgent=reflection.priority is Priority.EMERGENCY or kind in URGENT_KINDS,
    )


def _fingerprint(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def new_message(
    kind: MessageKind, recipient: Recipient, context: dict[str, Any], now: datetime, **row: Any
) -> OutboxMessage:
    """A pending outbox row, due now, as an ORM object (digests, sign-in codes); ``row`` as
    :func:`message_values` takes it."""
    return OutboxMessage(**message_values(kind, recipient, context, now, **row))


def message_values(
    kind: MessageKind,
    recipient: Recipient,
    context: dict[str, Any],
    now: datetime,
    *,
    idempotency_key: str,
    reflection_id: int | None = None,
    urgent: bool = False,
) -> dict[str, Any]:
    """A pending outbox row's columns, due now."""
    return {
        "reflection_id": reflection_id,
        "kind": kind.value,
        "channel": recipient.channel,
        "recipient": recipient.address,
        "language": recipient.language,
        "context": context,
        "status": OutboxStatus.PENDING,
        "last_error": None,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "idempotency_key": idempotency_key,
        "urgent": urgent,
    }


_OUTBOX, _FOLLOWERS = table_of(OutboxMessage), table_of(Follower)
# Built once: a statement reused is keyed for SQLAlchemy's cache once (built per call, it was
# walked for its cache key every time; issue 18).
_INSERT_OUTBOX = insert(_OUTBOX)
_REPORTERS, _USERS, _MEMBERSHIPS = table_of(Reporter), table_of(User), table_of(Membership)
# Columns, not entities: the citizen and staff reads of every change (issue 18).
_FOLLOWING = (
    select(_FOLLOWERS.c.reporter_id)
    .where(_FOLLOWERS.c.reflection_id == bindparam("reflection_id"))
    .order_by(_FOLLOWERS.c.id)
)
_REPORTER = select(
    _REPORTERS.c.opted_out,
    _REPORTERS.c.phone_e164,
    _REPORTERS.c.email,
    _REPORTERS.c.channels,
    _REPORTERS.c.language,
).where(_REPORTERS.c.id == bindparam("reporter_id"))


def _citizen_recipients(
    session: Session, reflection: Reflection, unfollowed: bool
) -> list[Recipient]:
    """The reporter's chosen channels; with no choice, every contact they left. A reflection
    submitted without contact (anonymous), or by a reporter who opted out, gets nothing.
    Followers (a merged duplicate's reporter: issue 16) hear of it the same way, once per
    address; a reflection just submitted has none yet, nor has one the caller knows unfollowed."""
    following: Sequence[int] = (
        []
        if unfollowed
        else execute(session.connection(), _FOLLOWING, {"reflection_id": reflection.id})
        .scalars()
        .all()
    )
    ids = [reflection.reporter_id, *following] if reflection.reporter_id else list(following)
    if not ids:  # anonymous and unfollowed: nothing to read (issue 18)
        return []
    connection = session.connection()
    found: dict[tuple[str, str], Recipient] = {}
    for reporter_id in ids:
        # A reporter written in this transaction (a submission) is not read back.
        reporter: Any = (
            held(session, Reporter, reporter_id)
            or execute(connection, _REPORTER, {"reporter_id": reporter_id}).first()
        )
        if reporter is None or reporter.opted_out:
            continue
        contacts = {"sms": reporter.phone_e164, "email": reporter.email}
        chosen = [str(channel) for channel in reporter.channels or []] or ["sms", "email"]
        for recipient in _recipients(contacts, chosen, str(reporter.language or "vi")):
            found.setdefault((recipient.channel, recipient.address), recipient)
    return list(found.values())


def _recipients(
    contacts: Mapping[str, str | None], chosen: Sequence[str], language: str
) -> list[Recipient]:
    names: tuple[ChannelName, ...] = ("sms", "email")
    return [
        Recipient(name, address, language)
        for name in names
        if name in chosen and (address := contacts.get(name))
    ]


def staff_recipients(user: User) -> list[Recipient]:
    """A staff member's channels: the ones they chose; without a choice email, or SMS when
    they left only a phone; none when they opted out or are disabled."""
    if user.opted_out or user.disabled:
        return []
    return _staff_channels(user.email, user.phone, user.channels, user.language.value)


def _staff_channels(
    email: str | None, phone: str | None, channels: Sequence[str] | None, language: str
) -> list[Recipient]:
    default = ["email"] if email or not phone else ["sms"]
    chosen = [str(channel) for channel in channels or []] or default
    return _recipients({"sms": phone, "email": email}, chosen, language)


_ACTIVE_STAFF = (
    select(_USERS.c.email, _USERS.c.phone, _USERS.c.channels, _USERS.c.language)
    .where(
        _USERS.c.role == bindparam("role"),
        _USERS.c.disabled.is_(False),
        _USERS.c.opted_out.is_(False),
    )
    .order_by(_USERS.c.id)
)
_MEMBERS = select(_MEMBERSHIPS.c.user_id)
_STAFF = {
    "all": _ACTIVE_STAFF,
    "unit": _ACTIVE_STAFF.where(
        _USERS.c.id.in_(_MEMBERS.where(_MEMBERSHIPS.c.handling_unit_id == bindparam("scope")))
    ),
    "area": _ACTIVE_STAFF.where(
        _USERS.c.id.in_(_MEMBERS.where(_MEMBERSHIPS.c.administrative_unit_id == bindparam("scope")))
    ),
}


def _staff(
    session: Session, role: Role, *, unit_id: int | None = None, area_id: int | None = None
) -> list[Recipient]:
    """The recipients among active users of ``role``: all of them, or those with a membership
    in the handling unit or the administrative unit."""
    scope = "unit" if unit_id is not None else "area" if area_id is not None else "all"
    rows = execute(
        session.connection(),
        _STAFF[scope],
        {"role": role, "scope": unit_id if unit_id is not None else area_id},
    )
    return [
        recipient
        for email, phone, channels, language in rows
        for recipient in _staff_channels(email, phone, channels, language.value)
    ]


def _link(reflection: Reflection) -> str:
    return f"{get_settings().public_url.rstrip('/')}/r/{reflection.tracking_code}"


def _unit_name(session: Session, reflection: Reflection, language: str) -> str:
    unit = (
        session.get(HandlingUnit, reflection.handling_unit_id)
        if reflection.handling_unit_id is not None
        else None
    )
    if unit is None:
        return "(unassigned)" if language == "en" else "(chưa giao)"
    return unit.name_en if language == "en" else unit.name


def _citizen_context(
    session: Session,
    reflection: Reflection,
    kind: MessageKind,
    payload: Mapping[str, Any],
    language: str,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "tracking_code": reflection.tracking_code,
        "link_url": _link(reflection),
    }
    if kind is MessageKind.ASSIGNED:
        context["unit_name"] = _unit_name(session, reflection, language)
    elif kind is MessageKind.EXTENDED:
        new_due = payload.get("new_due_at")
        context["due_date"] = format_local(new_due, language) if new_due else ""
    elif kind is MessageKind.PROCESSED:
        context["result"] = reflection.result_text or ""
    elif kind is MessageKind.REJECTED:
        context["reason"] = reflection.rejection_reason or ""
        if payload.get("duplicate_of"):  # merged: the citizen follows the original instead
            context["duplicate_of"] = payload["duplicate_of"]
    return context


def _staff_context(session: Session, reflection: Reflection, language: str) -> dict[str, Any]:
    step = deadlines.step_of(reflection)
    due = deadlines.due_of(reflection, step) if step is not None else None
    return {
        "tracking_code": reflection.tracking_code,
        "link_url": _link(reflection),
        "unit_name": _unit_name(session, reflection, language),
        "title": short_title(reflection.description),
        "due_at": format_local(due, language) if due is not None else "—",
        "place": _place(session, reflection, language),
    }


def _place(session: Session, reflection: Reflection, language: str) -> str:
    """Where it is, as staff read it: the address, and the ward when known."""
    ward = (
        session.get(AdministrativeUnit, reflection.administrative_unit_id)
        if reflection.administrative_unit_id is not None
        else None
    )
    parts = [
        reflection.address,
        (ward.name_en if language == "en" else ward.name) if ward else None,
    ]
    return ", ".join(p for p in parts if p) or "—"
