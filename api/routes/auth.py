"""Staff log-in: OAuth2 password flow issuing short-lived JWTs."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import col, select

from api.abuse import client_address
from api.deps import SessionDep, StaffUser
from api.problems import TOO_MANY, problem_responses
from api.schemas import MeOut, TokenOut
from reflections.models import AdministrativeUnit, HandlingUnit, Membership
from reflections.organisation.auth import end_sessions, issue_token, log_in

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"], responses=problem_responses())


@router.post("/token", response_model=TokenOut, responses=problem_responses(*TOO_MANY))
def token(
    request: Request,
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenOut:
    """A staff token. Repeated failures make each next try wait, then lock the username and
    the address (429 with ``Retry-After``) until an admin lifts the lock."""
    user = log_in(session, form.username, form.password, client_address(request))
    access_token, lifetime = issue_token(user)
    return TokenOut(access_token=access_token, expires_in=lifetime)


@router.post("/logout", status_code=204)
def logout(session: SessionDep, user: StaffUser) -> Response:
    """End the session: this token and every other token of the user stop working at once
    (every device; log in again to get a new one)."""
    end_sessions(session, user)
    session.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(session: SessionDep, user: StaffUser) -> MeOut:
    memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    unit_ids = [m.handling_unit_id for m in memberships if m.handling_unit_id]
    area_ids = [m.administrative_unit_id for m in memberships if m.administrative_unit_id]
    units = session.exec(select(HandlingUnit.code).where(col(HandlingUnit.id).in_(unit_ids)))
    areas = session.exec(
        select(AdministrativeUnit.code).where(col(AdministrativeUnit.id).in_(area_ids))
    )
    return MeOut(
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        handling_units=sorted(units),
        areas=sorted(areas),
    )
