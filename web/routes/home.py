"""The front page, the language switch, and staff log-in and log-out."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep
from reflections.models.enums import Role
from reflections.organisation.auth import InvalidCredentials, authenticate, issue_token
from web.i18n import language_of
from web.session import (
    LANGUAGE_COOKIE,
    STAFF_COOKIE,
    CsrfChecked,
    OptionalStaff,
    StaffCaller,
    cookie_options,
    set_staff_cookie,
)
from web.templating import render

router = APIRouter(include_in_schema=False)

# Where each role starts its day.
START_PAGE = {
    Role.COORDINATOR: "/console/queue",
    Role.HANDLER: "/console/inbox",
    Role.SUPERVISOR: "/console/escalations",
    Role.AUDITOR: "/console/reports",
    Role.OPERATOR: "/submit",
    Role.ADMIN: "/console/queue",
}


def local_path(target: str | None, default: str = "/") -> str:
    """Only paths on this site: a log-in link must not send anyone elsewhere."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@router.get("/", response_class=HTMLResponse)
def home(request: Request, _staff: OptionalStaff) -> Response:
    """Asks for the staff cookie only so that the layout shows a logged-in user's pages."""
    return render(request, "home.html")


@router.get("/language/{code}")
def switch_language(code: str, request: Request, next: str | None = None) -> Response:
    response = RedirectResponse(local_path(next or request.headers.get("referer")), 303)
    response.set_cookie(
        LANGUAGE_COOKIE, language_of(code).value, max_age=365 * 86400, **cookie_options()
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": local_path(next, "")})


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        user = authenticate(session, username, password)
    except InvalidCredentials:
        context = {"next": local_path(next, ""), "username": username, "failed": True}
        return render(request, "login.html", context, 401)
    token, lifetime = issue_token(user)
    response = RedirectResponse(local_path(next, START_PAGE.get(user.role, "/")), 303)
    set_staff_cookie(response, token, lifetime)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout() -> Response:
    response = RedirectResponse("/", 303)
    response.delete_cookie(STAFF_COOKIE, path="/")
    return response


@router.get("/r/{tracking_code}")
def message_link(tracking_code: str, caller: OptionalStaff) -> Response:
    """The link in every notification: staff land on their page of it, citizens on tracking."""
    code = tracking_code.upper()
    target = f"/console/reflections/{code}" if caller else f"/track/{code}"
    return RedirectResponse(target, 303)


@router.get("/console")
def console(caller: StaffCaller) -> Response:
    assert caller.user is not None
    return RedirectResponse(START_PAGE.get(caller.user.role, "/"), 303)
