"""The staff's other work lists: the unit's inbox ("mine" and "unit"), the supervisor's
escalations, what waits for a coordinator's decision (extension requests, results to review),
and a search for every staff role.

The same views as the API (``api.views.reflection_views``: no reporter for handlers and
supervisors), in numbered pages with a total.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from api.deps import Caller, SessionDep
from api.views import reflection_views
from reflections.lifecycle import queries, worklists
from reflections.models import Reflection, User
from reflections.models.enums import LifecycleEvent, Role
from reflections.organisation.visibility import SEES_EVERYTHING, visible_clause
from web.console_done import done_message
from web.routes.console_queue import desk_counts
from web.session import StaffCaller, staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
Coordinator = Annotated[Caller, Depends(staff_with_role(Role.COORDINATOR, Role.ADMIN))]
Handler = Annotated[Caller, Depends(staff_with_role(Role.HANDLER))]
Supervisor = Annotated[Caller, Depends(staff_with_role(Role.SUPERVISOR))]
PageNumber = Annotated[int, Query(ge=1, le=10_000)]
E = LifecycleEvent


def _page(
    request: Request,
    session: Session,
    caller: Caller,
    statement: SelectOfScalar[Reflection],
    ordering: worklists.Ordering,
    number: int,
) -> dict[str, Any]:
    page = worklists.numbered_page(session, statement, ordering, number, PAGE_SIZE)
    return {
        "items": reflection_views(session, caller.actor, page.items),
        "page": page,
        "rows": page.items,
        "done": done_message(request, session, translator(request)),
    }


def _count(session: Session, statement: SelectOfScalar[Reflection]) -> int:
    return int(session.exec(select(func.count()).select_from(statement.subquery())).one())


@router.get("/console/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: SessionDep,
    caller: Handler,
    view: Annotated[str | None, Query(max_length=8)] = None,
    page: PageNumber = 1,
) -> Response:
    """The unit's assigned reflections, soonest deadline first: the whole unit's (new tasks
    that nobody has taken yet among them), or the caller's own ("mine")."""
    unit = queries.handler_inbox(caller.actor)
    mine = unit.where(col(Reflection.assignee_id) == caller.actor.user_id)
    counts = {"mine": _count(session, mine), "unit": _count(session, unit)}
    chosen = view if view in counts else "unit"
    statement = mine if chosen == "mine" else unit
    ordering = [(queries.due_sort_key(), False), (col(Reflection.id), False)]
    context = _page(request, session, caller, statement, ordering, page)
    assignees = {r.assignee_id for r in context["rows"]} - {None}
    names = (
        dict(session.exec(select(User.id, User.full_name).where(col(User.id).in_(assignees))).all())
        if assignees
        else {}
    )
    context |= {
        "view": chosen,
        "counts": counts,
        "assignees": {r.tracking_code: names.get(r.assignee_id) for r in context["rows"]},
    }
    return render(request, "console/inbox.html", context)


@router.get("/console/escalations", response_class=HTMLResponse)
def escalations(
    request: Request, session: SessionDep, caller: Supervisor, page: PageNumber = 1
) -> Response:
    """The running steps escalated to the supervisor's areas, and those moved up past them;
    each row says which step is late and leads to the reflection, where the actions are."""
    statement = worklists.supervisor_escalations(session, caller.actor)
    context = _page(request, session, caller, statement, worklists.escalation_ordering(), page)
    context["moved_up"] = {
        r.tracking_code for r in context["rows"] if worklists.moved_up(caller.actor, r)
    }
    return render(request, "console/escalations.html", context)


@router.get("/console/extensions", response_class=HTMLResponse)
def extensions(
    request: Request, session: SessionDep, caller: Coordinator, page: PageNumber = 1
) -> Response:
    """Extension requests to decide, each with the unit's reason beside the decision."""
    statement = worklists.extension_requests()
    context = _page(request, session, caller, statement, worklists.extension_ordering(), page)
    ids = [r.id for r in context["rows"] if r.id]
    requests = worklists.latest_events(session, ids, E.REQUEST_EXTENSION)
    context |= {
        "requests": {r.tracking_code: requests.get(r.id or 0) for r in context["rows"]},
        "requesters": _people(session, requests.values()),
        "counts": desk_counts(session),
    }
    return render(request, "console/extensions.html", context)


@router.get("/console/processed", response_class=HTMLResponse)
def processed(
    request: Request, session: SessionDep, caller: Coordinator, page: PageNumber = 1
) -> Response:
    """Results the coordinator may still send back, the soonest-closing window first."""
    statement = worklists.processed_results()
    context = _page(request, session, caller, statement, worklists.processed_ordering(), page)
    ids = [r.id for r in context["rows"] if r.id]
    results = worklists.latest_events(session, ids, E.PROCESS)
    context |= {
        "results": {r.tracking_code: results.get(r.id or 0) for r in context["rows"]},
        "counts": desk_counts(session),
    }
    return render(request, "console/processed.html", context)


@router.get("/console/search", response_class=HTMLResponse)
def search(
    request: Request,
    session: SessionDep,
    caller: StaffCaller,
    q: Annotated[str, Query(max_length=200)] = "",
    page: PageNumber = 1,
) -> Response:
    """Any reflection the caller may see, by words, tracking code, or (IOC staff only, who
    may know the reporter) the caller's phone number: a hotline operator answering "what
    happened to my report?"."""
    context: dict[str, Any] = {"q": q, "items": [], "page": None}
    if q.strip():
        statement = select(Reflection).where(
            visible_clause(session, caller.actor),
            worklists.text_clause(q, by_phone=caller.actor.role in SEES_EVERYTHING),
        )
        ordering = [(col(Reflection.created_at), True), (col(Reflection.id), True)]
        context |= _page(request, session, caller, statement, ordering, page)
    return render(request, "console/search.html", context)


def _people(session: Session, events: Any) -> dict[int, User]:
    ids = {e.actor_user_id for e in events} - {None}
    if not ids:
        return {}
    return {u.id or 0: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
