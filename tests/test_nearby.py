"""Nearby published reflections and "same problem? follow it" (issue 16, item 2): only what a
coordinator published shows, of the same category, within 300 m; following adds the citizen
as a follower, who then hears of the original's result; refusals change nothing."""

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from reflections.models import Follower, OutboxMessage, Reflection, Reporter
from tests.abuse_helpers import Limits, client_from, new_ip, switch_limits
from tests.api_helpers import as_citizen, as_user, submit
from tests.test_citizen_sign_in import e164, new_phone, sign_in_with

NEARBY = "/api/v1/public/nearby"
WARD = "46.W19768"
WARD_COMMITTEE = "UBND.46.W19768"


@pytest.fixture
def limits_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Limits]:
    yield from switch_limits(monkeypatch)


def spot() -> tuple[float, float]:
    """A point in Huế no other test uses (random, 6 decimals)."""
    return round(16.40 + random.random() * 0.1, 6), round(107.50 + random.random() * 0.1, 6)


def filed(
    client: TestClient,
    at: tuple[float, float],
    *,
    category: str = "street_lighting",
    publish: bool = True,
    phone: str | None = None,
    description: str = "Đèn đường hỏng, cả đoạn tối om",
) -> str:
    """A reflection at ``at``, classified (and published, unless told not to)."""
    contact = {"name": "Trần Văn Bình", "phone": phone or new_phone()}
    code = str(
        submit(
            client,
            description=description,
            latitude=at[0],
            longitude=at[1],
            administrative_unit=WARD,
            contact=contact,
        )["tracking_code"]
    )
    answer = client.post(
        f"/api/v1/reflections/{code}/classify",
        headers=as_user(client, "coordinator"),
        json={
            "category": category,
            "priority": "normal",
            "administrative_unit": WARD,
            "publish": publish,
        },
    )
    assert answer.status_code == 200, answer.text
    return code


def near(client: TestClient, at: tuple[float, float], category: str) -> list[dict[str, Any]]:
    answer = client.get(NEARBY, params={"lat": at[0], "lon": at[1], "category": category})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def moved(at: tuple[float, float], north_m: float) -> tuple[float, float]:
    return round(at[0] + north_m / 111_195, 6), at[1]


def followers(session: Session, code: str) -> int:
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    return int(
        session.exec(
            select(func.count())
            .select_from(Follower)
            .where(Follower.reflection_id == reflection.id)
        ).one()
    )


def test_nearby_shows_published_open_reflections_of_the_category_only(
    client: TestClient,
) -> None:
    here = spot()
    published = filed(client, moved(here, 120))
    unpublished = filed(client, moved(here, 40), publish=False)
    other_category = filed(client, moved(here, 60), category="waste_collection")
    far = filed(client, moved(here, 900))

    items = near(client, here, "street_lighting")
    codes = [item["tracking_code"] for item in items]
    assert published in codes
    assert unpublished not in codes  # next door, but not published: never shows
    assert other_category not in codes and far not in codes
    [mine] = [item for item in items if item["tracking_code"] == published]
    assert 0 < mine["distance_m"] <= 300
    # rounded to 3 decimals, nothing personal
    assert mine["latitude"] == round(mine["latitude"], 3)
    assert "Trần Văn Bình" not in str(items) and "contact" not in str(items)
    assert len(items) <= 10
    assert other_category in [i["tracking_code"] for i in near(client, here, "waste_collection")]
    assert near(client, here, "no_such_category") == []


@pytest.mark.parametrize(
    "params",
    [
        {"lat": "91", "lon": "107.5", "category": "street_lighting"},
        {"lat": "16.4", "lon": "-181", "category": "street_lighting"},
        {"lat": "abc", "lon": "107.5", "category": "street_lighting"},
        {"lat": "nan", "lon": "107.5", "category": "street_lighting"},
        {"lat": "16.4", "lon": "107.5"},
        {"lat": "16.4", "lon": "107.5", "category": ""},
    ],
)
def test_bad_coordinates_or_category_are_a_422_problem(
    client: TestClient, params: dict[str, str]
) -> None:
    answer = client.get(NEARBY, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_following_by_contact_then_the_original_is_processed_tells_the_follower(
    client: TestClient, session: Session
) -> None:
    code = filed(client, spot())
    phone = new_phone()
    url = f"/api/v1/public/reflections/{code}/followers"
    answer = client.post(url, json={"contact": phone}, headers={"Idempotency-Key": "f" * 32})
    assert answer.status_code == 201, answer.text
    again = client.post(url, json={"contact": phone}, headers={"Idempotency-Key": "f" * 32})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    spelled_otherwise = client.post(url, json={"contact": e164(phone)})  # a new click
    assert spelled_otherwise.status_code == 201
    assert followers(session, code) == 1  # the same contact follows once

    coordinator = as_user(client, "coordinator")
    handler = as_user(client, "handler.phuxuan")
    steps = [
        ("assign", coordinator, {"handling_unit": WARD_COMMITTEE}),
        ("accept", handler, {}),
        ("process", handler, {"result": "Đã thay bóng đèn"}),
    ]
    for action, headers, body in steps:
        done = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
        assert done.status_code == 200, done.text
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    told = session.exec(
        select(OutboxMessage.recipient).where(
            OutboxMessage.reflection_id == reflection.id, OutboxMessage.kind == "processed"
        )
    ).all()
    assert e164(phone) in told


def test_following_with_a_citizen_key_or_a_sign_in_session(
    client: TestClient, session: Session
) -> None:
    code = filed(client, spot())
    url = f"/api/v1/public/reflections/{code}/followers"
    mine = submit(client, contact={"phone": new_phone()})
    by_key = client.post(url, json={}, headers=as_citizen(mine["citizen_key"]))
    assert by_key.status_code == 201, by_key.text
    phone = new_phone()
    submit(client, contact={"phone": phone})
    token = sign_in_with(client, session, phone)
    by_session = client.post(url, json={}, headers=as_citizen(token))
    assert by_session.status_code == 201, by_session.text
    assert followers(session, code) == 2
    # A key whose report left no contact: asked for one, nothing written.
    nameless = submit(client, contact=None)
    refused = client.post(url, json={}, headers=as_citizen(nameless["citizen_key"]))
    assert refused.status_code == 422 and "contact" in refused.text
    assert followers(session, code) == 2


def test_follow_refusals_change_nothing(client: TestClient, session: Session) -> None:
    hidden = filed(client, spot(), publish=False)
    for code in ("HUE-NO-SUCH", hidden):
        answer = client.post(
            f"/api/v1/public/reflections/{code}/followers", json={"contact": new_phone()}
        )
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert followers(session, hidden) == 0
    shown = filed(client, spot())
    url = f"/api/v1/public/reflections/{shown}/followers"
    for body in ({}, {"contact": "not a contact"}, {"contact": "x" * 300}):
        assert client.post(url, json=body).status_code == 422
    assert followers(session, shown) == 0


def test_follows_are_rate_limited_like_submissions(
    app: FastAPI, client: TestClient, session: Session, limits_on: Limits
) -> None:
    code = filed(client, spot())
    limits_on(submissions_per_ip="2/hour")
    browser = client_from(app, new_ip())
    url = f"/api/v1/public/reflections/{code}/followers"
    for _ in range(2):
        assert browser.post(url, json={"contact": new_phone()}).status_code == 201
    turned_away = new_phone()
    refused = browser.post(url, json={"contact": turned_away})
    assert refused.status_code == 429, refused.text
    assert followers(session, code) == 2
    assert (
        session.exec(select(Reporter).where(Reporter.phone_e164 == e164(turned_away))).all() == []
    )


def test_an_unpublished_reflection_leaves_nearby_and_the_map(
    client: TestClient, browser_client: TestClient
) -> None:
    here = spot()
    code = filed(client, here)
    assert code in [i["tracking_code"] for i in near(client, here, "street_lighting")]
    assert f'data-tracking-code="{code}"' in browser_client.get("/map").text
    taken_back = client.post(
        f"/api/v1/reflections/{code}/unpublish", headers=as_user(client, "coordinator")
    )
    assert taken_back.status_code == 200, taken_back.text
    assert code not in [i["tracking_code"] for i in near(client, here, "street_lighting")]
    assert f'data-tracking-code="{code}"' not in browser_client.get("/map").text
    refused = client.post(
        f"/api/v1/public/reflections/{code}/followers", json={"contact": new_phone()}
    )
    assert refused.status_code == 404


@pytest.fixture
def browser_client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)
