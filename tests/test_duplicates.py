"""Duplicate suggestions (nearby or same ward, same category) and merging a duplicate.

Each test reports under a category hint of its own, so the reflections other tests leave in the
session's database never match (the hint is compared as a category code).
"""

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from notifications import render
from reflections.actors import Actor
from reflections.errors import Conflict, Forbidden, InvalidInput
from reflections.lifecycle.duplicates import (
    EARTH_RADIUS_METRES,
    RADIUS_METRES,
    bounding_box,
    distance_metres,
    find_duplicates,
    merge,
)
from reflections.lifecycle.history import replay, timeline
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import Category, HistoryEvent, OutboxMessage, Reflection
from reflections.models.enums import LifecycleEvent, LifecycleState, Priority, Role
from reflections.platform import clock
from tests.api_helpers import as_citizen, as_user
from tests.api_helpers import submit as api_submit
from tests.lifecycle_helpers import COORDINATOR, refs

HUE = (16.4637, 107.5909)  # Phu Xuan, the old citadel
WARD = "46.W19768"  # Phường Phú Xuân
E = LifecycleEvent


def _hint() -> str:
    return f"dup-{uuid.uuid4().hex[:12]}"


def _north(lat: float, metres: float) -> float:
    """The latitude ``metres`` north along a meridian (exact on the haversine sphere)."""
    return lat + math.degrees(metres / EARTH_RADIUS_METRES)


def _report(
    session: Session,
    hint: str | None,
    *,
    lat: float | None = None,
    lon: float | None = None,
    ward: int | None = None,
    at: datetime | None = None,
    email: str | None = None,
) -> Reflection:
    submission = Submission(
        description="Ngập sâu trên đường Lê Lợi, xe máy chết máy",
        latitude=lat,
        longitude=lon,
        address="Lê Lợi, Huế",
        administrative_unit_id=ward,
        category_hint=hint,
        reporter_email=email,
    )
    if at is None:
        return submit(session, submission, Actor.citizen()).reflection
    with clock.frozen_at(at):
        return submit(session, submission, Actor.citizen()).reflection


def _codes(session: Session, reflection: Reflection, actor: Actor = COORDINATOR) -> list[str]:
    return [s.tracking_code for s in find_duplicates(session, actor, reflection)]


# --- suggestions ------------------------------------------------------------------------------


def test_within_200_m_matches_and_250_m_does_not(session: Session) -> None:
    hint, (lat, lon) = _hint(), HUE
    base = _report(session, hint, lat=lat, lon=lon)
    near = _report(session, hint, lat=_north(lat, 190), lon=lon)
    nearer = _report(session, hint, lat=_north(lat, 40), lon=lon)
    far = _report(session, hint, lat=_north(lat, 250), lon=lon)

    found = find_duplicates(session, COORDINATOR, base)
    assert [s.tracking_code for s in found] == [nearer.tracking_code, near.tracking_code]
    assert far.tracking_code not in [s.tracking_code for s in found]
    first = found[1]
    assert first.distance_metres == pytest.approx(190, abs=0.5)
    assert first.days_apart is None  # no ward given
    assert first.why == "190 m away"
    assert (first.state, first.category) == (LifecycleState.RECEIVED, hint)
    assert first.description == near.description
    assert first.created_at == near.created_at


def test_self_and_rejected_reflections_are_not_suggested(session: Session) -> None:
    hint, (lat, lon) = _hint(), HUE
    base = _report(session, hint, lat=lat, lon=lon)
    rejected = _report(session, hint, lat=lat, lon=lon)
    kept = _report(session, hint, lat=lat, lon=lon)
    assert rejected.id is not None
    apply_event(session, rejected.id, E.REJECT, COORDINATOR, EventInput(reason="spam"))

    assert _codes(session, base) == [kept.tracking_code]


def test_same_ward_within_14_days_matches_and_15_days_does_not(session: Session) -> None:
    hint, ward = _hint(), refs(session).administrative_unit_id
    anchor = clock.now().replace(microsecond=0) - timedelta(days=20)
    base = _report(session, hint, ward=ward, at=anchor)
    before = _report(session, hint, ward=ward, at=anchor - timedelta(days=13, hours=5))
    edge = _report(session, hint, ward=ward, at=anchor + timedelta(days=14))
    late = _report(session, hint, ward=ward, at=anchor + timedelta(days=15))
    elsewhere = _report(session, hint, ward=None, at=anchor + timedelta(days=1))

    found = find_duplicates(session, COORDINATOR, base)
    # no distances here: the most recent first
    assert [s.tracking_code for s in found] == [edge.tracking_code, before.tracking_code]
    assert [s.days_apart for s in found] == [14, 13]
    assert found[1].why == "same ward, 13 days apart"
    assert found[0].distance_metres is None
    assert late.tracking_code not in _codes(session, base)
    assert elsewhere.tracking_code not in _codes(session, base)


def test_both_reasons_and_distance_matches_come_first(session: Session) -> None:
    hint, (lat, lon) = _hint(), HUE
    ward = refs(session).administrative_unit_id
    anchor = clock.now().replace(microsecond=0) - timedelta(days=5)
    base = _report(session, hint, lat=lat, lon=lon, ward=ward, at=anchor)
    ward_only = _report(session, hint, ward=ward, at=anchor + timedelta(days=2))
    both = _report(session, hint, lat=_north(lat, 85), lon=lon, ward=ward, at=anchor)

    found = find_duplicates(session, COORDINATOR, base)
    assert [s.tracking_code for s in found] == [both.tracking_code, ward_only.tracking_code]
    assert found[0].why == "85 m away; same ward, 0 days apart"
    assert found[1].why == "same ward, 2 days apart"


def test_other_categories_do_not_match_and_a_classification_outranks_the_hint(
    session: Session,
) -> None:
    r = refs(session)
    lat, lon = 10.0 + uuid.uuid4().int % 10_000 / 1e4, 20.0  # a spot no other test reports
    categories = session.exec(select(Category).order_by(col(Category.id)).limit(2)).all()
    own, other = categories[0], categories[1]
    base = _report(session, own.code, lat=lat, lon=lon)
    hinted = _report(session, own.code, lat=_north(lat, 30), lon=lon)
    other_hint = _report(session, other.code, lat=lat, lon=lon)
    reclassified = _report(session, own.code, lat=lat, lon=lon)  # hinted own, classified other
    for reflection, category in ((base, own), (reclassified, other)):
        assert reflection.id is not None and category.id is not None
        data = EventInput(
            category_id=category.id,
            priority=Priority.NORMAL,
            administrative_unit_id=r.administrative_unit_id,
        )
        apply_event(session, reflection.id, E.CLASSIFY, COORDINATOR, data)
    session.refresh(base)

    codes = _codes(session, base)
    assert codes[0] == hinted.tracking_code  # the only one within the radius
    assert other_hint.tracking_code not in codes
    assert reclassified.tracking_code not in codes
    assert _codes(session, hinted)[0] == base.tracking_code  # classified base matches the hint


def test_without_a_category_nothing_is_suggested(session: Session) -> None:
    base = _report(session, None, lat=HUE[0], lon=HUE[1])
    _report(session, None, lat=HUE[0], lon=HUE[1])
    assert _codes(session, base) == []


def test_only_coordinators_and_admins_are_shown_suggestions(session: Session) -> None:
    base = _report(session, _hint(), lat=HUE[0], lon=HUE[1])
    assert _codes(session, base, Actor(Role.ADMIN)) == []
    for role in (Role.HANDLER, Role.SUPERVISOR, Role.AUDITOR, Role.CITIZEN):
        with pytest.raises(Forbidden):
            find_duplicates(session, Actor(role, reflection_id=base.id), base)


# --- the geometry, as properties ----------------------------------------------------------------

latitudes = st.floats(min_value=-89.0, max_value=89.0)
longitudes = st.floats(min_value=-180.0, max_value=180.0)


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_and_not_negative(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    there = distance_metres(lat1, lon1, lat2, lon2)
    back = distance_metres(lat2, lon2, lat1, lon1)
    assert there == pytest.approx(back, abs=1e-6)
    assert 0.0 <= there <= math.pi * EARTH_RADIUS_METRES + 1e-6


def _destination(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    phi, lam, angle = math.radians(lat), math.radians(lon), metres / EARTH_RADIUS_METRES
    phi2 = math.asin(
        math.sin(phi) * math.cos(angle) + math.cos(phi) * math.sin(angle) * math.cos(bearing)
    )
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(phi),
        math.cos(angle) - math.sin(phi) * math.sin(phi2),
    )
    lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    return math.degrees(phi2), lon2


@given(
    latitudes,
    longitudes,
    st.floats(min_value=0.0, max_value=2 * math.pi),
    st.floats(min_value=0.0, max_value=RADIUS_METRES),
)
def test_the_bounding_box_holds_every_point_within_the_radius(
    lat: float, lon: float, bearing: float, metres: float
) -> None:
    """Also across the antimeridian and near the poles: the prefilter never loses a match."""
    lat2, lon2 = _destination(lat, lon, bearing, metres)
    assert distance_metres(lat, lon, lat2, lon2) == pytest.approx(metres, abs=1e-3)
    assert bounding_box(lat, lon, RADIUS_METRES).contains(lat2, lon2)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.floats(min_value=0.0, max_value=2 * math.pi),
    st.floats(min_value=150.0, max_value=250.0),
)
def test_suggested_if_and_only_if_within_200_m(
    session: Session, bearing: float, metres: float
) -> None:
    hint, (lat, lon) = _hint(), HUE
    base = _report(session, hint, lat=lat, lon=lon)
    lat2, lon2 = _destination(lat, lon, bearing, metres)
    other = _report(session, hint, lat=lat2, lon=lon2)
    within = distance_metres(lat, lon, lat2, lon2) <= RADIUS_METRES
    assert (other.tracking_code in _codes(session, base)) is within


# --- merge, in the domain ---------------------------------------------------------------------


def _stored(session: Session, reflection: Reflection) -> tuple[Any, ...]:
    """What a refusal must leave as it was."""
    session.expire_all()
    fresh = session.get(Reflection, reflection.id)
    assert fresh is not None
    history = session.exec(
        select(func.count()).where(HistoryEvent.reflection_id == reflection.id)
    ).one()
    messages = session.exec(
        select(func.count()).where(OutboxMessage.reflection_id == reflection.id)
    ).one()
    return fresh.state, fresh.version, fresh.rejection_reason, history, messages


def test_merge_rejects_the_duplicate_naming_the_original(session: Session) -> None:
    hint = _hint()
    original = _report(session, hint, lat=HUE[0], lon=HUE[1])
    email = f"{hint}@example.com"
    duplicate = _report(session, hint, lat=HUE[0], lon=HUE[1], email=email)
    assert duplicate.id is not None

    merged = merge(session, duplicate.id, original.tracking_code.lower(), COORDINATOR, None, 1)
    assert merged.version == 2
    assert merged.state is LifecycleState.REJECTED
    assert merged.rejection_reason == f"Trùng với phản ánh {original.tracking_code}"

    rows = timeline(session, duplicate.id)
    last = rows[-1]
    assert last.event is E.REJECT
    assert last.payload == {"duplicate_of": original.tracking_code}
    assert last.reason == merged.rejection_reason
    assert replay(rows).state is LifecycleState.REJECTED  # the audit's replay still holds

    message = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == duplicate.id, OutboxMessage.kind == "rejected"
        )
    ).one()
    assert message.recipient == email
    assert original.tracking_code in message.context["reason"]
    rendered = render(message.kind, message.language, message.context)
    assert f"trùng với phản ánh {original.tracking_code}" in rendered.sms  # in their language
    assert original.state is LifecycleState.RECEIVED  # the original is untouched


def test_a_given_reason_gets_the_originals_code(session: Session) -> None:
    hint = _hint()
    original = _report(session, hint, lat=HUE[0], lon=HUE[1])
    duplicate = _report(session, hint, lat=HUE[0], lon=HUE[1])
    assert duplicate.id is not None and original.id is not None
    merged = merge(session, duplicate.id, original.id, COORDINATOR, "Trùng phản ánh")
    assert (
        merged.rejection_reason == f"Trùng phản ánh (trùng với phản ánh {original.tracking_code})"
    )

    again = _report(session, hint)
    assert again.id is not None
    said = f"Đã có phản ánh {original.tracking_code}"
    assert merge(session, again.id, original.tracking_code, COORDINATOR, said).rejection_reason == (
        said
    )


def test_merge_refusals_change_nothing(session: Session) -> None:
    hint = _hint()
    original = _report(session, hint)
    duplicate = _report(session, hint, email=f"{hint}@example.com")
    gone = _report(session, hint)
    assert duplicate.id is not None and gone.id is not None
    apply_event(session, gone.id, E.REJECT, COORDINATOR, EventInput(reason="spam"))
    before = _stored(session, duplicate)
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({refs(session).unit_id}))

    refusals: list[tuple[str | int, Actor, int | None, type[Exception], str]] = [
        (duplicate.tracking_code, COORDINATOR, None, InvalidInput, "itself"),
        (gone.tracking_code, COORDINATOR, None, InvalidInput, "is rejected"),
        ("ZZZZ-ZZZZ", COORDINATOR, None, InvalidInput, "no reflection"),
        (original.tracking_code, handler, None, Forbidden, "handler"),
        (original.tracking_code, Actor(Role.ADMIN), None, Forbidden, "admin"),
        (original.tracking_code, COORDINATOR, 7, Conflict, "version"),
    ]
    for into, actor, version, error, words in refusals:
        with pytest.raises(error, match=words) as raised:
            merge(session, duplicate.id, into, actor, None, version)
        if isinstance(raised.value, InvalidInput):
            assert raised.value.field == "into"
        assert _stored(session, duplicate) == before


def test_duplicate_of_comes_only_with_reject(session: Session) -> None:
    hint = _hint()
    original = _report(session, hint)
    other = _report(session, hint)
    assert other.id is not None and original.id is not None
    r = refs(session)
    data = EventInput(
        category_id=r.category_id,
        priority=Priority.NORMAL,
        administrative_unit_id=r.administrative_unit_id,
        duplicate_of_id=original.id,
    )
    with pytest.raises(InvalidInput, match="only with reject"):
        apply_event(session, other.id, E.CLASSIFY, COORDINATOR, data)


# --- the REST API -----------------------------------------------------------------------------


def _post(client: TestClient, **body: Any) -> dict[str, Any]:
    where = {"administrative_unit": WARD, "latitude": HUE[0], "longitude": HUE[1]}
    return api_submit(client, **(where | body))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def test_api_lists_suggestions_for_coordinators_and_admins(client: TestClient) -> None:
    hint = _hint()
    base = _post(client, category_hint=hint)
    near = _post(client, category_hint=hint, latitude=_north(HUE[0], 120))
    _post(client, category_hint=_hint())
    url = f"/api/v1/reflections/{base['tracking_code']}/duplicates"

    for user in ("coordinator", "admin"):
        response = client.get(url, headers=as_user(client, user))
        assert response.status_code == 200, response.text
        [item] = response.json()
        assert item["tracking_code"] == near["tracking_code"]
        assert item["category"] == hint
        assert item["state"] == "received"
        assert item["distance_metres"] == pytest.approx(120, abs=0.5)
        assert item["days_apart"] == 0
        assert item["why"] == "120 m away; same ward, 0 days apart"
        assert item["description"] == near["reflection"]["description"]
        assert item["created_at"] == near["reflection"]["created_at"]

    for user in ("handler.phuxuan", "supervisor.ioc", "auditor", "operator"):
        problem = _problem(client.get(url, headers=as_user(client, user)), 403)
        assert "coordinator" in problem["detail"]
    _problem(client.get(url, headers=as_citizen(base["citizen_key"])), 403)
    _problem(client.get(url), 401)
    missing = "/api/v1/reflections/ZZZZ-ZZZZ/duplicates"
    _problem(client.get(missing, headers=as_user(client, "coordinator")), 404)


def _state(client: TestClient, code: str) -> tuple[Any, ...]:
    coordinator = as_user(client, "coordinator")
    seen = client.get(f"/api/v1/reflections/{code}", headers=coordinator).json()
    history = client.get(f"/api/v1/reflections/{code}/history", headers=coordinator).json()
    return seen["state"], seen["version"], seen["rejection_reason"], len(history)


def test_api_merge(client: TestClient, session: Session) -> None:
    hint = _hint()
    original = _post(client, category_hint=hint)["tracking_code"]
    duplicate = _post(
        client, category_hint=hint, contact={"name": "Lê Thị Hoa", "phone": "0905 222 333"}
    )["tracking_code"]
    coordinator = as_user(client, "coordinator")
    url = f"/api/v1/reflections/{duplicate}/merge"

    response = client.post(url, json={"into": original}, headers=coordinator | {"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    merged = response.json()
    assert response.headers["ETag"] == f'"{merged["version"]}"' == '"2"'
    assert merged["state"] == "rejected"
    assert merged["rejection_reason"] == f"Trùng với phản ánh {original}"
    history = client.get(f"/api/v1/reflections/{duplicate}/history", headers=coordinator).json()
    assert history[-1]["event"] == "reject"
    assert history[-1]["payload"] == {"duplicate_of": original}

    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == duplicate)).one()
    sms = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == reflection.id, OutboxMessage.kind == "rejected"
        )
    ).one()
    assert sms.channel == "sms"
    assert original in render(sms.kind, sms.language, sms.context).sms

    # merging into the one just merged is refused: it is rejected
    third = _post(client, category_hint=hint)["tracking_code"]
    problem = _problem(
        client.post(
            f"/api/v1/reflections/{third}/merge", json={"into": duplicate}, headers=coordinator
        ),
        422,
    )
    assert problem["errors"] == [
        {
            "field": "into",
            "reason": f"{duplicate} is rejected; merge into the reflection it stands for",
        }
    ]


def test_api_merge_refusals_change_nothing(client: TestClient) -> None:
    hint = _hint()
    original = _post(client, category_hint=hint)["tracking_code"]
    submitted = _post(client, category_hint=hint)
    duplicate = submitted["tracking_code"]
    url = f"/api/v1/reflections/{duplicate}/merge"
    coordinator = as_user(client, "coordinator")
    before = _state(client, duplicate)

    itself = _problem(client.post(url, json={"into": duplicate}, headers=coordinator), 422)
    assert itself["errors"][0]["field"] == "into"
    assert "itself" in itself["detail"]
    unknown = _problem(client.post(url, json={"into": "ZZZZ-ZZZZ"}, headers=coordinator), 422)
    assert unknown["errors"][0]["field"] == "into"
    for user in ("handler.phuxuan", "admin", "auditor"):
        refused = client.post(url, json={"into": original}, headers=as_user(client, user))
        assert "needs the role coordinator" in _problem(refused, 403)["detail"]
    citizen = as_citizen(submitted["citizen_key"])
    _problem(client.post(url, json={"into": original}, headers=citizen), 403)
    stale = coordinator | {"If-Match": '"5"'}
    conflict = _problem(client.post(url, json={"into": original}, headers=stale), 409)
    assert "version" in conflict["detail"]
    _problem(client.post(url, json={"into": original, "extra": 1}, headers=coordinator), 422)
    _problem(client.post(url, json={}, headers=coordinator), 422)
    missing = "/api/v1/reflections/ZZZZ-ZZZZ/merge"
    _problem(client.post(missing, json={"into": original}, headers=coordinator), 404)
    assert _state(client, duplicate) == before

    # a reflection already with a unit cannot be rejected, so not merged either
    steps = [
        (
            "classify",
            {"category": "urban_order", "priority": "normal", "administrative_unit": WARD},
        ),
        ("assign", {"handling_unit": "UBND.46.W19768"}),
    ]
    for action, body in steps:
        done = client.post(
            f"/api/v1/reflections/{duplicate}/{action}", json=body, headers=coordinator
        )
        assert done.status_code == 200, done.text
    late = _problem(client.post(url, json={"into": original}, headers=coordinator), 409)
    assert late["allowed_events"] and "reject" not in late["allowed_events"]
