"""The citizen's pages: submit, follow a reflection with its code and secret, confirm, reopen."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, SessionDep
from api.lookup import open_reflection, open_reflection_with_photos, photo_file
from api.routes.reflections import key_was_issued, submit_reflection
from api.schemas import ContactIn, SubmissionIn
from api.views import reflection_view
from reflections.actors import Actor
from reflections.errors import DomainError, InvalidInput, NotFound, RateLimited, TooManyAttempts
from reflections.lifecycle import followers, history, staged_photos
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.service import EventInput
from reflections.messaging import links
from reflections.messaging.pins import looks_like_pin, pin_opens
from reflections.models import Reflection
from reflections.models.enums import Channel, Language, LifecycleEvent
from reflections.platform import clock
from reflections.platform.settings import get_settings
from web import forms
from web.citizen_access import CitizenCaller, remember_grant
from web.errors import message_of, rate_limit_sentence, status_of
from web.field_errors import field_errors
from web.plain_status import plain_dates
from web.session import CITIZEN_COOKIE, CsrfChecked, OptionalStaff, cookie_options
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
# The API's names for what the submit form calls otherwise.
SUBMIT_INPUTS = {
    "administrative_unit": "ward",
    "administrative_unit_id": "ward",
    "category_hint": "category",
}


def key_max_age() -> int:
    """Weeks, not years (``REFLECTIONS_CITIZEN_COOKIE_DAYS``): a shared or lost device should
    not open a citizen's reflections for ever; the tracking code and key still do."""
    return get_settings().citizen_cookie_days * 86400


def _form_context(request: Request, session: Session, values: dict[str, Any]) -> dict[str, Any]:
    english = translator(request).language is Language.EN
    return {
        "wards": forms.wards(session, english),
        "categories": forms.categories(session, english),
        "values": values,
        "max_photos": get_settings().max_photos,
        "map_tiles": get_settings().map_tiles_url,
        "map_attribution": get_settings().map_attribution,
    }


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, session: SessionDep, staff: OptionalStaff) -> Response:
    return render(request, "citizen/submit.html", _form_context(request, session, {}))


@router.post("/submit", dependencies=[CsrfChecked])
async def submit(
    request: Request,
    session: SessionDep,
    staff: OptionalStaff,
    description: Annotated[str, Form(max_length=5000)],
    category: Annotated[str, Form(max_length=64)] = "",
    urgent: Annotated[bool, Form()] = False,
    ward: Annotated[str, Form(max_length=64)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
    latitude: Annotated[str, Form(max_length=32)] = "",
    longitude: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    language: Annotated[Language, Form()] = Language.VI,
    channels: Annotated[list[Channel] | None, Form(max_length=2)] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
    staged: Annotated[str, Form(max_length=64)] = "",
    unstage: Annotated[list[int] | None, Form()] = None,
) -> Response:
    values = {
        "description": description,
        "category": category,
        "urgent": urgent,
        "ward": ward,
        "address": address,
        "latitude": latitude,
        "longitude": longitude,
        "name": name,
        "phone": phone,
        "email": email,
        "language": language.value,
        "channels": [c.value for c in channels or []],
    }
    chosen = [Photo(await u.read(), u.filename) for u in photos or [] if u.filename]
    # photos a refused try already accepted come back with the form (issue 16)
    dropped = set(unstage or [])
    kept = [
        s.photo for s in staged_photos.load(session, staged, clock.now()) if s.id not in dropped
    ]
    files = tuple(kept + chosen)
    # A staff member submitting is an operator on the hotline; everyone else is a citizen,
    # who keeps one key for all their reflections.
    key = request.cookies.get(CITIZEN_COOKIE)
    caller = staff
    if caller is None and key and key_was_issued(session, key):  # else: a new key
        caller = Caller(Actor.citizen(), citizen_key=key)
    try:
        body = SubmissionIn(
            description=description,
            latitude=_number(latitude, "latitude"),
            longitude=_number(longitude, "longitude"),
            address=address or None,
            administrative_unit=ward or None,
            category_hint=category or None,
            urgent=urgent,
            contact=ContactIn(
                name=name or None,
                phone=phone or None,
                email=email or None,
                language=language,
                channels=list(channels or []),
            ),
        )
        out = await run_in_threadpool(submit_reflection, session, caller, body, files, request)
    except (DomainError, ValidationError) as error:
        errors = field_errors(error, translator(request), SUBMIT_INPUTS)
        context = _form_context(request, session, values) | {"errors": errors}
        if isinstance(error, RateLimited):  # said in the page's language, with the wait
            context["error"] = rate_limit_sentence(translator(request), error)
        elif not errors:  # a refusal about no field in particular (a 403, say)
            context["error"] = message_of(error)
        session.rollback()  # nothing of the refused try; only its good photos are kept
        good = staged_photos.acceptable(list(files), get_settings().max_photos)
        token, now_staged = staged_photos.keep(session, staged, good, clock.now())
        session.commit()
        context |= {"staged": token if now_staged else "", "staged_photos": now_staged}
        page = render(request, "citizen/submit.html", context, _status(error))
        if isinstance(error, RateLimited):
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    staged_photos.drop(session, staged)
    if staff is not None:  # the operator reads the code and PIN to the caller
        return render(request, "citizen/submitted_for.html", {"out": out})
    response = RedirectResponse(f"/track/{out.tracking_code}?new=1", 303)
    keep = cookie_options() | {"max_age": key_max_age()}
    response.set_cookie(CITIZEN_COOKIE, out.citizen_key, **keep)
    return response


def _number(text: str, field: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise InvalidInput(field, "must be a number, e.g. 16.4637", "not_a_number") from None


def _status(error: Exception) -> int:
    return 422 if isinstance(error, ValidationError) else status_of(error)


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, code: str = "", expired: int = 0) -> Response:
    return render(request, "citizen/track_form.html", {"code": code, "expired": bool(expired)})


@router.post("/track", dependencies=[CsrfChecked])
def track(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Form(max_length=32)],
    secret: Annotated[str, Form(max_length=200)],
) -> Response:
    code, secret = code.strip().upper(), secret.strip()
    if looks_like_pin(secret):  # a hotline caller's PIN: opens this reflection on this browser
        return _open_by_pin(request, session, code, secret)
    try:
        open_reflection(session, Caller(Actor.citizen(), citizen_key=secret), code)
    except NotFound:
        context = {"code": code, "failed": True}
        return render(request, "citizen/track_form.html", context, 404)
    response = RedirectResponse(f"/track/{code}", 303)
    response.set_cookie(CITIZEN_COOKIE, secret, max_age=key_max_age(), **cookie_options())
    return response


def _open_by_pin(request: Request, session: Session, code: str, pin: str) -> Response:
    """A right PIN opens the page; a wrong one is counted (kept although the answer is a
    refusal) and, past the limit, the PIN opens nothing and the page says to sign in."""
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).first()
    try:
        opened = reflection is not None and pin_opens(session, reflection, pin)
    except TooManyAttempts:
        session.commit()
        context = {"code": code, "failed": True, "locked": True}
        return render(request, "citizen/track_form.html", context, 429)
    session.commit()
    if not opened or reflection is None:
        return render(request, "citizen/track_form.html", {"code": code, "failed": True}, 404)
    response = RedirectResponse(f"/track/{code}", 303)
    remember_grant(request, response, code, links.token_for(code, clock.now()))
    return response


@router.get("/track/{tracking_code}", response_class=HTMLResponse)
def tracking_page(
    request: Request,
    session: SessionDep,
    caller: CitizenCaller,
    tracking_code: str,
    new: int = 0,
    expired: int = 0,
) -> Response:
    try:
        reflection, actor, photos = open_reflection_with_photos(session, caller, tracking_code)
    except NotFound:
        again = "&expired=1" if expired else ""
        return RedirectResponse(f"/track?code={tracking_code}{again}", 303)
    assert reflection.id is not None
    rows = history.citizen_timeline(history.timeline(session, reflection.id))
    merged_into = next(
        (row.payload.get("duplicate_of") for row in rows if row.payload.get("duplicate_of")), None
    )
    context = {
        "r": reflection_view(session, actor, reflection, {reflection.id: photos}),
        "timeline": rows,
        "merged_into": merged_into,
        "secret": caller.citizen_key if new else None,
        "done": request.query_params.get("done"),
        "dates": plain_dates(session, reflection, translator(request), clock.now()),
        "reported_by": followers.reported_by(session, reflection),
    }
    return render(request, "citizen/track.html", context)


@router.get("/track/{tracking_code}/photos/{sha256}")
def photo(session: SessionDep, caller: CitizenCaller, tracking_code: str, sha256: str) -> Response:
    reflection, _ = open_reflection(session, caller, tracking_code)
    return photo_file(session, reflection, sha256)


@router.post("/track/{tracking_code}/confirm", dependencies=[CsrfChecked])
def confirm(
    session: SessionDep,
    caller: CitizenCaller,
    tracking_code: str,
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    data = EventInput(rating=rating, comment=comment or None)
    forms.act(session, caller, tracking_code, LifecycleEvent.CONFIRM, data, version)
    return RedirectResponse(f"/track/{tracking_code}?done=confirm", 303)


@router.post("/track/{tracking_code}/reopen", dependencies=[CsrfChecked])
def reopen(
    session: SessionDep,
    caller: CitizenCaller,
    tracking_code: str,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    data = EventInput(reason=reason)
    forms.act(session, caller, tracking_code, LifecycleEvent.REOPEN, data, version)
    return RedirectResponse(f"/track/{tracking_code}?done=reopen", 303)


@router.post("/track/{tracking_code}/add-info", dependencies=[CsrfChecked])
async def add_info(
    session: SessionDep,
    caller: CitizenCaller,
    tracking_code: str,
    text: Annotated[str, Form(min_length=1, max_length=2000)],
    photos: Annotated[list[UploadFile] | None, File()] = None,
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """More words or photos while it is open: a history row the handler reads (issue 16)."""
    files = tuple([Photo(await u.read(), u.filename) for u in photos or [] if u.filename])
    data = EventInput(reason=text, photos=files)
    await run_in_threadpool(
        forms.act, session, caller, tracking_code, LifecycleEvent.ADD_INFO, data, version
    )
    return RedirectResponse(f"/track/{tracking_code}?done=add_info", 303)
