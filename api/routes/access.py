"""Revealing a reporter on purpose, and the log of who looked (DESIGN.md §3, §7).

Both open the reflection as every other route does (404 when the caller may not see it, so a
unit cannot probe other units' codes), then the domain decides by role (403). Handlers,
supervisors and citizens never reach the reporter, and a refusal logs nothing.
"""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep
from api.lookup import open_reflection
from api.pagination import CursorDep, LimitDep, decode_cursor, encode_cursor
from api.problems import problem_responses
from api.schemas import Page
from reflections.models.enums import Language, Role
from reflections.oversight import access_log
from reflections.oversight.access_log import AccessAction

router = APIRouter(
    prefix="/api/v1/reflections", tags=["personal data"], responses=problem_responses()
)


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=access_log.REASON_MIN,
        max_length=access_log.REASON_MAX,
        description="Why you need the identity; kept in the access log.",
        examples=["Khiếu nại của người phản ánh cần xác minh (hồ sơ TT-2026-031)"],
    )


class RevealedReporter(BaseModel):
    tracking_code: str
    name: str | None
    phone: str | None = Field(description="E.164.")
    email: str | None
    language: Language


class AccessView(BaseModel):
    username: str | None = Field(description="Staff username; None for the system.")
    role: Role
    action: AccessAction
    reason: str | None = Field(description="Given with every reveal.")
    occurred_at: datetime


@router.post(
    "/{tracking_code}/reporter/reveal",
    response_model=RevealedReporter,
    responses=problem_responses(
        403,
        "Only auditors, coordinators and admins may reveal a reporter.",
        404,
        "No such reflection that the caller may see, or it was reported anonymously.",
        422,
        "No reason, or one shorter than 10 or longer than 500 characters.",
    ),
)
def reveal(
    session: SessionDep, caller: CallerDep, tracking_code: str, body: RevealIn
) -> RevealedReporter:
    """The reporter's full identity, for an auditor, coordinator or admin with a reason.

    The reveal is itself logged (who, when, why) before the identity is returned.
    """
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    identity = access_log.reveal(session, actor, reflection.id, body.reason)
    return RevealedReporter(
        tracking_code=reflection.tracking_code,
        name=identity.name,
        phone=identity.phone,
        email=identity.email,
        language=identity.language,
    )


@router.get(
    "/{tracking_code}/access-log",
    response_model=Page[AccessView],
    responses=problem_responses(403, "Only auditors and admins read the access log."),
)
def access_log_page(
    session: SessionDep,
    caller: CallerDep,
    tracking_code: str,
    limit: LimitDep = 50,
    cursor: CursorDep = None,
) -> Page[AccessView]:
    """Who saw or revealed the reporter of this reflection, newest first."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    after = decode_cursor(cursor) if cursor else None
    entries, last = access_log.accesses(session, actor, reflection.id, limit, after)
    return Page(
        items=[
            AccessView(
                username=entry.username,
                role=entry.role,
                action=entry.action,
                reason=entry.reason,
                occurred_at=entry.occurred_at,
            )
            for entry in entries
        ],
        next_cursor=encode_cursor(*last) if last else None,
    )
