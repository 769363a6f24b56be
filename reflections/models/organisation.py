"""Who handles what where: administrative units, handling units, categories, policies, routing.

The administrative hierarchy is data of any depth; units carry validity dates so that old
reflections keep the units they had when the map changed.
"""

from datetime import date

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import JSON, Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import HandlingUnitKind, Priority
from reflections.models.types import str_enum


class AdministrativeUnit(SQLModel, table=True):
    __tablename__ = "administrative_units"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    level: str = Field(max_length=32, description="province, district, commune, ... (data)")
    kind: str = Field(max_length=64, description="e.g. phường, xã, quận, thị xã")
    parent_id: int | None = Field(default=None, foreign_key="administrative_units.id", index=True)
    valid_from: date | None = Field(default=None, description="First day in force (local).")
    valid_to: date | None = Field(default=None, description="Last day in force (local).")
    successor_id: int | None = Field(
        default=None,
        foreign_key="administrative_units.id",
        description="The unit that took this one's place when it was abolished, if known.",
    )


class HandlingUnit(SQLModel, table=True):
    __tablename__ = "handling_units"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    kind: HandlingUnitKind = Field(sa_type=str_enum(HandlingUnitKind))
    administrative_unit_id: int = Field(foreign_key="administrative_units.id", index=True)
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name_vi: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    group: str = Field(max_length=64)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    default_priority: Priority = Field(default=Priority.NORMAL, sa_type=str_enum(Priority))
    active: bool = True


class StepPolicy(SQLModel, table=True):
    """Allowance of each step, per category and priority; a NULL category is the default."""

    __tablename__ = "step_policies"
    __table_args__ = (
        UniqueConstraint("category_id", "priority", name="uq_step_policies_category_priority"),
        CheckConstraint(
            "classify_minutes > 0 AND accept_minutes > 0 AND process_minutes > 0"
            " AND confirm_window_minutes > 0",
            name="positive",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    priority: Priority = Field(sa_type=str_enum(Priority))
    classify_minutes: int
    accept_minutes: int
    process_minutes: int
    confirm_window_minutes: int
    around_the_clock: bool = Field(
        default=False, description="Count wall-clock time instead of working time."
    )


class RoutingRule(SQLModel, table=True):
    """Category × administrative unit → handling unit; the most specific unit wins."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        UniqueConstraint(
            "category_id", "administrative_unit_id", name="uq_routing_rules_category_unit"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="categories.id")
    administrative_unit_id: int = Field(foreign_key="administrative_units.id")
    handling_unit_id: int = Field(foreign_key="handling_units.id", index=True)
