"""The admins' page for canned texts: what each action's form offers, per category; every
change kept (``reflections.organisation.canned_texts``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from api.deps import Caller, SessionDep
from reflections.errors import DomainError
from reflections.models import CannedText, Category, User
from reflections.models.enums import Language, LifecycleEvent, Role
from reflections.organisation import canned_texts
from web import forms
from web.field_errors import field_errors, sentence
from web.session import CsrfChecked, staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
Admin = Annotated[Caller, Depends(staff_with_role(Role.ADMIN))]
PATH = "/console/admin/canned-texts"
Text = Annotated[str, Form(max_length=canned_texts.TEXT_MAX + 100)]
Title = Annotated[str, Form(max_length=canned_texts.TITLE_MAX + 100)]
Code = Annotated[str, Form(max_length=64)]


def _page(request: Request, session: Any, status: int = 200, **extra: Any) -> Response:
    english = translator(request).language is Language.EN
    rows = list(session.exec(select(CannedText).order_by(col(CannedText.id).desc())))
    users = {r.created_by_id for r in rows} | {r.retired_by_id for r in rows}
    names = dict(
        session.exec(select(User.id, User.full_name).where(col(User.id).in_(users - {None}))).all()
    )
    categories = {
        c.id: (c.name_en if english else c.name_vi) for c in session.exec(select(Category))
    }
    context = {
        "current": [r for r in rows if r.retired_at is None],
        "retired": [r for r in rows if r.retired_at is not None],
        "names": names,
        "category_names": categories,
        "categories": forms.categories(session, english),
        "events": [e.value for e in canned_texts.CANNED_EVENTS],
        "values": {},
        "done": request.query_params.get("done") in ("created", "changed", "withdrawn"),
    } | extra
    return render(request, "admin/canned_texts.html", context, status)


@router.get(PATH, response_class=HTMLResponse)
def canned_page(request: Request, session: SessionDep, _admin: Admin) -> Response:
    return _page(request, session)


@router.post(PATH, dependencies=[CsrfChecked])
def create(
    request: Request,
    session: SessionDep,
    admin: Admin,
    event: Annotated[str, Form(max_length=32)] = "",
    category: Code = "",
    title: Title = "",
    text: Text = "",
) -> Response:
    values = {"event": event, "category": category, "title": title, "text": text}
    try:
        chosen = LifecycleEvent(event)
    except ValueError:
        return _refused(request, session, values, "event")
    try:
        canned_texts.create(session, admin.actor, chosen, category or None, title, text)
    except DomainError as error:
        errors = field_errors(error, translator(request))
        return _page(request, session, 422, errors=errors, values=values)
    return RedirectResponse(f"{PATH}?done=created", 303)


def _refused(request: Request, session: Any, values: dict[str, str], name: str) -> Response:
    t = translator(request)
    errors = {name: sentence(t, name, "required" if not values[name] else "unknown_choice", {})}
    return _page(request, session, 422, errors=errors, values=values)


@router.post(f"{PATH}/{{text_id}}", dependencies=[CsrfChecked])
def change(
    request: Request,
    session: SessionDep,
    admin: Admin,
    text_id: int,
    category: Code = "",
    title: Title = "",
    text: Text = "",
) -> Response:
    """Replace the text (the old one stays, retired) or, with ``withdraw``, retire it."""
    try:
        canned_texts.replace(session, admin.actor, text_id, category or None, title, text)
    except DomainError as error:
        errors = {f"{text_id}-{k}": v for k, v in field_errors(error, translator(request)).items()}
        return _page(request, session, 422, errors=errors, editing=text_id)
    return RedirectResponse(f"{PATH}?done=changed", 303)


@router.post(f"{PATH}/{{text_id}}/withdraw", dependencies=[CsrfChecked])
def withdraw(session: SessionDep, admin: Admin, text_id: int) -> Response:
    canned_texts.retire(session, admin.actor, text_id)
    return RedirectResponse(f"{PATH}?done=withdrawn", 303)
