"""The front page, the language switch, and staff log-in and log-out."""

import re
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from api.abuse import client_address
from api.deps import Caller, SessionDep
from reflections.errors import RateLimited
from reflections.messaging import links
from reflections.models import Reflection, User
from reflections.organisation.auth import (
    InvalidCredentials,
    actor_for,
    end_sessions,
    issue_token,
    log_in,
)
from reflections.platform import clock
from web import forms
from web.citizen_access import remember_grant
from web.console_forms import ACTIONS
from web.errors import rate_limit_sentence
from web.i18n import language_of
from web.routes.console_reflection import PageState, render_reflection, what_changed
from web.session import (
    LANGUAGE_COOKIE,
    STAFF_COOKIE,
    START_PAGE,
    CsrfChecked,
    OptionalStaff,
    StaffCaller,
    cookie_options,
    set_staff_cookie,
)
from web.templating import render, translator

RESUMABLE = re.compile(r"^/console/reflections/([A-Za-z0-9]{4}-[A-Za-z0-9]{4})/([a-z_]+)$")
DRAFT_PREFIX = "draft."

router = APIRouter(include_in_schema=False)


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


async def draft_of(request: Request) -> dict[str, str]:
    """A form sent when the staff session had ended, carried through the log-in form."""
    form = await request.form()
    return {
        key.removeprefix(DRAFT_PREFIX): value
        for key, value in form.items()
        if key.startswith(DRAFT_PREFIX) and isinstance(value, str)
    }


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=200)],
    draft: Annotated[dict[str, str], Depends(draft_of)],
    next: Annotated[str, Form(max_length=2000)] = "",
    resume: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        user = log_in(session, username, password, client_address(request))
    except (InvalidCredentials, RateLimited) as refused:
        context = {
            "next": local_path(next, ""),
            "username": username,
            "failed": True,
            "resume": resume,
            "draft": draft,
        }
        if isinstance(refused, RateLimited):
            context["throttled"] = rate_limit_sentence(translator(request), refused)
            page = render(request, "login.html", context, 429)
            page.headers["Retry-After"] = str(refused.retry_after)
            return page
        return render(request, "login.html", context, 401)
    token, lifetime = issue_token(user)
    found = RESUMABLE.match(resume)
    if found and found.group(2) in ACTIONS:
        response = _resume(request, session, user, found.group(1), found.group(2), draft)
    else:
        response = RedirectResponse(local_path(next, START_PAGE.get(user.role, "/")), 303)
    set_staff_cookie(response, token, lifetime)
    return response


def _resume(
    request: Request,
    session: Session,
    user: User,
    tracking_code: str,
    action: str,
    draft: dict[str, str],
) -> Response:
    """The reflection's page with the form as it was typed when the session ended, to check
    and send again (with what others changed meanwhile, if anything). Photos are not kept."""
    session.expunge(user)
    request.state.staff = user
    caller = Caller(actor_for(session, user), user=user)
    values = {name: draft.get(name, "") for name in (i.name for i in ACTIONS[action].inputs)}
    state = PageState(values={action: values}, open_form=action, resumed=True)
    shown = forms.version(draft.get("version"))
    current = session.exec(
        select(Reflection.version).where(Reflection.tracking_code == tracking_code.upper())
    ).first()
    if shown is not None and current is not None and current != shown:
        state.conflict = what_changed(session, tracking_code, shown, translator(request))
    return render_reflection(
        request,
        session,
        caller,
        tracking_code,
        state,
        queue=draft.get("queue"),
        back=draft.get("back"),
    )


@router.post("/logout", dependencies=[CsrfChecked])
def logout(session: SessionDep, caller: OptionalStaff) -> Response:
    """Log out: the cookie goes, and so does every token of the user (other tabs, devices)."""
    if caller is not None and caller.user is not None:
        user = session.merge(caller.user)
        end_sessions(session, user)
        session.commit()
    response = RedirectResponse("/", 303)
    response.delete_cookie(STAFF_COOKIE, path="/")
    return response


@router.get("/r/{tracking_code}")
def message_link(
    request: Request, tracking_code: str, caller: OptionalStaff, t: str = ""
) -> Response:
    """The link in every notification: staff land on their page of it, citizens on tracking.
    A citizen's link carries a signed token (``t``): it opens the page with nothing to type,
    and keeps it open on this browser until the token expires."""
    code = tracking_code.upper()
    if caller:
        return RedirectResponse(f"/console/reflections/{code}", 303)
    response = RedirectResponse(f"/track/{code}", 303)
    if t and links.opens(t, code, clock.now()):
        remember_grant(request, response, code, t)
    elif t:  # expired or altered: opens if something else does, else the form says why
        response = RedirectResponse(f"/track/{code}?expired=1", 303)
    return response


@router.get("/console")
def console(caller: StaffCaller) -> Response:
    assert caller.user is not None
    return RedirectResponse(START_PAGE.get(caller.user.role, "/"), 303)
