"""Citizens sign in by a one-time code and see all their reflections (issue 16): ``/sign-in``
asks for a phone or email, then for the code sent to it; ``/me`` lists every reflection made
with that contact, on any device or by an operator, and those the citizen follows."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col

from api.abuse import client_address
from api.deps import SessionDep
from api.views import reflection_view
from reflections.actors import Actor
from reflections.errors import InvalidInput, TooManyAttempts
from reflections.lifecycle import queries
from reflections.messaging import sign_in
from reflections.models import Reflection
from reflections.platform import clock
from web.citizen_access import SESSION_COOKIE, CitizenCaller, sign_in_cookie
from web.field_errors import field_errors
from web.session import CITIZEN_COOKIE, CsrfChecked
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE = "citizen/sign_in.html"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, contact: str = "") -> Response:
    return render(request, PAGE, {"values": {"contact": contact}, "step": "contact"})


def _refused(
    request: Request, error: InvalidInput | TooManyAttempts, values: dict[str, str], step: str
) -> Response:
    t = translator(request)
    if isinstance(error, TooManyAttempts):
        errors = {step: t(f"error.{error.code}")}
        status = 429
    else:
        errors = field_errors(error, t)
        status = 422
    context = {"values": values, "step": step, "errors": errors}
    return render(request, PAGE, context, status)


@router.post("/sign-in", dependencies=[CsrfChecked])
def send_code(
    request: Request, session: SessionDep, contact: Annotated[str, Form(max_length=254)] = ""
) -> Response:
    values = {"contact": contact}
    try:
        parsed = sign_in.parse_contact(contact)
        language = translator(request).language.value
        sign_in.send_code(session, parsed, client_address(request), clock.now(), language)
    except (InvalidInput, TooManyAttempts) as error:
        return _refused(request, error, values, "contact")
    session.commit()
    context = {"values": values, "step": "code", "masked": parsed.masked()}
    return render(request, PAGE, context)


@router.post("/sign-in/code", dependencies=[CsrfChecked])
def check_code(
    request: Request,
    session: SessionDep,
    contact: Annotated[str, Form(max_length=254)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    values = {"contact": contact}
    now = clock.now()
    try:
        parsed = sign_in.parse_contact(contact)
        sign_in.check_code(session, parsed, code, now)
    except (InvalidInput, TooManyAttempts) as error:
        session.commit()  # a wrong try stays counted
        step = "contact" if isinstance(error, InvalidInput) and error.field == "contact" else "code"
        return _refused(request, error, values, step)
    token, _ = sign_in.open_session(session, parsed, now)
    session.commit()
    response = RedirectResponse("/me", 303)
    sign_in_cookie(response, token)
    return response


@router.get("/me", response_class=HTMLResponse)
def my_reflections(request: Request, session: SessionDep, caller: CitizenCaller) -> Response:
    """Signed in: every reflection of the contact. With only a key: that key's reflections."""
    if caller.contact is not None:
        statement = queries.contact_reflections(caller.contact)
    elif caller.citizen_key_hash is not None:
        statement = queries.citizen_reflections(caller.citizen_key_hash)
    else:
        return RedirectResponse("/sign-in", 303)
    rows = session.exec(statement.order_by(col(Reflection.created_at).desc()).limit(200)).all()
    views = [reflection_view(session, Actor.citizen(row.id), row) for row in rows]
    context = {
        "reflections": views,
        "contact": caller.contact.masked() if caller.contact else None,
    }
    return render(request, "citizen/me.html", context)


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, session: SessionDep) -> Response:
    """Ends the session everywhere it was used and forgets the key on this browser."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_in.end_session(session, token, clock.now())
        session.commit()
    response = RedirectResponse("/", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CITIZEN_COOKIE, path="/")
    return response
