"""The staff's work lists: the coordinator's queue, the unit's inbox, the supervisor's escalations.

Each is the API's inbox (``api/routes/inboxes.py``) as a page: the same queries, the same view
builder (which leaves the reporter out for handlers and supervisors), the same keyset cursor.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from api.deps import Caller, SessionDep
from api.pagination import CursorDep
from api.schemas import Page, ReflectionView
from api.views import reflection_page
from reflections.lifecycle import queries
from reflections.models import Category, Reflection
from reflections.models.enums import Language, Role
from web.routes.console_choices import done_of, reassign_units
from web.session import staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50

Coordinator = Annotated[Caller, Depends(staff_with_role(Role.COORDINATOR, Role.ADMIN))]
Handler = Annotated[Caller, Depends(staff_with_role(Role.HANDLER))]
Supervisor = Annotated[Caller, Depends(staff_with_role(Role.SUPERVISOR))]


def _list(
    request: Request,
    template: str,
    page: Page[ReflectionView],
    cursor: str | None,
    extra: dict[str, Any] | None = None,
) -> Response:
    context = {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "paged": cursor is not None,
        "done": done_of(request),
        **(extra or {}),
    }
    return render(request, template, context)


@router.get("/console/queue", response_class=HTMLResponse)
def queue(
    request: Request, session: SessionDep, caller: Coordinator, cursor: CursorDep = None
) -> Response:
    """Received reflections and those a unit returned: emergencies first, then oldest first."""
    statement = queries.coordinator_queue()
    oldest, urgent = col(Reflection.created_at), queries.emergencies_first()
    page = reflection_page(session, caller.actor, statement, oldest, PAGE_SIZE, cursor, rank=urgent)
    english = translator(request).language is Language.EN
    names = {c.code: c.name_en if english else c.name_vi for c in session.exec(select(Category))}
    return _list(request, "console/queue.html", page, cursor, {"category_names": names})


@router.get("/console/inbox", response_class=HTMLResponse)
def inbox(
    request: Request, session: SessionDep, caller: Handler, cursor: CursorDep = None
) -> Response:
    """The unit's assigned reflections, soonest deadline first."""
    statement = queries.handler_inbox(caller.actor)
    due = queries.due_sort_key()
    page = reflection_page(session, caller.actor, statement, due, PAGE_SIZE, cursor)
    return _list(request, "console/inbox.html", page, cursor)


@router.get("/console/escalations", response_class=HTMLResponse)
def escalations(
    request: Request, session: SessionDep, caller: Supervisor, cursor: CursorDep = None
) -> Response:
    """Open reflections escalated within the supervisor's units, soonest deadline first, each
    with a reassign form offering only the units in the supervisor's scope."""
    statement = queries.supervisor_escalations(caller.actor)
    due = queries.due_sort_key()
    page = reflection_page(session, caller.actor, statement, due, PAGE_SIZE, cursor)
    units = reassign_units(session, caller.actor, translator(request))
    return _list(request, "console/escalations.html", page, cursor, {"units": units})
