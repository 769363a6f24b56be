"""What keeps the public edge from being abused (issue 13): shared rate-limit counters, the
contacts proven by a one-time code, the contacts that asked for no more messages, and the
staff log-in failures and lockouts."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class RateLimitCounter(SQLModel, table=True):
    """One fixed window of a ``limits`` rate limit, kept in the database so every replica
    counts together (``REFLECTIONS_RATE_LIMIT_STORAGE=database://``)."""

    __tablename__ = "rate_limit_counters"

    key: str = Field(primary_key=True, max_length=255)
    count: int = 0
    expires_at: float = Field(index=True, description="Unix time the window ends.")


class ProvenContact(SQLModel, table=True):
    """A phone number or email address its owner proved to be theirs (a one-time code):
    it gets every update, not only the daily few an unproven contact gets."""

    __tablename__ = "proven_contacts"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=254, description="Normalised: E.164 or the email.")
    proven_at: datetime = Field(sa_type=UTCDateTime)


class ContactOptOut(SQLModel, table=True):
    """A contact that followed the stop link of a message: nothing more is sent to it."""

    __tablename__ = "contact_opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=254)
    opted_out_at: datetime = Field(sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed staff log-ins of one username or one address, and its lockout."""

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("scope", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16, description="username or address.")
    subject: str = Field(max_length=255)
    failures: int = 0
    last_failure_at: datetime = Field(sa_type=UTCDateTime)
    locked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
