"""How citizens come back without their long key (issue 16): one-time sign-in codes, the
sessions they open, and the short PIN a hotline caller is given with their tracking code.

Only keyed hashes of codes, tokens and PINs are stored; the attempt counters live here, not on
the reflection, whose version counts its history events.
"""

from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class SignInCode(SQLModel, table=True):
    """A 6-digit code sent to a phone or an email address, valid for a few minutes."""

    __tablename__ = "sign_in_codes"
    __table_args__ = (Index("ix_sign_in_codes_contact", "channel", "address", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16, description="sms or email")
    address: str = Field(max_length=254, description="E.164 phone or normalised email")
    code_hash: str = Field(max_length=64)
    client: str | None = Field(default=None, max_length=64, index=True, description="IP")
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CitizenSession(SQLModel, table=True):
    """A device signed in by a code: it opens every reflection made with that contact."""

    __tablename__ = "citizen_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=254)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReflectionPin(SQLModel, table=True):
    """The 6-digit PIN an operator reads to a caller with the tracking code."""

    __tablename__ = "reflection_pins"

    reflection_id: int = Field(foreign_key="reflections.id", primary_key=True)
    pin_hash: str = Field(max_length=64)
    failures: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)


class Follower(SQLModel, table=True):
    """A citizen following a reflection they did not file (a merged duplicate's reporter, or
    "same problem? follow it"): they hear of its progress like its reporter."""

    __tablename__ = "followers"
    __table_args__ = (Index("uq_followers_pair", "reflection_id", "reporter_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id", index=True)
    reporter_id: int = Field(foreign_key="reporters.id", index=True)
    via: str = Field(max_length=16, description="merge or follow")
    created_at: datetime = Field(sa_type=UTCDateTime)


class StagedPhoto(SQLModel, table=True):
    """A photo a refused form already accepted, kept for the form's next try so it is not
    chosen twice; ``batch_hash`` is the hash of the token the form carries. Kept a day."""

    __tablename__ = "staged_photos"

    id: int | None = Field(default=None, primary_key=True)
    batch_hash: str = Field(max_length=64, index=True)
    content: bytes = Field(sa_type=LargeBinary)
    filename: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
