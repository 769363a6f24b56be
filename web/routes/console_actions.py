"""The staff's actions on a reflection, one small form each (``web/console_forms.py``), all
through the one lifecycle service, as the API's are.

- Done: the browser goes on (303): to the next item of the coordinator's list when the form
  came from it, else back to the list it came from, else to the reflection; the page then says
  what was done to which reflection ("Đã giao 6DWD-7N7F cho Sở Xây dựng").
- Refused input (422): the reflection's page again, the form as typed and open, the sentence at
  the field. Someone acted first (409): the page as it is now, saying who did what and when,
  the text typed kept in any form still offered. 403 and 404 are the usual pages.
"""

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import Caller, SessionDep
from api.lookup import open_reflection
from reflections.errors import (
    Conflict,
    EventNotAllowed,
    Forbidden,
    GuardFailed,
    InvalidInput,
    NotFound,
)
from reflections.lifecycle import duplicates, publication
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.permissions import may_fire
from reflections.lifecycle.service import apply_events
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent
from reflections.organisation.visibility import can_see
from web import forms
from web.console_done import done_query
from web.console_forms import ACTIONS, ALIASES, read_form
from web.field_errors import field_errors, sentence
from web.routes.console_reflection import (
    PageState,
    next_code,
    render_reflection,
    safe_back,
    what_changed,
)
from web.session import START_PAGE, CsrfChecked, StaffCaller
from web.templating import translator

router = APIRouter(include_in_schema=False)
E = LifecycleEvent
PATH = "/console/reflections/{tracking_code}"
# Actions after which the coordinator goes on to the next item of their list.
NEXT_AFTER = frozenset({"classify", "assign", "reject", "merge"})


@router.post(f"{PATH}/merge", dependencies=[CsrfChecked])
def merge(
    request: Request,
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    into: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    queue: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """Reject this reflection as a duplicate of ``into`` (see ``duplicates.merge``)."""
    if not may_fire(caller.actor.role, E.REJECT):  # before the lookup: no probing codes
        raise Forbidden(f"a {caller.actor.role} may not merge reflections")
    values = {"into": into, "reason": reason}
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    successor = next_code(session, reflection.id, queue)
    try:
        duplicates.merge(
            session, reflection.id, into, actor, reason.strip() or None, forms.version(version)
        )
    except (InvalidInput, GuardFailed, Conflict, EventNotAllowed) as error:
        return _refused(
            request, session, caller, tracking_code, "merge", values, error, version, queue
        )
    target = _after(session, caller, reflection, "merge", successor, queue, None)
    return RedirectResponse(f"{target}{done_query('merge', tracking_code, into=into.upper())}", 303)


@router.post(f"{PATH}/publication", dependencies=[CsrfChecked])
def publish(
    request: Request,
    session: SessionDep,
    caller: StaffCaller,
    tracking_code: str,
    publish: Annotated[str, Form(max_length=1)] = "1",
    public_summary: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Publish what the citizen wrote (or the summary typed), or take it off public view."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    try:
        publication.publish_now(
            session, reflection, actor, publish == "1", public_summary.strip() or None
        )
    except InvalidInput as error:
        t = translator(request)
        found = field_errors(error, t, dict(ALIASES)) or {"form": t("error.invalid", label="")}
        state = PageState(
            errors={f"publication-{name}": text for name, text in found.items()},
            values={"publication": {"public_summary": public_summary}},
        )
        return render_reflection(request, session, caller, tracking_code, state, 422)
    done = "published" if publish == "1" else "unpublished"
    target = PATH.format(tracking_code=reflection.tracking_code)
    return RedirectResponse(f"{target}?{done_query(done, reflection.tracking_code)}", 303)


@router.post(f"{PATH}/{{action}}", dependencies=[CsrfChecked])
async def act(
    request: Request, session: SessionDep, caller: StaffCaller, tracking_code: str, action: str
) -> Response:
    if action not in ACTIONS:
        raise NotFound(f"no action {action}")
    raw = await request.form()
    photos: list[Photo] = []
    for upload in raw.getlist("photos") if action == "process" else []:
        if isinstance(upload, UploadFile) and upload.filename:
            photos.append(Photo(await upload.read(), upload.filename))
    fields = {key: value for key, value in raw.items() if isinstance(value, str)}
    return await run_in_threadpool(
        _act, request, session, caller, tracking_code, action, fields, tuple(photos)
    )


def _act(
    request: Request,
    session: Session,
    caller: Caller,
    tracking_code: str,
    action: str,
    raw: dict[str, str],
    photos: tuple[Photo, ...],
) -> Response:
    queue, back = raw.get("queue"), safe_back(raw.get("back"))
    values, refusals = read_form(session, action, raw)
    if refusals:
        t = translator(request)
        errors = {
            f"{action}-{name}": sentence(t, name, code, params) for name, code, params in refusals
        }
        state = PageState(errors=errors, values={action: values}, open_form=action)
        return render_reflection(
            request, session, caller, tracking_code, state, 422, queue=queue, back=back
        )
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    successor = next_code(session, reflection.id, queue) if action in NEXT_AFTER else None
    try:
        steps = ACTIONS[action].build(session, caller, values)
        if photos:
            event, data = steps[0]
            steps[0] = (event, replace(data, photos=photos))
        if action == "classify" and raw.get("publish") == "1":  # commits with the events
            summary = (raw.get("public_summary") or "").strip() or None
            publication.decide(session, reflection, actor, True, summary)
        apply_events(session, reflection.id, steps, actor, forms.version(raw.get("version")))
    except (InvalidInput, GuardFailed, Conflict, EventNotAllowed) as error:
        shown = raw.get("version", "")
        return _refused(
            request, session, caller, tracking_code, action, values, error, shown, queue, back
        )
    done = "classify_assign" if len(steps) > 1 else action
    unit = values.get("handling_unit") if action in ("classify", "assign", "reassign") else None
    target = _after(session, caller, reflection, action, successor, queue, back)
    return RedirectResponse(f"{target}{done_query(done, tracking_code, unit=unit)}", 303)


def _after(
    session: Session,
    caller: Caller,
    reflection: Reflection,
    action: str,
    successor: str | None,
    queue: str | None,
    back: str | None,
) -> str:
    """Where the browser goes next, ending in ``?`` or ``&`` for the done message."""
    session.expire_all()
    if queue is not None and action in NEXT_AFTER:  # on to the next item, or the list's end
        if successor is not None:
            return f"/console/reflections/{successor}?{forms_query(queue)}"
        return f"/console/queue?{queue}&" if queue else "/console/queue?"
    if back is not None:
        return back + ("&" if "?" in back else "?")
    stored = session.get(Reflection, reflection.id)
    if stored is not None and can_see(session, caller.actor, stored):
        context = forms_query(queue) if queue is not None else ""
        return f"/console/reflections/{stored.tracking_code}?{context}"
    return START_PAGE.get(caller.actor.role, "/console") + "?"


def forms_query(queue: str) -> str:
    return urlencode({"queue": queue}) + "&"


def _refused(
    request: Request,
    session: Session,
    caller: Caller,
    tracking_code: str,
    action: str,
    values: dict[str, str],
    error: Exception,
    shown: str,
    queue: str | None,
    back: str | None = None,
) -> Response:
    """The reflection's page again: 422 with the sentence at the field, 409 saying what
    changed meanwhile; the text typed stays in the form."""
    t = translator(request)
    state = PageState(values={action: values}, open_form=action)
    status = 409 if isinstance(error, Conflict | EventNotAllowed) else 422
    if status == 409:
        state.conflict = what_changed(session, tracking_code, forms.version(shown), t)
    else:
        aliases = dict(ALIASES)
        if action in ACTIONS:
            aliases |= ACTIONS[action].aliases or {}
        found = field_errors(error, t, aliases) or {"form": t("error.invalid", label="")}
        state.errors = {f"{action}-{name}": text for name, text in found.items()}
    return render_reflection(
        request, session, caller, tracking_code, state, status, queue=queue, back=back
    )


@router.get(f"{PATH}/{{action}}")
def action_page(tracking_code: str, action: str) -> Response:
    """An action's address opened as a page (an old link, a log-in's ``next``): its form is on
    the reflection's page."""
    if action not in ACTIONS and action != "merge":
        raise NotFound(f"no page {action}")
    return RedirectResponse(f"/console/reflections/{tracking_code.upper()}#{action}", 303)
