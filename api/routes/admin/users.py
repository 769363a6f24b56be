"""Staff users: role, unit memberships, passwords (set, never shown) and disabling.

Users are never deleted: their names stay on the history rows they wrote. ``disabled`` locks
them out at once (tokens are checked against it on every request).
"""

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, EmailStr, Field, field_validator
from sqlmodel import Session, col, delete, select

from api.deps import SessionDep, StaffUser
from api.routes.admin.common import (
    Body,
    Code,
    CodedT,
    IdCursor,
    Limit,
    Name,
    Patch,
    Text,
    commit,
    id_of,
    id_page,
    matching,
    one,
    refuse_duplicate,
)
from api.schemas import Page
from reflections.errors import Conflict, InvalidInput
from reflections.models import AdministrativeUnit, HandlingUnit, Membership, User
from reflections.models.enums import Language, Role
from reflections.organisation.auth import end_sessions
from reflections.organisation.passwords import MIN_PASSWORD_LENGTH, check_password
from reflections.platform import clock
from reflections.platform.security import hash_password

router = APIRouter(prefix="/users", tags=["admin: users"])
NOT_STAFF = (Role.CITIZEN, Role.SYSTEM)
Username = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@\-]*$")
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=128)]
Phone = Annotated[str, Field(min_length=3, max_length=20, pattern=r"^\+?[0-9 .\-]+$")]
Email = Annotated[EmailStr, Field(max_length=254)]
Codes = Annotated[list[Code], Field(max_length=50)]


class UserOut(BaseModel):
    username: str
    full_name: str
    role: Role
    email: str | None
    phone: str | None
    language: Language
    disabled: bool
    created_at: datetime
    handling_units: list[str] = Field(description="Codes of the units the user works in.")
    areas: list[str] = Field(description="Codes of the administrative units supervised.")


class _StaffRole(Body):
    @field_validator("role", check_fields=False)
    @classmethod
    def _staff(cls, role: Role | None) -> Role | None:
        if role in NOT_STAFF:
            raise ValueError(f"{role} is not a staff role")
        return role


class UserIn(_StaffRole):
    username: Username
    full_name: Name
    role: Role
    password: Password
    email: Email | None = None
    phone: Phone | None = None
    language: Language = Language.VI
    handling_units: Codes = Field(default_factory=list)
    areas: Codes = Field(default_factory=list)


class UserPatch(_StaffRole, Patch):
    """Any subset. ``password`` resets it; memberships given replace the user's current ones."""

    clearable = frozenset({"email", "phone"})

    full_name: Name | None = None
    role: Role | None = None
    password: Password | None = None
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    disabled: bool | None = None
    handling_units: Codes | None = None
    areas: Codes | None = None


def _views(session: Session, rows: list[User]) -> list[UserOut]:
    scopes: dict[str, dict[int, list[str]]] = {
        "handling_units": defaultdict(list),
        "areas": defaultdict(list),
    }
    user_ids = [row.id for row in rows]
    for field, table, column in (
        ("handling_units", HandlingUnit, Membership.handling_unit_id),
        ("areas", AdministrativeUnit, Membership.administrative_unit_id),
    ):
        found = session.exec(
            select(Membership.user_id, table.code)
            .join(table, col(table.id) == col(column))
            .where(col(Membership.user_id).in_(user_ids))
            .order_by(table.code)
        )
        for user_id, code in found:
            scopes[field][user_id].append(code)
    return [
        UserOut.model_validate(
            row.model_dump(exclude={"password_hash"})
            | {field: scopes[field][row.id or 0] for field in scopes}
        )
        for row in rows
    ]


def _ids(session: Session, table: type[CodedT], codes: list[str], field: str) -> list[int]:
    return [id_of(session, table, code, field) for code in dict.fromkeys(codes)]


def _check_scope(role: Role, units: list[int], areas: list[int]) -> None:
    """Handlers and supervisors see nothing without a scope.

    As ``reflections.organisation.users`` says."""
    if role is Role.HANDLER and not units:
        raise InvalidInput("handling_units", "a handler belongs to at least one handling unit")
    if role is Role.SUPERVISOR and not (units or areas):
        raise InvalidInput("areas", "a supervisor needs a handling unit or an administrative area")


def _replace_scope(session: Session, user: User, units: list[int], areas: list[int]) -> None:
    assert user.id is not None
    session.exec(delete(Membership).where(col(Membership.user_id) == user.id))
    session.add_all(Membership(user_id=user.id, handling_unit_id=unit) for unit in units)
    session.add_all(Membership(user_id=user.id, administrative_unit_id=area) for area in areas)


def _current_scope(session: Session, user: User) -> tuple[list[int], list[int]]:
    memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return (
        [m.handling_unit_id for m in memberships if m.handling_unit_id],
        [m.administrative_unit_id for m in memberships if m.administrative_unit_id],
    )


def _user(session: Session, username: str) -> User:
    return one(session, select(User).where(User.username == username), f"no user {username!r}")


@router.get("", response_model=Page[UserOut])
def list_users(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    role: Role | None = None,
    disabled: bool | None = None,
    handling_unit: Annotated[str | None, Query(max_length=64)] = None,
    q: Text = None,
) -> Page[UserOut]:
    statement = select(User)
    if role:
        statement = statement.where(User.role == role)
    if disabled is not None:
        statement = statement.where(User.disabled == disabled)
    if handling_unit:
        unit_id = id_of(session, HandlingUnit, handling_unit, "handling_unit")
        members = select(Membership.user_id).where(Membership.handling_unit_id == unit_id)
        statement = statement.where(col(User.id).in_(members))
    statement = matching(statement, q, User.username, User.full_name)
    rows, next_cursor = id_page(session, statement, User.id, limit, cursor)
    return Page(items=_views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=UserOut)
def create_user(session: SessionDep, body: UserIn) -> UserOut:
    """Not ``reflections.organisation.users.create_user``: that one commits alone and names
    no field."""
    conflict = f"user {body.username} exists already"
    refuse_duplicate(session, select(User).where(User.username == body.username), conflict)
    units = _ids(session, HandlingUnit, body.handling_units, "handling_units")
    areas = _ids(session, AdministrativeUnit, body.areas, "areas")
    _check_scope(body.role, units, areas)
    check_password(body.password, user_inputs=[body.username, body.full_name])
    user = User(
        **body.model_dump(exclude={"password", "handling_units", "areas"}),
        password_hash=hash_password(body.password),
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    _replace_scope(session, user, units, areas)
    commit(session, conflict)
    return _views(session, [user])[0]


@router.get("/{username}", response_model=UserOut)
def read_user(session: SessionDep, username: str) -> UserOut:
    return _views(session, [_user(session, username)])[0]


@router.patch("/{username}", response_model=UserOut)
def update_user(session: SessionDep, admin: StaffUser, username: str, body: UserPatch) -> UserOut:
    """Admins cannot lock themselves out, so the system always keeps one active admin."""
    user = _user(session, username)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if user.id == admin.id and (
        changes.get("disabled") or changes.get("role", Role.ADMIN) is not Role.ADMIN
    ):
        raise Conflict("you cannot disable yourself or give up your own admin role")
    units, areas = _current_scope(session, user)
    rescoped = "handling_units" in changes or "areas" in changes
    if "handling_units" in changes:
        units = _ids(session, HandlingUnit, changes.pop("handling_units"), "handling_units")
    if "areas" in changes:
        areas = _ids(session, AdministrativeUnit, changes.pop("areas"), "areas")
    # A new password, another role or disabling ends the user's sessions at once.
    revoke = "password" in changes or changes.get("disabled") is True
    revoke = revoke or ("role" in changes and changes["role"] is not user.role)
    if "password" in changes:
        check_password(changes["password"], user_inputs=[user.username, user.full_name])
        user.password_hash = hash_password(changes.pop("password"))
    if revoke:
        end_sessions(session, user)
    user.sqlmodel_update(changes)
    _check_scope(user.role, units, areas)
    if rescoped:
        _replace_scope(session, user, units, areas)
    session.add(user)
    commit(session, f"user {username} changed meanwhile")
    return _views(session, [user])[0]
