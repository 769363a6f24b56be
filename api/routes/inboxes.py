"""The lists each role works from."""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import col

from api.deps import SessionDep, require_role
from api.pagination import CursorDep, LimitDep
from api.problems import problem_responses
from api.schemas import Page, ReflectionView
from api.views import reflection_page
from reflections.actors import Actor
from reflections.lifecycle import queries, worklists
from reflections.models import Reflection
from reflections.models.enums import Role

router = APIRouter(prefix="/api/v1/inbox", tags=["inboxes"], responses=problem_responses())
EXCLUDE_UNSET = {"response_model": Page[ReflectionView], "response_model_exclude_unset": True}


@router.get("/coordinator", **EXCLUDE_UNSET)  # type: ignore[arg-type]
def coordinator_queue(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_role(Role.COORDINATOR))],
    limit: LimitDep = 50,
    cursor: CursorDep = None,
) -> Page[ReflectionView]:
    """Received reflections and those a unit returned: emergencies first, then oldest first."""
    oldest, urgent = col(Reflection.created_at), queries.emergencies_first()
    statement = queries.coordinator_queue()
    return reflection_page(session, actor, statement, oldest, limit, cursor, rank=urgent)


@router.get("/handler", **EXCLUDE_UNSET)  # type: ignore[arg-type]
def handler_inbox(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_role(Role.HANDLER))],
    limit: LimitDep = 50,
    cursor: CursorDep = None,
) -> Page[ReflectionView]:
    """The unit's assigned reflections, soonest deadline first."""
    return reflection_page(
        session, actor, queries.handler_inbox(actor), queries.due_sort_key(), limit, cursor
    )


@router.get("/supervisor", **EXCLUDE_UNSET)  # type: ignore[arg-type]
def supervisor_escalations(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_role(Role.SUPERVISOR))],
    limit: LimitDep = 50,
    cursor: CursorDep = None,
) -> Page[ReflectionView]:
    """Open reflections whose running step was escalated to the supervisor's areas, or past
    them from a unit under their areas ("moved up"), soonest deadline first."""
    statement = worklists.supervisor_escalations(session, actor)
    return reflection_page(session, actor, statement, queries.due_sort_key(), limit, cursor)
