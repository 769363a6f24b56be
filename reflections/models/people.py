"""Staff users with their roles and unit memberships, and the citizens who report."""

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import JSON, Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import Channel, Language, Role
from reflections.models.types import UTCDateTime, str_enum


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=200)
    role: Role = Field(sa_type=str_enum(Role))
    password_hash: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    language: Language = Field(default=Language.VI, sa_type=str_enum(Language))
    channels: list[Channel] = Field(
        default_factory=list, sa_type=JSON, description="Empty: email only."
    )
    opted_out: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    disabled: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    token_generation: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="Raised by log-out, password reset, role change and disabling: every "
        "token issued before stops working at once.",
    )


class Membership(SQLModel, table=True):
    """A user's scope: a handling unit (handlers, unit heads) or an administrative unit
    (supervisors of a commune, district or the province, who see everything under it)."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(
            "(handling_unit_id IS NULL) <> (administrative_unit_id IS NULL)",
            name="one_scope",
        ),
        UniqueConstraint(
            "user_id", "handling_unit_id", "administrative_unit_id", name="uq_memberships_scope"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    handling_unit_id: int | None = Field(default=None, foreign_key="handling_units.id", index=True)
    administrative_unit_id: int | None = Field(
        default=None, foreign_key="administrative_units.id", index=True
    )


class Reporter(SQLModel, table=True):
    """A citizen's identity and contact: confidential, never shown to handling units."""

    __tablename__ = "reporters"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=200)
    phone_e164: str | None = Field(default=None, max_length=20, index=True)
    email: str | None = Field(default=None, max_length=254, index=True)
    language: Language = Field(default=Language.VI, sa_type=str_enum(Language))
    channels: list[Channel] = Field(
        default_factory=list, sa_type=JSON, description="Empty: every contact left."
    )
    opted_out: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    anonymous: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A service client (an Open311 app, an integration). Only the key's hash is kept."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    prefix: str = Field(max_length=12, index=True, description="Shown to tell keys apart.")
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
