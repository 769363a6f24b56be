"""Creating staff users with their memberships."""

from sqlmodel import Session, col, select

from reflections.errors import InvalidInput
from reflections.models import AdministrativeUnit, HandlingUnit, Membership, User
from reflections.models.enums import Role
from reflections.organisation.passwords import check_password
from reflections.platform import clock
from reflections.platform.security import hash_password


class UserError(ValueError):
    pass


def create_user(
    session: Session,
    username: str,
    full_name: str,
    role: Role,
    password: str,
    handling_unit_codes: list[str],
    area_codes: list[str],
    email: str | None = None,
    phone: str | None = None,
) -> User:
    """A staff user; ``email`` and ``phone`` already normalised (messages go there)."""
    if role in (Role.CITIZEN, Role.SYSTEM):
        raise UserError(f"{role} is not a staff role")
    try:
        check_password(password, user_inputs=[username, full_name])
    except InvalidInput as refused:
        raise UserError(f"the password {refused.reason}") from None
    if session.exec(select(User).where(User.username == username)).first():
        raise UserError(f"user {username} already exists")
    units = _ids_by_code(session, HandlingUnit, handling_unit_codes)
    areas = _ids_by_code(session, AdministrativeUnit, area_codes)
    if role is Role.HANDLER and not units:
        raise UserError("a handler belongs to at least one handling unit")
    if role is Role.SUPERVISOR and not (units or areas):
        raise UserError("a supervisor needs a handling unit or an administrative area")
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        email=email,
        phone=phone,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    session.add_all(Membership(user_id=user.id, handling_unit_id=unit) for unit in units)
    session.add_all(Membership(user_id=user.id, administrative_unit_id=area) for area in areas)
    session.commit()
    return user


def _ids_by_code(
    session: Session, table: type[HandlingUnit] | type[AdministrativeUnit], codes: list[str]
) -> list[int]:
    if not codes:
        return []
    rows = session.exec(select(table.code, table.id).where(col(table.code).in_(codes))).all()
    found: dict[str, int] = {code: row_id for code, row_id in rows if row_id is not None}
    missing = sorted(set(codes) - set(found))
    if missing:
        raise UserError(f"unknown {table.__tablename__} code(s): {', '.join(missing)}")
    return [found[code] for code in codes]
