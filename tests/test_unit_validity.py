"""Units have validity (DESIGN.md §2): a reflection uses the map of its own day.

Hue's three-tier map (districts and 134 communes) is valid to 30 June 2025, the two-tier map
(40 communes) from 1 July 2025. Phường Đông Ba (46.D475.W19768) of the old map kept its code in
the new Phường Phú Xuân (46.W19768), so the data knows where it went.
"""

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from reflections.actors import Actor
from reflections.errors import InvalidInput
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    OutboxMessage,
    Reflection,
)
from reflections.models.enums import LifecycleEvent, Priority
from reflections.organisation.auth import create_api_key
from reflections.organisation.validity import UnitNotInForce
from reflections.platform import clock
from reflections.seed import catalog
from reflections.timekeeping import escalation
from tests.api_helpers import as_user
from tests.lifecycle_helpers import COORDINATOR

VN = ZoneInfo("Asia/Ho_Chi_Minh")
E = LifecycleEvent
OLD_DONG_BA = "46.D475.W19768"  # Phường Đông Ba, district Phú Xuân (three-tier)
NEW_PHU_XUAN = "46.W19768"  # Phường Phú Xuân (two-tier)
OLD_DISTRICT = "46.D475"
LAST_OLD_MOMENT = datetime(2025, 6, 30, 23, 59, tzinfo=VN)
FIRST_NEW_MOMENT = datetime(2025, 7, 1, 0, 0, tzinfo=VN)


def _unit(session: Session, code: str) -> AdministrativeUnit:
    return session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == code)).one()


def _id(session: Session, code: str) -> int:
    unit_id = _unit(session, code).id
    assert unit_id is not None
    return unit_id


def _submitted(session: Session, at: datetime, ward: str) -> Reflection:
    with clock.frozen_at(at):
        return submit(
            session,
            Submission(
                description="Cống thoát nước bị tắc", administrative_unit_id=_id(session, ward)
            ),
            Actor.citizen(),
        ).reflection


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.exec(select(func.count()).select_from(Reflection)).one(),
        session.exec(select(func.count()).select_from(OutboxMessage)).one(),
    )


def test_the_successors_the_data_knows(session: Session) -> None:
    old = _unit(session, OLD_DONG_BA)
    assert old.successor_id == _id(session, NEW_PHU_XUAN)
    known = [s for s in catalog.ADMINISTRATIVE_UNITS if s.successor]
    assert len(known) == 40  # every two-tier commune kept the code of one old commune
    assert all(s.division.level == "commune" and s.valid_to for s in known)


def test_an_abolished_commune_on_both_sides_of_1_july_2025(session: Session) -> None:
    before = _submitted(session, LAST_OLD_MOMENT, OLD_DONG_BA)
    assert before.administrative_unit_id == _id(session, OLD_DONG_BA)
    counts = _counts(session)
    with pytest.raises(UnitNotInForce) as refused:
        _submitted(session, FIRST_NEW_MOMENT, OLD_DONG_BA)
    assert refused.value.field == "administrative_unit"
    assert refused.value.successor == NEW_PHU_XUAN
    assert "not in force on 01/07/2025 (valid 01/01/2025–30/06/2025)" in refused.value.reason
    assert "Phường Phú Xuân (46.W19768)" in refused.value.reason
    assert _counts(session) == counts  # nothing written, no message queued
    after = _submitted(session, FIRST_NEW_MOMENT, NEW_PHU_XUAN)
    with pytest.raises(UnitNotInForce):
        _submitted(session, LAST_OLD_MOMENT, NEW_PHU_XUAN)  # not yet in force

    # Escalation: the old case climbs commune → district → city, the new one commune → city.
    ladder_before = escalation.ladder(session, before)
    assert ladder_before == [_id(session, OLD_DISTRICT), _id(session, catalog.PROVINCE_CODE)]
    assert escalation.ladder(session, after) == [_id(session, catalog.PROVINCE_CODE)]


def test_a_2026_reflection_never_escalates_to_an_abolished_district(session: Session) -> None:
    reflection = _submitted(session, datetime(2026, 3, 2, 9, 0, tzinfo=VN), NEW_PHU_XUAN)
    assert reflection.id is not None
    with clock.frozen_at(datetime(2026, 3, 2, 15, 0, tzinfo=VN)):
        escalated = apply_event(session, reflection.id, E.ESCALATE, Actor.system(), EventInput())
    assert escalated.escalated_to_id == _id(session, catalog.PROVINCE_CODE)


def test_classification_and_assignment_use_the_reflection_s_own_map(session: Session) -> None:
    r2026 = _submitted(session, datetime(2026, 3, 2, 9, 0, tzinfo=VN), NEW_PHU_XUAN)
    noise = session.exec(select(Category).where(Category.code == "noise")).one()
    assert r2026.id is not None and noise.id is not None
    counts = _counts(session)
    with pytest.raises(UnitNotInForce, match=r"46\.W19768") as refused:
        apply_event(
            session,
            r2026.id,
            E.CLASSIFY,
            COORDINATOR,
            EventInput(
                category_id=noise.id,
                priority=Priority.NORMAL,
                administrative_unit_id=_id(session, OLD_DONG_BA),
            ),
        )
    assert refused.value.field == "administrative_unit"
    classified = apply_event(
        session,
        r2026.id,
        E.CLASSIFY,
        COORDINATOR,
        EventInput(
            category_id=noise.id,
            priority=Priority.NORMAL,
            administrative_unit_id=_id(session, NEW_PHU_XUAN),
        ),
    )
    district_committee = session.exec(
        select(HandlingUnit).where(HandlingUnit.code == f"UBND.{OLD_DISTRICT}")
    ).one()
    with pytest.raises(InvalidInput, match="not in force") as wrong_unit:
        apply_event(
            session,
            r2026.id,
            E.ASSIGN,
            COORDINATOR,
            EventInput(handling_unit_id=district_committee.id),
            classified.version,
        )
    assert wrong_unit.value.field == "handling_unit"
    assert _counts(session)[1] == counts[1]

    # A case of June 2025 still goes to the district's committee of its time.
    june = _submitted(session, LAST_OLD_MOMENT, OLD_DONG_BA)
    assert june.id is not None
    with clock.frozen_at(datetime(2025, 7, 2, 9, 0, tzinfo=VN)):
        classified = apply_event(
            session,
            june.id,
            E.CLASSIFY,
            COORDINATOR,
            EventInput(
                category_id=noise.id,
                priority=Priority.NORMAL,
                administrative_unit_id=_id(session, OLD_DONG_BA),
            ),
        )
        assigned = apply_event(
            session,
            june.id,
            E.ASSIGN,
            COORDINATOR,
            EventInput(handling_unit_id=district_committee.id),
        )
    assert assigned.handling_unit_id == district_committee.id
    assert escalation.ladder(session, assigned) == [_id(session, catalog.PROVINCE_CODE)]


def _post(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/reflections", json={"description": "Ổ gà sâu giữa đường"} | body)


def test_the_api_names_the_field_and_the_successor(client: TestClient, session: Session) -> None:
    counts = _counts(session)
    refused = _post(client, administrative_unit=OLD_DONG_BA)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = refused.json()["errors"]
    assert (error["field"], error["successor"]) == ("administrative_unit", NEW_PHU_XUAN)
    without_successor = next(
        s.division.code
        for s in catalog.ADMINISTRATIVE_UNITS
        if s.division.level == "commune" and s.valid_to and not s.successor
    )
    [error] = _post(client, administrative_unit=without_successor).json()["errors"]
    assert error["field"] == "administrative_unit" and "successor" not in error
    assert _counts(session) == counts
    assert _post(client, administrative_unit=NEW_PHU_XUAN).status_code == 201

    code = _post(client, address="Lê Lợi").json()["tracking_code"]
    classify = client.post(
        f"/api/v1/reflections/{code}/classify",
        headers=as_user(client, "coordinator"),
        json={"category": "noise", "priority": "normal", "administrative_unit": OLD_DONG_BA},
    )
    assert classify.status_code == 422
    assert classify.json()["errors"][0]["successor"] == NEW_PHU_XUAN


def test_open311_refuses_an_abolished_address_id(client: TestClient, session: Session) -> None:
    _, api_key = create_api_key(session, f"validity-{uuid.uuid4().hex[:8]}")
    response = client.post(
        "/open311/v2/requests.json",
        data={"api_key": api_key, "service_code": "noise", "address_id": OLD_DONG_BA},
    )
    assert response.status_code == 400
    [error] = response.json()
    assert "administrative_unit" in error["description"] and NEW_PHU_XUAN in error["description"]


def test_the_ward_pickers_offer_only_today_s_map(client: TestClient) -> None:
    form = client.get("/submit").text
    assert f'value="{NEW_PHU_XUAN}"' in form and f'value="{OLD_DONG_BA}"' not in form


def test_admins_name_a_successor(client: TestClient, session: Session) -> None:
    admin = as_user(client, "admin")
    old = next(
        s.division.code
        for s in catalog.ADMINISTRATIVE_UNITS
        if s.division.level == "commune" and s.valid_to and not s.successor
    )
    changed = client.patch(
        f"/api/v1/admin/administrative-units/{old}", headers=admin, json={"successor": NEW_PHU_XUAN}
    )
    assert changed.status_code == 200 and changed.json()["successor"] == NEW_PHU_XUAN
    [error] = _post(client, administrative_unit=old).json()["errors"]
    assert error["successor"] == NEW_PHU_XUAN
    itself = client.patch(
        f"/api/v1/admin/administrative-units/{old}", headers=admin, json={"successor": old}
    )
    assert itself.status_code == 422
    cleared = client.patch(
        f"/api/v1/admin/administrative-units/{old}", headers=admin, json={"successor": None}
    )
    assert cleared.json()["successor"] is None
    session.expire_all()
    assert (
        session.exec(select(AdministrativeUnit).where(col(AdministrativeUnit.code) == old))
        .one()
        .successor_id
        is None
    )
