"""The seed: Hue's two maps, the catalogue, idempotence and routing that never falls through."""

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func
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
from reflections.models.enums import Priority, Role
from reflections.organisation.routing import route
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.platform.security import verify_password
from reflections.seed import catalog
from reflections.seed.loader import seed
from tests.conftest import new_database

THREE_TIER_DAY, TWO_TIER_DAY = date(2025, 6, 30), date(2025, 7, 1)
TABLES: list[type[SQLModel]] = [
    AdministrativeUnit,
    Category,
    HandlingUnit,
    StepPolicy,
    RoutingRule,
    User,
    Membership,
    CalendarDay,
]


def _counts(session: Session) -> dict[str, int]:
    return {
        str(model.__tablename__): session.exec(select(func.count()).select_from(model)).one()
        for model in TABLES
    }


def _units(session: Session) -> dict[str, AdministrativeUnit]:
    return {unit.code: unit for unit in session.exec(select(AdministrativeUnit))}


def _two_tier_communes(units: dict[str, AdministrativeUnit]) -> list[AdministrativeUnit]:
    return [u for u in units.values() if u.level == "commune" and ".D" not in u.code]


def _three_tier_communes(units: dict[str, AdministrativeUnit]) -> list[AdministrativeUnit]:
    return [u for u in units.values() if u.level == "commune" and ".D" in u.code]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The catalogue alone: other tests add units and categories to the session's database."""
    for url in new_database(tmp_path_factory.mktemp("seed")):
        migrate.upgrade(url)
        engine = get_engine(url)
        with Session(engine, expire_on_commit=False) as seeded:
            seed(seeded, demo_password="demo-password")
            yield seeded
        engine.dispose()


@pytest.fixture
def fresh_session(fresh_database_url: str) -> Iterator[Session]:
    migrate.upgrade(fresh_database_url)
    engine = get_engine(fresh_database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def test_both_editions_of_the_map(session: Session) -> None:
    units = _units(session)
    province = units[catalog.PROVINCE_CODE]
    districts = [u for u in units.values() if u.level == "district"]
    assert len(_two_tier_communes(units)) == 40
    assert len(districts) == 9
    assert len(_three_tier_communes(units)) == 134
    assert [u for u in units.values() if u.level == "province"] == [province]
    # Both editions hang off the one shared province row.
    assert all(d.parent_id == province.id for d in districts)
    assert all(c.parent_id == province.id for c in _two_tier_communes(units))
    district_ids = {d.id for d in districts}
    assert all(c.parent_id in district_ids for c in _three_tier_communes(units))


def test_validity_dates(session: Session) -> None:
    units = _units(session)
    province = units[catalog.PROVINCE_CODE]
    assert (province.valid_from, province.valid_to) == (date(2025, 1, 1), None)
    for unit in units.values():
        if ".D" in unit.code:  # a district or one of its communes
            assert (unit.valid_from, unit.valid_to) == (date(2025, 1, 1), date(2025, 6, 30))
    for unit in _two_tier_communes(units):
        assert (unit.valid_from, unit.valid_to) == (date(2025, 7, 1), None)

    committees = {
        u.code: u
        for u in session.exec(
            select(HandlingUnit).where(col(HandlingUnit.code).startswith("UBND."))
        )
    }
    assert len(committees) == 40 + 9
    for code, committee in committees.items():
        if ".D" in code:
            assert (committee.valid_from, committee.valid_to) == (
                date(2025, 1, 1),
                date(2025, 6, 30),
            )
        else:
            assert (committee.valid_from, committee.valid_to) == (date(2025, 7, 1), None)
            assert committee.name.startswith("Ủy ban nhân dân ")


def test_catalogue_is_loaded(session: Session) -> None:
    categories = session.exec(select(Category)).all()
    assert len(categories) >= 12
    assert all(c.code.isascii() and c.keywords for c in categories)
    kinds = {u.kind for u in session.exec(select(HandlingUnit))}
    assert kinds == {"department", "peoples_committee", "team", "company"}

    defaults = {
        p.priority: p
        for p in session.exec(select(StepPolicy).where(col(StepPolicy.category_id).is_(None)))
    }
    assert set(defaults) == set(Priority)
    emergency, normal, complex_ = (defaults[p] for p in Priority)
    assert (emergency.classify_minutes, emergency.accept_minutes) == (60, 60)
    assert (emergency.process_minutes, emergency.around_the_clock) == (240, True)
    assert (normal.classify_minutes, normal.accept_minutes) == (240, 480)
    assert (normal.process_minutes, normal.around_the_clock) == (5 * 450, False)
    assert (complex_.classify_minutes, complex_.accept_minutes) == (240, 480)
    assert complex_.process_minutes == 15 * 450
    assert {p.confirm_window_minutes for p in defaults.values()} == {7 * 24 * 60}


def test_every_category_routes_everywhere(session: Session) -> None:
    units = _units(session)
    editions = [(c, TWO_TIER_DAY) for c in _two_tier_communes(units)]
    editions += [(c, THREE_TIER_DAY) for c in _three_tier_communes(units)]
    handling_ids = set(session.exec(select(HandlingUnit.id)).all())
    missing = []
    for category in session.exec(select(Category)):
        assert category.id is not None
        for commune, day in editions:
            assert commune.id is not None
            unit = route(session, category.id, commune.id, day)
            if unit is None or unit.id not in handling_ids:
                missing.append((category.code, commune.code))
    assert missing == []


def test_routing_prefers_the_nearest_rule(session: Session) -> None:
    units = _units(session)
    categories = {c.code: c.id for c in session.exec(select(Category))}
    assert categories["noise"] is not None and categories["water_supply"] is not None
    commune = units["46.W19768"]
    old_commune = next(u for u in _three_tier_communes(units) if u.code.startswith("46.D478."))
    assert commune.id is not None and old_commune.id is not None

    here = route(session, categories["noise"], commune.id, TWO_TIER_DAY)
    assert here is not None and here.code == "UBND.46.W19768"
    # A three-tier commune has no rule of its own: its district's applies, while it exists.
    there = route(session, categories["noise"], old_commune.id, THREE_TIER_DAY)
    assert there is not None and there.code == "UBND.46.D478"
    assert route(session, categories["noise"], old_commune.id, TWO_TIER_DAY) is None
    city = route(session, categories["water_supply"], commune.id, TWO_TIER_DAY)
    assert city is not None and city.code == "HUEWACO"
    province = units[catalog.PROVINCE_CODE].id or 0
    assert route(session, categories["noise"], province, TWO_TIER_DAY) is None


def test_demo_users_cover_every_staff_role(session: Session) -> None:
    users = {u.id: u for u in session.exec(select(User))}
    roles = {u.role for u in users.values()}
    assert set(Role) - {Role.CITIZEN, Role.SYSTEM} <= roles

    units = {u.id: u for u in session.exec(select(HandlingUnit))}
    areas = {a.id: a for a in session.exec(select(AdministrativeUnit))}
    handled: set[str] = set()
    supervised: set[str] = set()
    for membership in session.exec(select(Membership)):
        role = users[membership.user_id].role
        if role == Role.HANDLER and membership.handling_unit_id:
            handled.add(units[membership.handling_unit_id].kind)
        if role == Role.SUPERVISOR and membership.administrative_unit_id:
            supervised.add(areas[membership.administrative_unit_id].level)
    assert {"company", "peoples_committee"} <= handled
    assert {"province", "commune"} <= supervised


def test_seed_is_idempotent(fresh_session: Session) -> None:
    first = seed(fresh_session)
    counts = _counts(fresh_session)
    assert first.created == counts
    assert set(first.updated.values()) == {0}
    assert set(first.demo_passwords) == {u.username for u in catalog.DEMO_USERS}
    hashes = {u.username: u.password_hash for u in fresh_session.exec(select(User))}

    second = seed(fresh_session, demo_password="another-password")
    assert set(second.created.values()) == {0}
    assert set(second.updated.values()) == {0}
    assert second.demo_passwords == {}
    assert _counts(fresh_session) == counts

    fresh_session.expire_all()
    users = {u.username: u for u in fresh_session.exec(select(User))}
    assert {name: u.password_hash for name, u in users.items()} == hashes
    for username, password in first.demo_passwords.items():
        assert verify_password(password, users[username].password_hash)


def test_seed_puts_changed_rows_back(fresh_session: Session) -> None:
    seed(fresh_session, demo_password="demo-password")
    category = fresh_session.exec(select(Category).where(Category.code == "noise")).one()
    category.name_vi = "Đổi tên"
    policy = fresh_session.exec(
        select(StepPolicy).where(StepPolicy.priority == Priority.NORMAL)
    ).one()
    policy.process_minutes = 1
    fresh_session.add_all([category, policy])
    fresh_session.commit()

    report = seed(fresh_session)
    assert report.updated["categories"] == 1
    assert report.updated["step_policies"] == 1
    assert sum(report.created.values()) == 0
    fresh_session.refresh(category)
    fresh_session.refresh(policy)
    assert category.name_vi == "Tiếng ồn"
    assert policy.process_minutes == 5 * catalog.WORKING_DAY_MINUTES
