"""One reflection as staff see it: facts, photos, timeline, and the actions allowed now.

Visibility, the reporter block and the allowed actions all come from the API's services
(``open_reflection``, ``reflection_view``, ``available_events``), so the page shows exactly
what the API would let this caller see and do.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from api.deps import SessionDep
from api.lookup import open_reflection, photo_file
from api.routes.reflections import history_views
from api.schemas import ReflectionView
from api.views import reflection_view
from reflections.actors import Actor
from reflections.lifecycle import duplicates
from reflections.models import Category, Reflection
from reflections.models.enums import Language, LifecycleEvent, Priority
from reflections.organisation.validity import reflection_day
from web import forms
from web.i18n import Translator
from web.routes.console_choices import (
    done_of,
    handling_units,
    reassign_units,
    suggestion,
    without,
)
from web.session import StaffCaller
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
E = LifecycleEvent


@router.get("/console/reflections/{tracking_code}", response_class=HTMLResponse)
def reflection_page(
    request: Request, session: SessionDep, caller: StaffCaller, tracking_code: str
) -> Response:
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    view = reflection_view(session, actor, reflection)
    t = translator(request)
    context = {
        "r": view,
        "hint": _hint(session, reflection, t),
        "timeline": history_views(session, reflection.id),
        "done": done_of(request),
        **_action_context(session, actor, reflection, view, t),
    }
    return render(request, "console/reflection.html", context)


@router.get("/console/reflections/{tracking_code}/photos/{sha256}")
def photo(session: SessionDep, caller: StaffCaller, tracking_code: str, sha256: str) -> Response:
    reflection, _ = open_reflection(session, caller, tracking_code)
    return photo_file(session, reflection, sha256)


def _hint(session: Session, reflection: Reflection, t: Translator) -> str | None:
    """The citizen's category hint, by the category's name when it is a category's code."""
    if not reflection.category_hint:
        return None
    statement = select(Category).where(Category.code == reflection.category_hint)
    category = session.exec(statement).first()
    if category is None:
        return reflection.category_hint
    return category.name_en if t.language is Language.EN else category.name_vi


def _action_context(
    session: Session,
    actor: Actor,
    reflection: Reflection,
    view: ReflectionView,
    t: Translator,
) -> dict[str, Any]:
    """Only what the allowed actions' forms need: the choices cost queries."""
    allowed = set(view.allowed_events)
    english = t.language is Language.EN
    current = view.handling_unit.code if view.handling_unit else None
    context: dict[str, Any] = {"allowed": allowed, "priorities": [p.value for p in Priority]}
    if allowed & {E.CLASSIFY, E.ASSIGN}:
        context["suggested"] = suggestion(session, reflection, view)
    day = reflection_day(reflection)  # the map the reflection was reported on
    if E.CLASSIFY in allowed:
        context["categories"] = forms.categories(session, english)
        context["wards"] = forms.wards(session, english, day)
    if E.ASSIGN in allowed or E.RETURN in allowed:
        context["units"] = without(handling_units(session, t, day=day), current)
    if E.REASSIGN in allowed:
        context["reassign_units"] = without(reassign_units(session, actor, t, day), current)
    if E.REJECT in allowed and actor.role in duplicates.FINDERS:
        context["duplicates"] = duplicates.find_duplicates(session, actor, reflection)
    return context
