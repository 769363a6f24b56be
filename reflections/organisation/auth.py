"""Who is calling: staff by password and short-lived token, service clients by API key.

Citizens have no account: the key they receive with their first reflection opens every
reflection they submit with it.
"""

import secrets
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.models import ApiKey, Membership, User
from reflections.organisation import login_throttle
from reflections.platform import clock
from reflections.platform.security import hash_password, hash_secret, verify_password
from reflections.platform.settings import DEFAULT_VAR_DIR, get_settings

ALGORITHM = "HS256"
API_KEY_PREFIX_LENGTH = 8


class InvalidCredentials(Exception):
    pass


def signing_key() -> str:
    configured = get_settings().jwt_secret
    if configured:
        return configured
    # The embedded default: one random key per installation, kept beside the database.
    path = DEFAULT_VAR_DIR / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return Path(path).read_text().strip()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str) -> User:
    """The user of a right password. An unknown or disabled username costs the same hash as
    a known one, so the answer's time does not tell which usernames exist."""
    user = session.exec(select(User).where(User.username == username)).first()
    right = verify_password(password, user.password_hash if user else _dummy_hash())
    if user is None or user.disabled or not right:
        raise InvalidCredentials("wrong username or password, or the user is disabled")
    return user


def log_in(session: Session, username: str, password: str, address: str) -> User:
    """:func:`authenticate` behind the log-in throttle (``login_throttle``): a try while
    locked or too soon is refused before the password is looked at."""
    login_throttle.check(username, address)
    try:
        user = authenticate(session, username, password)
    except InvalidCredentials:
        login_throttle.failed(username, address)
        raise
    login_throttle.succeeded(username, address)
    return user


def issue_token(user: User, logged_in_at: float | None = None) -> tuple[str, int]:
    """A signed token and its lifetime in seconds. It names the user's token generation (any
    revocation raises it), its own id (``jti``) and when its session began (``auth_time``):
    a renewal keeps that instant, and no renewal reaches past ``session_absolute_hours``."""
    settings = get_settings()
    issued = clock.now()
    began = logged_in_at if logged_in_at is not None else issued.timestamp()
    ends = began + settings.session_absolute_hours * 3600
    expires = min(issued.timestamp() + settings.access_token_minutes * 60, ends)
    claims = {
        "sub": str(user.id),
        "role": user.role.value,
        "gen": user.token_generation,
        "jti": uuid.uuid4().hex,
        "auth_time": int(began),
        "iat": issued,
        "exp": int(expires),
    }
    lifetime = max(0, int(expires - issued.timestamp()))
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), lifetime


def _claims(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            # Expiry is checked against the product's clock, so drills can age tokens too.
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError:
        raise InvalidCredentials("the token is not valid: log in again") from None
    return claims


def user_for_token(session: Session, token: str) -> User:
    claims = _claims(token)
    try:
        if clock.now().timestamp() >= float(claims["exp"]):
            raise InvalidCredentials("the token has expired: log in again")
        user = session.get(User, int(claims["sub"]))
    except (TypeError, ValueError):
        # Not the library's words (they describe JWT internals): what the caller can act on.
        raise InvalidCredentials("the token is not valid: log in again") from None
    if user is None or user.disabled:
        raise InvalidCredentials("the token's user does not exist or is disabled")
    if claims.get("gen", 0) != user.token_generation:
        raise InvalidCredentials("this session was ended (log-out, new password or new role)")
    return user


def session_began(token: str) -> float:
    """When the session of a (valid) token began: its log-in."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims.get("auth_time", claims.get("iat", 0)))


def needs_renewal(token: str) -> bool:
    """True once less than half of a (valid) token's lifetime is left, while the session's
    absolute lifetime allows more: pages renew it then, so a clerk working all day is not
    sent back to the log-in form every half hour, but is after ``session_absolute_hours``."""
    claims = jwt.decode(token, options={"verify_signature": False})
    lifetime = float(claims["exp"]) - float(claims.get("iat", claims["exp"]))
    ends = session_began(token) + get_settings().session_absolute_hours * 3600
    if float(claims["exp"]) >= ends:
        return False  # already as long as the session may last
    return float(claims["exp"]) - clock.now().timestamp() < lifetime / 2


def end_sessions(session: Session, user: User) -> None:
    """Every token issued to the user so far stops working at once (not committed): log-out,
    password reset, role change, disabling."""
    user.token_generation = (user.token_generation or 0) + 1
    session.add(user)


def actor_for(session: Session, user: User) -> Actor:
    memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return Actor(
        role=user.role,
        user_id=user.id,
        handling_unit_ids=frozenset(m.handling_unit_id for m in memberships if m.handling_unit_id),
        administrative_unit_ids=frozenset(
            m.administrative_unit_id for m in memberships if m.administrative_unit_id
        ),
    )


def create_api_key(session: Session, name: str) -> tuple[ApiKey, str]:
    """Store a new key's hash; the key itself is returned once and never again."""
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first():
        raise ValueError(f"an API key named {name!r} exists already")
    key = secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:API_KEY_PREFIX_LENGTH],
        key_hash=hash_secret(key),
        created_at=clock.now(),
    )
    session.add(row)
    session.commit()
    return row, key


def revoke_api_key(session: Session, name: str) -> ApiKey:
    row = session.exec(select(ApiKey).where(ApiKey.name == name)).first()
    if row is None:
        raise ValueError(f"no API key named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.add(row)
        session.commit()
    return row


def client_for_api_key(session: Session, key: str) -> ApiKey:
    row = session.exec(
        select(ApiKey)
        .where(ApiKey.key_hash == hash_secret(key))
        .where(col(ApiKey.revoked_at).is_(None))
    ).first()
    if row is None:
        raise InvalidCredentials("unknown or revoked API key")
    return row
