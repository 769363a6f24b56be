"""Duplicate suggestions for a reflection, and merging a duplicate into its original.

Both are the coordinator's (DESIGN.md §3); the merge is the ``reject`` event naming the
original, so it honours ``If-Match`` and answers like the other actions.
"""

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep
from api.lookup import open_reflection
from api.problems import problem_responses
from api.routes.actions import IfMatch, version_of
from api.schemas import ReflectionView
from api.views import reflection_view
from reflections.errors import Forbidden
from reflections.lifecycle import duplicates
from reflections.lifecycle.permissions import may_fire
from reflections.models.enums import LifecycleEvent, LifecycleState

router = APIRouter(prefix="/api/v1/reflections", tags=["actions"], responses=problem_responses())


class DuplicateView(BaseModel):
    tracking_code: str
    state: LifecycleState
    category: str = Field(description="Category code: the classified one, else the hint.")
    created_at: datetime
    description: str
    distance_metres: float | None = Field(
        description="Great-circle distance, when both have coordinates and are within 200 m."
    )
    days_apart: int | None = Field(
        description="Whole days between submissions, when in the same ward within 14 days."
    )
    why: str = Field(examples=["85 m away; same ward, 3 days apart"])


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: str = Field(min_length=1, max_length=16, description="The original's tracking code.")
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description='Told to the citizen; defaults to "Trùng với phản ánh <into>".',
    )


def _view(s: duplicates.DuplicateSuggestion) -> DuplicateView:
    return DuplicateView(
        tracking_code=s.tracking_code,
        state=s.state,
        category=s.category,
        created_at=s.created_at,
        description=s.description,
        distance_metres=round(s.distance_metres, 1) if s.distance_metres is not None else None,
        days_apart=s.days_apart,
        why=s.why,
    )


@router.get(
    "/{tracking_code}/duplicates",
    response_model=list[DuplicateView],
    summary="Duplicate suggestions",
)
def suggestions(session: SessionDep, caller: CallerDep, tracking_code: str) -> list[DuplicateView]:
    """Reflections of the same category within 200 m, or in the same ward within 14 days;
    nearest first, then most recent; at most 10. Coordinators and admins only."""
    if caller.actor.role not in duplicates.FINDERS:  # before the lookup: no probing codes
        raise Forbidden(f"duplicate suggestions are for coordinators; you are {caller.actor.role}")
    reflection, actor = open_reflection(session, caller, tracking_code)
    return [_view(s) for s in duplicates.find_duplicates(session, actor, reflection)]


@router.post(
    "/{tracking_code}/merge",
    response_model=ReflectionView,
    response_model_exclude_unset=True,
    summary="Merge into an original",
    responses={409: {"description": "Not allowed in this state, or a stale If-Match."}},
)
def merge(
    session: SessionDep,
    caller: CallerDep,
    tracking_code: str,
    body: Merge,
    response: Response,
    if_match: IfMatch = None,
) -> ReflectionView:
    """Reject this reflection as a duplicate of ``into``; the citizen is told the original's
    tracking code. Answers the merged (rejected) reflection."""
    if not may_fire(caller.actor.role, LifecycleEvent.REJECT):
        raise Forbidden(f"merging needs the role coordinator; you are {caller.actor.role}")
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    expected = version_of(if_match)
    merged = duplicates.merge(session, reflection.id, body.into, actor, body.reason, expected)
    response.headers["ETag"] = f'"{merged.version}"'
    return reflection_view(session, actor, merged)
