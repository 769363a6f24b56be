"""Who is calling: staff by password and short-lived token, service clients by API key.

Citizens have no account: the key they receive with their first reflection opens every
reflection they submit with it.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import jwt
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.models import ApiKey, Membership, User
from reflections.platform import clock
from reflections.platform.security import hash_secret, verify_password
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


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.disabled or not verify_password(password, user.password_hash):
        raise InvalidCredentials("wrong username or password, or the user is disabled")
    return user


def issue_token(user: User) -> tuple[str, int]:
    """A signed token and its lifetime in seconds."""
    lifetime = timedelta(minutes=get_settings().access_token_minutes)
    issued = clock.now()
    claims = {"sub": str(user.id), "role": user.role.value, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), int(lifetime.total_seconds())


def user_for_token(session: Session, token: str) -> User:
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            # Expiry is checked against the product's clock, so drills can age tokens too.
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
        if clock.now().timestamp() >= float(claims["exp"]):
            raise InvalidCredentials("the token has expired")
        user = session.get(User, int(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError) as error:
        raise InvalidCredentials(f"invalid token: {error}") from None
    if user is None or user.disabled:
        raise InvalidCredentials("the token's user does not exist or is disabled")
    return user


def needs_renewal(token: str) -> bool:
    """True once less than half of a (valid) token's lifetime is left: pages renew it then,
    so a clerk working all day is not sent back to the log-in form every half hour."""
    claims = jwt.decode(token, options={"verify_signature": False})
    lifetime = float(claims["exp"]) - float(claims.get("iat", claims["exp"]))
    return float(claims["exp"]) - clock.now().timestamp() < lifetime / 2


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
