"""One reflection as staff see it: what it is about, the action that comes next, the others
folded, internal notes, the timeline; and its printable slip.

Visibility, the reporter block and the allowed actions all come from the API's services
(``open_reflection``, ``reflection_view``, ``available_events``), so the page shows exactly
what the API would let this caller see and do. :func:`render_reflection` draws the page for a
visit, for a refused action (the form as typed, the sentence at the field, or what changed
meanwhile) and after logging in again (the form with the text typed before the session ended).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session, col, select

from api.deps import Caller, SessionDep
from api.lookup import open_reflection, photo_file
from api.schemas import ReflectionView
from api.views import reflection_view
from reflections.actors import Actor
from reflections.lifecycle import duplicates, followers, history, publication, worklists
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    HistoryEvent,
    Reflection,
    User,
)
from reflections.models.enums import Language, LifecycleEvent, Priority, Role
from reflections.organisation import canned_texts
from reflections.organisation.names import short_name
from reflections.organisation.routing import route
from reflections.organisation.validity import local_date, reflection_day
from reflections.platform import clock
from reflections.platform.settings import get_settings
from web import forms
from web.console_done import done_message
from web.console_forms import CANNED_FOR
from web.i18n import Translator
from web.queue_filters import QueueQuery, parse_queue_string
from web.routes.console_choices import handling_units, reassign_units, suggestion, without
from web.session import StaffCaller
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
E = LifecycleEvent
# The action that comes next, first found in this order; the other forms are folded.
PRIMARY = ("classify", "assign", "grant_extension", "accept", "process", "reassign")
START_LISTS = {
    Role.COORDINATOR: "/console/queue",
    Role.ADMIN: "/console/queue",
    Role.HANDLER: "/console/inbox",
    Role.SUPERVISOR: "/console/escalations",
}
BACK_LISTS = (
    "/console/queue",
    "/console/inbox",
    "/console/escalations",
    "/console/extensions",
    "/console/processed",
    "/console/search",
)


@dataclass
class PageState:
    """What a refused or resumed form brings back to the page."""

    errors: dict[str, str] = field(default_factory=dict)  # "<action>-<input>" -> sentence
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # action -> input -> text
    open_form: str | None = None
    conflict: list[str] = field(default_factory=list)  # what others did meanwhile
    resumed: bool = False  # logged in again: the text typed before is back


def safe_back(value: str | None) -> str | None:
    """A list of the console (with its query) that an item page may lead back to."""
    if not value or len(value) > 1000 or not value.startswith(BACK_LISTS):
        return None
    path = value.split("?", 1)[0]
    return value if path in BACK_LISTS else None


@router.get("/console/reflections/{tracking_code}", response_class=HTMLResponse)
def reflection_page(
    request: Request, session: SessionDep, caller: StaffCaller, tracking_code: str
) -> Response:
    return render_reflection(request, session, caller, tracking_code)


def render_reflection(
    request: Request,
    session: Session,
    caller: Caller,
    tracking_code: str,
    state: PageState | None = None,
    status: int = 200,
    *,
    queue: str | None = None,
    back: str | None = None,
) -> Response:
    state = state or PageState()
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    view = reflection_view(session, actor, reflection)
    t = translator(request)
    params = request.query_params
    queue = queue if queue is not None else params.get("queue")
    back = safe_back(back if back is not None else params.get("back"))
    back_given = back is not None
    queue_query = (
        parse_queue_string(queue) if actor.role in (Role.COORDINATOR, Role.ADMIN) else None
    )
    rows = history.timeline(session, reflection.id)
    people = _people(session, rows)
    context = {
        "r": view,
        "hint": _hint(session, reflection, t),
        "timeline": rows,
        "people": people,
        "notes": [row for row in rows if row.event is E.NOTE],
        "done": done_message(request, session, t),
        "state": state,
        "errors": state.errors,
        "queue": queue_query.query_string() if queue_query else "",
        "from_queue": queue_query is not None and queue is not None,
        "back_given": back_given,
        "next_code": _next(session, reflection, queue_query) if queue_query else None,
        "back": back or _default_back(actor, queue_query),
        "assignee_name": _assignee(session, reflection),
        "reported_by": followers.reported_by(session, reflection),
        "me": caller.user.id if caller.user else None,
        "may_publish": actor.role in publication.DECIDERS,
        **_action_context(session, actor, reflection, view, t, rows),
    }
    return render(request, "console/reflection.html", context, status)


def _people(session: Session, rows: list[HistoryEvent]) -> dict[int, User]:
    ids: set[Any] = {row.actor_user_id for row in rows if row.actor_user_id}
    ids |= {row.payload.get("assignee_user_id") for row in rows} - {None}
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids)))
    return {user.id or 0: user for user in users}


def _assignee(session: Session, reflection: Reflection) -> str | None:
    user = session.get(User, reflection.assignee_id) if reflection.assignee_id else None
    return user.full_name if user else None


def _default_back(actor: Actor, queue: QueueQuery | None) -> str | None:
    start = START_LISTS.get(actor.role)
    if start == "/console/queue" and queue is not None and queue.query_string():
        return f"{start}?{queue.query_string()}"
    return start


def _next(session: Session, reflection: Reflection, queue: QueueQuery) -> str | None:
    """The next reflection of the coordinator's list after this one (the list as filtered)."""
    assert reflection.id is not None
    statement = worklists.coordinator_queue(queue.filters)
    ordering = worklists.queue_ordering(queue.filters.sort)
    return worklists.next_in_order(session, statement, ordering, reflection.id)


def next_code(session: Session, reflection_id: int, queue: str | None) -> str | None:
    """As :func:`_next`, for an action about to change the reflection (``queue`` as carried)."""
    parsed = parse_queue_string(queue)
    if parsed is None:
        return None
    statement = worklists.coordinator_queue(parsed.filters)
    ordering = worklists.queue_ordering(parsed.filters.sort)
    return worklists.next_in_order(session, statement, ordering, reflection_id)


@router.get("/console/reflections/{tracking_code}/photos/{sha256}")
def photo(session: SessionDep, caller: StaffCaller, tracking_code: str, sha256: str) -> Response:
    reflection, _ = open_reflection(session, caller, tracking_code)
    return photo_file(session, reflection, sha256)


@router.get("/console/reflections/{tracking_code}/slip", response_class=HTMLResponse)
def slip(
    request: Request, session: SessionDep, caller: StaffCaller, tracking_code: str
) -> Response:
    """The transfer slip (phiếu chuyển xử lý) to print for a unit: never the reporter."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    view = reflection_view(session, actor, reflection)
    rows = history.citizen_timeline(history.timeline(session, reflection.id))
    assigned = next((row for row in reversed(rows) if row.event in (E.ASSIGN, E.REASSIGN)), None)
    people = _people(session, [assigned] if assigned else [])
    context = {
        "r": view,
        "hint": _hint(session, reflection, translator(request)),
        "assigned": assigned,
        "assigned_by": people.get(assigned.actor_user_id or 0) if assigned else None,
    }
    return render(request, "console/slip.html", context)


@router.get("/console/routing")
def routing(
    session: SessionDep, caller: StaffCaller, category: str = "", ward: str = ""
) -> Response:
    """The unit the routing rules name for a category and a ward (the classify form follows
    the coordinator's changes with it)."""
    if caller.actor.role not in (Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR):
        return JSONResponse({"unit": None}, status_code=403)
    category_id = session.exec(select(Category.id).where(Category.code == category[:64])).first()
    ward_id = session.exec(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == ward[:64])
    ).first()
    today = local_date(clock.now())
    unit = route(session, category_id, ward_id, today) if category_id and ward_id else None
    return JSONResponse({"unit": unit.code if unit else None})


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
    rows: list[HistoryEvent],
) -> dict[str, Any]:
    """Only what the allowed actions' forms need: the choices cost queries."""
    allowed = {event.value for event in view.allowed_events}
    english = t.language is Language.EN
    current = view.handling_unit.code if view.handling_unit else None
    context: dict[str, Any] = {
        "allowed": allowed,
        "primary": next((action for action in PRIMARY if action in allowed), None),
        "priorities": [p.value for p in Priority],
        "canned": {},
    }
    if allowed & {"classify", "assign"}:
        context["suggested"] = suggestion(session, reflection, view)
    day = reflection_day(reflection)  # the map the reflection was reported on
    if "classify" in allowed:
        context["categories"] = forms.categories(session, english)
        context["wards"] = forms.wards(session, english, day)
    if allowed & {"classify", "assign", "return"}:
        scope = reassign_units(session, actor, t, day) if actor.role is Role.SUPERVISOR else None
        context["units"] = without(scope or handling_units(session, t, day=day), current)
    if "reassign" in allowed:
        context["reassign_units"] = without(reassign_units(session, actor, t, day), current)
    if "reject" in allowed and actor.role in duplicates.FINDERS:
        context["duplicates"] = duplicates.find_duplicates(session, actor, reflection)
    offered = [CANNED_FOR[a] for a in CANNED_FOR if a in allowed]
    if offered:
        texts = canned_texts.offered(session, offered, reflection.category_id)
        context["canned"] = {action: texts.get(CANNED_FOR[action], []) for action in CANNED_FOR}
    context["extension_request"] = (
        _latest(rows, E.REQUEST_EXTENSION) if view.extension_pending else None
    )
    context["returned"] = _latest(rows, E.RETURN) if view.handling_unit is None else None
    units = {row.payload.get("suggested_unit_id") for row in rows} - {None}
    context["unit_labels"] = _unit_labels(session, units, english)
    return context


def _latest(rows: list[HistoryEvent], event: LifecycleEvent) -> HistoryEvent | None:
    return next((row for row in reversed(rows) if row.event is event), None)


def _unit_labels(session: Session, ids: set[Any], english: bool) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(HandlingUnit).where(col(HandlingUnit.id).in_(ids)))
    return {u.id or 0: u.name_en if english else short_name(u.name) for u in rows}


def what_changed(
    session: Session, tracking_code: str, shown: int | None, t: Translator
) -> list[str]:
    """One sentence per change made since the version the clerk's page showed: "Trần Thị Mai
    (Điều phối viên) đã phân loại phản ánh lúc 09:49 ngày 07/12/2026"."""
    session.rollback()
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == tracking_code.upper())
    ).first()
    if reflection is None:
        return []
    if shown is None:  # the form said nothing of what it showed: only what is possible now
        return [t("console.conflict.not_now", state=t(f"state.{reflection.state.value}"))]
    since = shown
    rows = session.exec(
        select(HistoryEvent)
        .where(HistoryEvent.reflection_id == reflection.id, col(HistoryEvent.seq) > since)
        .order_by(col(HistoryEvent.seq))
    ).all()
    ids = {row.actor_user_id for row in rows if row.actor_user_id}
    users = (
        {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    )
    zone = ZoneInfo(get_settings().time_zone)
    sentences = []
    for row in rows:
        user = users.get(row.actor_user_id)
        who = (
            f"{user.full_name} ({t('role.' + row.actor_role.value)})"
            if user
            else t("role." + row.actor_role.value)
        )
        sentences.append(
            t(
                "console.conflict.change",
                who=who,
                what=t(f"console.did.{row.event.value}"),
                at=_at(row.occurred_at, zone),
            )
        )
    if not sentences:
        state = t(f"state.{reflection.state.value}")
        sentences.append(t("console.conflict.not_now", state=state))
    return sentences


def _at(value: datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return f"{local:%H:%M} {local:%d/%m/%Y}"
