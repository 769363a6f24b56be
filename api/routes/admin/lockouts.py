"""Log-in lockouts (issue 13): which usernames and addresses are locked after repeated failed
log-ins, and lifting a lock. A right password never lifts one by itself."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep
from reflections.errors import NotFound
from reflections.organisation import login_throttle

router = APIRouter(prefix="/lockouts", tags=["admin: log-in lockouts"])
Scope = Literal["username", "address"]


class LockoutOut(BaseModel):
    scope: Scope = Field(description="What is locked: a username, or a client address.")
    subject: str = Field(description="The username (lower case) or the address.")
    failures: int
    locked_at: datetime
    until: datetime = Field(description="When it lapses if nobody lifts it and nobody fails.")


@router.get("", response_model=list[LockoutOut])
def list_lockouts(session: SessionDep) -> list[LockoutOut]:
    return [
        LockoutOut(
            scope=lock.scope,
            subject=lock.subject,
            failures=lock.failures,
            locked_at=lock.locked_at,
            until=lock.until,
        )
        for lock in login_throttle.lockouts(session)
    ]


@router.delete("/{scope}/{subject}", status_code=204)
def lift_lockout(session: SessionDep, scope: Scope, subject: str) -> Response:
    """Lift a lock: the next try is checked as if nothing had failed."""
    if not login_throttle.lift(session, scope, subject):
        raise NotFound(f"no lock on the {scope} {subject}")
    session.commit()
    return Response(status_code=204)
