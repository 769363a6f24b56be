"""How a citizen is recognised on pages (issue 16): their key, a session signed in by a code,
and the reflections a signed link or a hotline PIN opened on this browser.

The cookies carry what the API's ``X-Citizen-Key`` carries (a key or a session token), plus the
signed link tokens, so the pages authorise through the same :func:`api.lookup.open_reflection`.
"""

from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from api.deps import Caller, SessionDep
from reflections.actors import Actor
from reflections.messaging import links
from reflections.messaging.sign_in import contact_of_token
from reflections.platform import clock
from reflections.platform.settings import get_settings
from web.session import CITIZEN_COOKIE, cookie_options

SESSION_COOKIE = "reflections_signed_in"
GRANTS_COOKIE = "reflections_opened"
MAX_GRANTS = 20  # the newest links opened here; older ones fall off


def _grants(request: Request) -> dict[str, str]:
    """Tracking code → token, as the browser keeps them (unchecked)."""
    found: dict[str, str] = {}
    for entry in (request.cookies.get(GRANTS_COOKIE) or "").split("|"):
        code, _, token = entry.partition(":")
        if code and token:
            found[code.upper()] = token
    return found


def citizen_caller(request: Request, session: Session) -> Caller:
    now = clock.now()
    token = request.cookies.get(SESSION_COOKIE)
    contact = contact_of_token(session, token, now) if token else None
    grants = frozenset(
        code for code, value in _grants(request).items() if links.opens(value, code, now)
    )
    key = request.cookies.get(CITIZEN_COOKIE)
    return Caller(Actor.citizen(), citizen_key=key, contact=contact, grants=grants)


def citizen(request: Request, session: SessionDep) -> Caller:
    return citizen_caller(request, session)


CitizenCaller = Annotated[Caller, Depends(citizen)]


def remember_grant(request: Request, response: Response, code: str, token: str) -> None:
    """Keep a link's (or a PIN's) token on this browser until it expires."""
    kept = _grants(request)
    kept.pop(code, None)
    kept[code] = token
    entries = [f"{c}:{t}" for c, t in list(kept.items())[-MAX_GRANTS:]]
    lifetime = get_settings().link_token_days * 86400
    options = cookie_options() | {"max_age": lifetime}
    response.set_cookie(GRANTS_COOKIE, "|".join(entries), **options)


def sign_in_cookie(response: Response, token: str) -> None:
    lifetime = get_settings().citizen_session_days * 86400
    response.set_cookie(SESSION_COOKIE, token, **(cookie_options() | {"max_age": lifetime}))
