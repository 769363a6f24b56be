"""The staff's actions on a reflection, one small form each, mirroring ``api/routes/actions.py``.

Every action goes through ``web.forms.act`` (the API's lookup and the one lifecycle service),
so a refusal is the same as the API's: 403 for the wrong role or scope, 404 for a reflection the
caller may not see, 409 for a stale version or an event not allowed now, 422 for a bad form.
On success the browser goes back (303) to the page with ``?done=<event>``.
"""

from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, SessionDep
from api.lookup import id_for_code, open_reflection
from reflections.errors import Forbidden
from reflections.lifecycle import duplicates
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.permissions import may_fire
from reflections.lifecycle.service import EventInput
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import LifecycleEvent, Priority
from reflections.organisation.visibility import can_see
from web import forms
from web.routes.console_choices import local_instant
from web.routes.home import START_PAGE
from web.session import CsrfChecked, StaffCaller

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])
E = LifecycleEvent
PATH = "/console/reflections/{tracking_code}"
LISTS = ("/console/queue", "/console/inbox", "/console/escalations")  # where ``back`` may go

Reason = Annotated[str, Form(min_length=1, max_length=2000)]
OptionalReason = Annotated[str, Form(max_length=2000)]
Code = Annotated[str, Form(min_length=1, max_length=64)]
OptionalCode = Annotated[str, Form(max_length=64)]
Version = Annotated[str, Form(max_length=12)]
Back = Annotated[str, Form(max_length=40)]


def _optional(text: str) -> str | None:
    return text.strip() or None


def _unit(session: Session, code: str | None, field: str) -> int | None:
    return id_for_code(session, HandlingUnit, code or None, field)


def _back_to(session: Session, caller: Caller, reflection: Reflection, back: str) -> str:
    """The list the form came from; else the reflection, while the caller still sees it
    (a handler who returned it no longer does); else the caller's start page."""
    if back in LISTS:
        return back
    if can_see(session, caller.actor, reflection):
        return f"/console/reflections/{reflection.tracking_code}"
    return START_PAGE.get(caller.actor.role, "/console")


def _do(
    session: Session,
    caller: Caller,
    tracking_code: str,
    event: LifecycleEvent,
    data: EventInput,
    version: str,
    back: str = "",
) -> Response:
    updated = forms.act(session, caller, tracking_code, event, data, version)
    target = _back_to(session, caller, updated, back)
    return RedirectResponse(f"{target}?done={event.value}", 303)


@router.post(f"{PATH}/classify")
def classify(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    category: Code,
    priority: Annotated[Priority, Form()],
    ward: Code,
    version: Version = "",
) -> Response:
    data = EventInput(
        category_id=id_for_code(session, Category, category, "category"),
        priority=priority,
        administrative_unit_id=id_for_code(session, AdministrativeUnit, ward, "ward"),
    )
    return _do(session, caller, tracking_code, E.CLASSIFY, data, version)


@router.post(f"{PATH}/assign")
def assign(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    handling_unit: Code,
    reason: OptionalReason = "",
    version: Version = "",
) -> Response:
    data = EventInput(
        handling_unit_id=_unit(session, handling_unit, "handling_unit"), reason=_optional(reason)
    )
    return _do(session, caller, tracking_code, E.ASSIGN, data, version)


@router.post(f"{PATH}/accept")
def accept(
    session: SessionDep, caller: StaffCaller, tracking_code: str, version: Version = ""
) -> Response:
    return _do(session, caller, tracking_code, E.ACCEPT, EventInput(), version)


@router.post(f"{PATH}/return")
def return_(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    reason: Reason,
    suggested_unit: OptionalCode = "",
    version: Version = "",
) -> Response:
    data = EventInput(
        reason=reason, suggested_unit_id=_unit(session, suggested_unit, "suggested_unit")
    )
    return _do(session, caller, tracking_code, E.RETURN, data, version)


@router.post(f"{PATH}/reassign")
def reassign(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    handling_unit: Code,
    reason: OptionalReason = "",
    version: Version = "",
    back: Back = "",
) -> Response:
    data = EventInput(
        handling_unit_id=_unit(session, handling_unit, "handling_unit"), reason=_optional(reason)
    )
    return _do(session, caller, tracking_code, E.REASSIGN, data, version, back)


@router.post(f"{PATH}/request_extension")
def request_extension(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    reason: Reason,
    new_due_date: Annotated[date, Form()],
    new_due_time: Annotated[time | None, Form()] = None,
    version: Version = "",
) -> Response:
    due = local_instant(new_due_date, new_due_time, "new_due_date")
    data = EventInput(reason=reason, new_due_at=due)
    return _do(session, caller, tracking_code, E.REQUEST_EXTENSION, data, version)


@router.post(f"{PATH}/grant_extension")
def grant_extension(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    reason: OptionalReason = "",
    new_due_date: Annotated[date | None, Form()] = None,
    new_due_time: Annotated[time | None, Form()] = None,
    version: Version = "",
) -> Response:
    """Without a date the requested one is granted."""
    due = local_instant(new_due_date, new_due_time, "new_due_date") if new_due_date else None
    data = EventInput(reason=_optional(reason), new_due_at=due)
    return _do(session, caller, tracking_code, E.GRANT_EXTENSION, data, version)


@router.post(f"{PATH}/process")
async def process(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    result: Annotated[str, Form(min_length=1, max_length=5000)],
    photos: Annotated[list[UploadFile] | None, File()] = None,
    version: Version = "",
) -> Response:
    """The result, with photos of it (a browser sends an empty part when none is chosen)."""
    files = tuple(
        [Photo(await upload.read(), upload.filename) for upload in photos or [] if upload.filename]
    )
    data = EventInput(result=result, photos=files)
    return await run_in_threadpool(_do, session, caller, tracking_code, E.PROCESS, data, version)


@router.post(f"{PATH}/escalate")
def escalate(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    reason: OptionalReason = "",
    version: Version = "",
    back: Back = "",
) -> Response:
    data = EventInput(reason=_optional(reason))
    return _do(session, caller, tracking_code, E.ESCALATE, data, version, back)


def _reason_only(event: LifecycleEvent) -> None:
    """Reject, deny an extension, send back: events whose whole form is a required reason."""

    def endpoint(
        session: SessionDep,
        caller: StaffCaller,
        tracking_code: str,
        reason: Reason,
        version: Version = "",
    ) -> Response:
        return _do(session, caller, tracking_code, event, EventInput(reason=reason), version)

    endpoint.__name__ = event.value
    router.add_api_route(f"{PATH}/{event.value}", endpoint, methods=["POST"])


for _event in (E.REJECT, E.DENY_EXTENSION, E.SEND_BACK):
    _reason_only(_event)


@router.post(f"{PATH}/merge")
def merge(
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    into: Annotated[str, Form(min_length=1, max_length=16)],
    reason: OptionalReason = "",
    version: Version = "",
) -> Response:
    """Reject this reflection as a duplicate of ``into``.

    See ``reflections.lifecycle.duplicates.merge``."""
    if not may_fire(caller.actor.role, E.REJECT):  # before the lookup: no probing codes
        raise Forbidden(f"a {caller.actor.role} may not merge reflections")
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    merged = duplicates.merge(
        session, reflection.id, into, actor, _optional(reason), forms.version(version)
    )
    target = _back_to(session, caller, merged, "")
    return RedirectResponse(f"{target}?done=merge", 303)
