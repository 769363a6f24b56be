"""Signing in by a one-time code (issue 16): ``POST /citizen/codes`` sends a code to a phone or
email, ``POST /citizen/sessions`` trades it for a token that works wherever ``X-Citizen-Key``
does, for every reflection made with that contact. ``DELETE /citizen/sessions/current`` signs
out."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.abuse import client_address
from api.deps import CitizenKeyDep, SessionDep
from api.problems import problem, problem_responses
from reflections.errors import InvalidInput, TooManyAttempts
from reflections.messaging import sign_in
from reflections.platform import clock

router = APIRouter(prefix="/api/v1/citizen", tags=["citizens"])


class CodeIn(BaseModel):
    contact: str = Field(
        min_length=1, max_length=254, description="A phone number (any usual form) or an email."
    )
    language: str = Field(default="vi", pattern="^(vi|en)$", description="Of the message.")


class SessionIn(BaseModel):
    contact: str = Field(min_length=1, max_length=254)
    code: str = Field(min_length=1, max_length=16, description="The 6 digits received.")


class SessionOut(BaseModel):
    citizen_token: str = Field(
        description="Send it as X-Citizen-Key; it opens every "
        "reflection made with this contact until it expires."
    )
    expires_at: str
    contact: str = Field(description="The contact, masked.")


def refusal(session: Session, error: InvalidInput | TooManyAttempts) -> JSONResponse:
    """The refusal, with what it counted kept: a wrong try must stay counted."""
    session.commit()
    if isinstance(error, TooManyAttempts):
        headers = (
            {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else None
        )
        return problem(429, error.reason, "too-many-requests", headers)
    entry = {"field": error.field, "reason": error.reason}
    return problem(422, str(error), "validation-error", errors=[entry])


@router.post(
    "/codes",
    status_code=202,
    responses=problem_responses(429, "Too many codes asked for this contact or from here."),
)
def send_code(body: CodeIn, request: Request, session: SessionDep) -> Response:
    """Send a 6-digit code (10 minutes, 5 tries) to the contact if any reflection carries it.
    The answer is the same either way: it does not tell whether the contact is known."""
    contact = sign_in.parse_contact(body.contact)
    try:
        sign_in.send_code(session, contact, client_address(request), clock.now(), body.language)
    except TooManyAttempts as error:
        return refusal(session, error)
    session.commit()
    detail = "if reflections were made with this contact, a code is on its way"
    return JSONResponse({"detail": detail, "contact": contact.masked()}, status_code=202)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=problem_responses(429, "Too many wrong codes: ask for a new one."),
)
def open_session(body: SessionIn, session: SessionDep) -> Response:
    """Trade a code for a citizen token. Wrong code: 422 naming ``code`` (tries left); expired
    or used: 422; the fifth wrong try and after: 429."""
    contact = sign_in.parse_contact(body.contact)
    now = clock.now()
    try:
        sign_in.check_code(session, contact, body.code, now)
    except (InvalidInput, TooManyAttempts) as error:
        return refusal(session, error)
    token, row = sign_in.open_session(session, contact, now)
    session.commit()
    out = SessionOut(
        citizen_token=token, expires_at=row.expires_at.isoformat(), contact=contact.masked()
    )
    return JSONResponse(out.model_dump(), status_code=201)


@router.delete("/sessions/current", status_code=204, responses=problem_responses())
def end_session(session: SessionDep, citizen_key: CitizenKeyDep = None) -> Response:
    """Sign out: the token opens nothing from now on."""
    if not citizen_key or not citizen_key.startswith(sign_in.SESSION_PREFIX):
        raise InvalidInput("X-Citizen-Key", "send the session token to end", "required")
    sign_in.end_session(session, citizen_key, clock.now())
    session.commit()
    return Response(status_code=204)
