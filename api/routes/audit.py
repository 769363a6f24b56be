"""The auditors' view (DESIGN.md §3, §7): is the history intact, and one reflection's timeline
with who, when, what and why, and whether its own chain holds. Auditors and admins only."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.deps import SessionDep, require_role
from api.problems import problem_responses
from api.schemas import HistoryView
from reflections.actors import Actor
from reflections.errors import NotFound
from reflections.lifecycle import history
from reflections.models import HistoryEvent, Reflection, User
from reflections.models.enums import AssignmentStage, LifecycleState, Role
from reflections.oversight import audit
from reflections.oversight.findings import MAX_PROBLEMS, Problem, ProblemKind, VerifyReport
from reflections.platform import clock

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=problem_responses())
AuditorOrAdmin = Annotated[Actor, Depends(require_role(Role.AUDITOR, Role.ADMIN))]


class ChainProblem(BaseModel):
    """A broken link: a reflection's row (tracking code, seq) or an anchor (its id range)."""

    kind: ProblemKind
    detail: str = Field(examples=["hash does not match content"])
    where: str = Field(examples=["reflection 7S5U-MPGA seq 3 (history id 57)"])
    tracking_code: str | None
    reflection_id: int | None
    seq: int | None
    history_id: int | None
    anchor_id: int | None
    first_history_id: int | None
    last_history_id: int | None

    @classmethod
    def of(cls, problem: Problem | None) -> "ChainProblem | None":
        if problem is None:
            return None
        return cls(
            kind=problem.kind,
            detail=problem.detail,
            where=problem.where,
            tracking_code=problem.tracking_code,
            reflection_id=problem.reflection_id,
            seq=problem.seq,
            history_id=problem.history_id,
            anchor_id=problem.anchor_id,
            first_history_id=problem.first_history_id,
            last_history_id=problem.last_history_id,
        )


class VerifyOut(BaseModel):
    intact: bool
    summary: str = Field(examples=["chain intact: 120 reflections, 614 rows, 3 anchors"])
    reflections: int
    rows: int
    anchors: int
    anchored_rows: int = Field(description="History rows inside an anchor's id range.")
    unanchored_rows: int = Field(
        description="Rows since the last anchor: only their own reflection's chain covers them."
    )
    problem_count: int
    first_problem: ChainProblem | None = Field(description="The first broken link.")
    problems: list[ChainProblem] = Field(
        description=f"The first {MAX_PROBLEMS} problems, in the order found."
    )
    checked_at: datetime


class ChainStatus(BaseModel):
    intact: bool
    problem: ChainProblem | None = Field(description="The first broken link of this timeline.")
    rows: int
    anchored_rows: int = Field(description="Of its rows, those an anchor covers.")


class TimelineEntry(HistoryView):
    """A history row as the citizen's history shows it, plus what an auditor checks by."""

    history_id: int
    actor_name: str | None = Field(description="Staff member's full name.")
    prev_hash: str | None


class TimelineOut(BaseModel):
    tracking_code: str
    state: LifecycleState
    assignment_stage: AssignmentStage | None
    version: int
    entries: list[TimelineEntry] = Field(description="Every change, oldest first.")
    chain: ChainStatus


@router.get("/audit/verify", response_model=VerifyOut)
def verify(session: SessionDep, _actor: AuditorOrAdmin) -> VerifyOut:
    """Check every reflection's hash chain and every anchor; name the first broken link.

    Reads the whole history table, streamed: about two minutes per million rows on
    PostgreSQL, more on SQLite (bench/audit_verify.py).
    """
    report = audit.verify(session)
    return VerifyOut(
        intact=report.intact,
        summary=report.summary(),
        reflections=report.reflections,
        rows=report.rows,
        anchors=report.anchors,
        anchored_rows=report.anchored_rows,
        unanchored_rows=report.unanchored_rows,
        problem_count=report.problem_count,
        first_problem=ChainProblem.of(report.first_problem),
        problems=[p for p in map(ChainProblem.of, report.problems) if p is not None],
        checked_at=clock.now(),
    )


@router.get("/reflections/{tracking_code}/timeline", response_model=TimelineOut)
def timeline(session: SessionDep, _actor: AuditorOrAdmin, tracking_code: str) -> TimelineOut:
    """One reflection's full timeline with who, when, what and why, and whether its hash chain
    holds (the anchors are checked by /audit/verify)."""
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == tracking_code.upper())
    ).first()
    if reflection is None or reflection.id is None:
        raise NotFound(f"no reflection {tracking_code}")
    rows = history.timeline(session, reflection.id)
    user_ids = {row.actor_user_id for row in rows if row.actor_user_id}
    people = {
        user_id: (username, full_name)
        for user_id, username, full_name in session.exec(
            select(User.id, User.username, User.full_name).where(col(User.id).in_(user_ids))
        )
    }
    report = audit.verify_reflection(session, reflection.id)
    return TimelineOut(
        tracking_code=reflection.tracking_code,
        state=reflection.state,
        assignment_stage=reflection.assignment_stage,
        version=reflection.version,
        entries=[_entry(row, people.get(row.actor_user_id or 0)) for row in rows],
        chain=_chain(report),
    )


def _entry(row: HistoryEvent, person: tuple[str, str] | None) -> TimelineEntry:
    assert row.id is not None
    return TimelineEntry(
        history_id=row.id,
        seq=row.seq,
        event=row.event,
        from_state=row.from_state,
        from_stage=row.from_stage,
        to_state=row.to_state,
        to_stage=row.to_stage,
        actor_role=row.actor_role,
        actor=person[0] if person else None,
        actor_name=person[1] if person else None,
        payload=row.payload,
        reason=row.reason,
        occurred_at=row.occurred_at,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _chain(report: VerifyReport) -> ChainStatus:
    return ChainStatus(
        intact=report.intact,
        problem=ChainProblem.of(report.first_problem),
        rows=report.rows,
        anchored_rows=report.anchored_rows,
    )
