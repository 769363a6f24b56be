"""Load the catalogue into the database, as often as one likes.

Rows are matched by natural key, so re-running after a catalogue change (or a package upgrade that
corrects a division's name) brings the database up to date without duplicating anything. Each
table is read once into a dict; nothing is queried per row. One commit at the end: a failed run
leaves the database as it was.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from reflections.models import (
    AdministrativeUnit,
    CalendarDay,
    Category,
    HandlingUnit,
    Membership,
    RoutingRule,
    StepPolicy,
    User,
)
from reflections.models.enums import CalendarDayKind, Priority
from reflections.platform import clock
from reflections.platform.security import hash_password
from reflections.platform.settings import get_settings
from reflections.seed import catalog
from reflections.timekeeping import calendar_days

RowT = TypeVar("RowT", bound=SQLModel)


class SeedError(ValueError):
    """The catalogue refers to something it does not define."""


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)  # table name -> rows created
    updated: dict[str, int] = field(default_factory=dict)  # rows put back to the catalogue
    # username -> generated password, only for users created now without a given password
    demo_passwords: dict[str, str] = field(default_factory=dict)


class _Upserter:
    """Counts what a run changes, so a second run can prove it changed nothing."""

    def __init__(self, session: Session, report: SeedReport) -> None:
        self.session = session
        self.report = report

    def upsert(
        self,
        existing: dict[Any, RowT],
        key: Any,
        model: type[RowT],
        values: dict[str, Any],
    ) -> RowT:
        table = str(model.__tablename__)
        row = existing.get(key)
        if row is None:
            row = model(**values)
            self.session.add(row)
            existing[key] = row
            self.report.created[table] += 1
            return row
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            self.report.updated[table] += 1
        return row


def _tables() -> list[str]:
    models: list[type[SQLModel]] = [
        AdministrativeUnit,
        Category,
        HandlingUnit,
        StepPolicy,
        RoutingRule,
        User,
        Membership,
        CalendarDay,
    ]
    return [str(model.__tablename__) for model in models]


def _id(row: SQLModel) -> int:
    value = getattr(row, "id", None)
    assert isinstance(value, int), "flushed rows have ids"
    return value


def _lookup(ids: dict[str, int], code: str, what: str) -> int:
    try:
        return ids[code]
    except KeyError:
        raise SeedError(f"the catalogue names an unknown {what}: {code}") from None


def _depth(code: str, parents: dict[str, str | None]) -> int:
    depth, parent = 0, parents[code]
    while parent is not None:
        depth, parent = depth + 1, parents[parent]
    return depth


def _administrative_units(session: Session, up: _Upserter) -> dict[str, int]:
    """Level by level, so a new parent has an id before its children point at it."""
    specs = catalog.ADMINISTRATIVE_UNITS
    parents = {spec.division.code: spec.division.parent_code for spec in specs}
    by_depth: dict[int, list[catalog.AdministrativeUnitSpec]] = defaultdict(list)
    for spec in specs:
        by_depth[_depth(spec.division.code, parents)].append(spec)

    existing = {row.code: row for row in session.exec(select(AdministrativeUnit))}
    ids = {code: _id(row) for code, row in existing.items()}
    for depth in sorted(by_depth):
        for spec in by_depth[depth]:
            division = spec.division
            parent_code = division.parent_code
            up.upsert(
                existing,
                division.code,
                AdministrativeUnit,
                {
                    "code": division.code,
                    "name": division.name,
                    "name_en": division.name_en,
                    "level": division.level,
                    "kind": division.kind,
                    "parent_id": (
                        None if parent_code is None else _lookup(ids, parent_code, "parent")
                    ),
                    "valid_from": spec.valid_from,
                    "valid_to": spec.valid_to,
                    # Successors are of a later edition, seeded at a shallower depth first.
                    "successor_id": (
                        None
                        if spec.successor is None
                        else _lookup(ids, spec.successor, "successor")
                    ),
                },
            )
        session.flush()
        ids.update((code, _id(row)) for code, row in existing.items())
    return ids


def _categories(session: Session, up: _Upserter) -> dict[str, int]:
    # `active` is left out on purpose: retiring a category is an admin's decision.
    existing = {row.code: row for row in session.exec(select(Category))}
    for spec in catalog.CATEGORIES:
        up.upsert(
            existing,
            spec.code,
            Category,
            {
                "code": spec.code,
                "name_vi": spec.name_vi,
                "name_en": spec.name_en,
                "group": spec.group,
                "keywords": list(spec.keywords),
                "default_priority": spec.default_priority,
            },
        )
    session.flush()
    return {code: _id(row) for code, row in existing.items()}


def _handling_units(session: Session, up: _Upserter, areas: dict[str, int]) -> dict[str, int]:
    # `active` is left out on purpose, as for categories.
    existing = {row.code: row for row in session.exec(select(HandlingUnit))}
    for spec in catalog.HANDLING_UNITS:
        up.upsert(
            existing,
            spec.code,
            HandlingUnit,
            {
                "code": spec.code,
                "name": spec.name,
                "name_en": spec.name_en,
                "kind": spec.kind,
                "administrative_unit_id": _lookup(
                    areas, spec.administrative_unit, "administrative unit"
                ),
                "valid_from": spec.valid_from,
                "valid_to": spec.valid_to,
            },
        )
    session.flush()
    return {code: _id(row) for code, row in existing.items()}


def _step_policies(session: Session, up: _Upserter, categories: dict[str, int]) -> None:
    # Keyed in Python: a unique constraint does not stop two NULL-category rows.
    existing: dict[tuple[int | None, Priority], StepPolicy] = {
        (row.category_id, Priority(row.priority)): row for row in session.exec(select(StepPolicy))
    }
    for spec in catalog.STEP_POLICIES:
        category_id = (
            None if spec.category is None else _lookup(categories, spec.category, "category")
        )
        up.upsert(
            existing,
            (category_id, spec.priority),
            StepPolicy,
            {
                "category_id": category_id,
                "priority": spec.priority,
                "classify_minutes": spec.classify_minutes,
                "accept_minutes": spec.accept_minutes,
                "process_minutes": spec.process_minutes,
                "confirm_window_minutes": spec.confirm_window_minutes,
                "around_the_clock": spec.around_the_clock,
            },
        )


def _routing_rules(
    session: Session,
    up: _Upserter,
    categories: dict[str, int],
    areas: dict[str, int],
    units: dict[str, int],
) -> None:
    existing = {
        (row.category_id, row.administrative_unit_id): row
        for row in session.exec(select(RoutingRule))
    }
    for spec in catalog.ROUTING_RULES:
        key = (
            _lookup(categories, spec.category, "category"),
            _lookup(areas, spec.administrative_unit, "administrative unit"),
        )
        up.upsert(
            existing,
            key,
            RoutingRule,
            {
                "category_id": key[0],
                "administrative_unit_id": key[1],
                "handling_unit_id": _lookup(units, spec.handling_unit, "handling unit"),
            },
        )


def _users(
    session: Session,
    up: _Upserter,
    areas: dict[str, int],
    units: dict[str, int],
    demo_password: str | None,
) -> None:
    """Passwords are set once, at creation: a re-seed must never lock a user out."""
    existing = {row.username: row for row in session.exec(select(User))}
    for spec in catalog.DEMO_USERS:
        values: dict[str, Any] = {
            "username": spec.username,
            "full_name": spec.full_name,
            "role": spec.role,
            "email": spec.email,
        }
        if spec.username not in existing:
            password = demo_password
            if password is None:
                password = secrets.token_urlsafe(12)
                up.report.demo_passwords[spec.username] = password
            values |= {"password_hash": hash_password(password), "created_at": clock.now()}
        up.upsert(existing, spec.username, User, values)
    session.flush()

    # Memberships the catalogue names are added; others (granted by an admin) are kept.
    demo_users = {spec.username: _id(existing[spec.username]) for spec in catalog.DEMO_USERS}
    memberships = {
        (row.user_id, row.handling_unit_id, row.administrative_unit_id): row
        for row in session.exec(
            select(Membership).where(col(Membership.user_id).in_(demo_users.values()))
        )
    }
    for spec in catalog.DEMO_USERS:
        user_id = demo_users[spec.username]
        scopes = [(_lookup(units, code, "handling unit"), None) for code in spec.handling_units] + [
            (None, _lookup(areas, code, "administrative unit")) for code in spec.areas
        ]
        for handling_unit_id, administrative_unit_id in scopes:
            up.upsert(
                memberships,
                (user_id, handling_unit_id, administrative_unit_id),
                Membership,
                {
                    "user_id": user_id,
                    "handling_unit_id": handling_unit_id,
                    "administrative_unit_id": administrative_unit_id,
                },
            )


def _calendar_days(session: Session, report: SeedReport) -> None:
    """The environment's extra days and the catalogue's moved days, as always in force; a date
    that has a row (an administrator's decision, even a removal) is left alone."""
    settings = get_settings()
    days = [
        (day, CalendarDayKind.DAY_OFF, "REFLECTIONS_EXTRA_DAYS_OFF")
        for day in settings.extra_days_off
    ]
    days += [
        (day, CalendarDayKind.WORKING_DAY, "REFLECTIONS_EXTRA_WORKING_DAYS")
        for day in settings.extra_working_days
    ]
    days += [(spec.day, spec.kind, spec.note) for spec in catalog.MOVED_DAYS]
    now = clock.now()
    for day, kind, note in days:
        if calendar_days.seed_day(session, day, kind, note, now):
            report.created["calendar_days"] += 1
            session.flush()


def seed(session: Session, *, demo_password: str | None = None) -> SeedReport:
    """Bring the reference data and demo users to the catalogue; safe to run any number of times.

    ``demo_password`` gives every user created now that password (tests, demos); without it each
    new user gets a random one, returned in the report because it is shown only once.
    """
    report = SeedReport(
        created=dict.fromkeys(_tables(), 0),
        updated=dict.fromkeys(_tables(), 0),
    )
    up = _Upserter(session, report)
    try:
        areas = _administrative_units(session, up)
        categories = _categories(session, up)
        units = _handling_units(session, up, areas)
        _step_policies(session, up, categories)
        _routing_rules(session, up, categories, areas, units)
        _users(session, up, areas, units, demo_password)
        _calendar_days(session, report)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        calendar_days.invalidate(session)
    return report
