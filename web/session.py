"""Who is on a page: staff by a signed-token cookie, citizens by their key in a cookie.

The cookies carry exactly what the API's headers carry (a staff token, a citizen key), so the
pages authorise through the same functions. Forms carry a double-submit CSRF token.
"""

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from api.deps import Caller, SessionDep
from reflections.errors import Forbidden
from reflections.models.enums import Role
from reflections.organisation.auth import (
    InvalidCredentials,
    actor_for,
    issue_token,
    needs_renewal,
    session_began,
    user_for_token,
)
from reflections.platform import logs
from reflections.platform.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STAFF_COOKIE = "reflections_staff"
CITIZEN_COOKIE = "reflections_citizen"
CSRF_COOKIE = "reflections_csrf"
LANGUAGE_COOKIE = "reflections_lang"
CSRF_FIELD = "csrf"

# Where each role starts its day.
START_PAGE = {
    Role.COORDINATOR: "/console/queue",
    Role.HANDLER: "/console/inbox",
    Role.SUPERVISOR: "/console/escalations",
    Role.AUDITOR: "/console/reports",
    Role.OPERATOR: "/submit",
    Role.ADMIN: "/console/queue",
}


class LoginRequired(Exception):
    """No staff cookie, or an expired one: the page sends the browser to the log-in form."""


class CsrfFailed(Exception):
    pass


def cookie_options() -> dict[str, Any]:
    """HttpOnly, same-site, and Secure whenever the service is reached over HTTPS."""
    secure = get_settings().public_url.startswith("https://")
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def csrf_token(request: Request) -> str:
    """The form token: the browser's CSRF cookie, or a new one the response will set."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = request.state.new_csrf = secrets.token_urlsafe(24)
    return str(token)


async def check_csrf(request: Request) -> None:
    """Every POST from a page must echo the cookie: another site cannot read it to forge one."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(sent, str) or not secrets.compare_digest(sent, cookie):
        raise CsrfFailed("the form expired or came from another site; reload the page")


CsrfChecked = Depends(check_csrf)


def optional_staff(request: Request, session: SessionDep) -> Caller | None:
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        return None
    try:
        user = user_for_token(session, token)
    except InvalidCredentials:
        return None
    # The layout shows who is logged in, also on the error page after a refused action has
    # rolled the session back (which expires what the session holds): keep the user apart.
    session.expunge(user)
    request.state.staff = user
    if needs_renewal(token):  # the same session: it still ends when it began + 12 h
        request.state.renewed_token = issue_token(user, session_began(token))
    actor = actor_for(session, user)
    logs.note(actor_role=actor.role)
    return Caller(actor, user=user)


OptionalStaff = Annotated[Caller | None, Depends(optional_staff)]


def staff(caller: OptionalStaff) -> Caller:
    if caller is None:
        raise LoginRequired()
    return caller


StaffCaller = Annotated[Caller, Depends(staff)]


def staff_with_role(*roles: Role) -> Callable[[Caller], Caller]:
    allowed = frozenset(roles)

    def check(caller: StaffCaller) -> Caller:
        if caller.actor.role not in allowed:
            raise Forbidden(f"this page is for the role {', '.join(sorted(allowed))}")
        return caller

    return check


def set_staff_cookie(response: Response, token: str, lifetime: int) -> None:
    response.set_cookie(STAFF_COOKIE, token, **(cookie_options() | {"max_age": lifetime}))


class RenewStaffCookie:
    """Middleware: a page that found the staff token half spent sends a fresh one back.

    Pure ASGI (it only adds a header to the answer's start): Starlette's ``BaseHTTPMiddleware``
    would cost every request, the API's too, a task and a pair of memory streams."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                renewed = scope.get("state", {}).get("renewed_token")
                if renewed is not None:
                    carrier = Response()
                    set_staff_cookie(carrier, *renewed)
                    cookies = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]
                    message["headers"] = [*message.get("headers", []), *cookies]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
