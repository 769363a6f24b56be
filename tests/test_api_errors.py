"""Bad input and refusals answer 4xx problem+json, never 500, and lose nothing stored."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.lifecycle.photos import clean
from reflections.models import User
from reflections.platform import clock
from tests.api_helpers import DEMO_PASSWORD, as_citizen, as_user, submit

# A 1×1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def assert_problem(response: object, status: int, field: str | None = None) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body
    return dict(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "Ổ gà", "address": "x", "colour": "red"}, "colour"),
        ({"description": "Ổ gà", "latitude": 16.46}, "location"),
        ({"description": "Ổ gà", "latitude": 95, "longitude": 107.6}, "latitude"),
        ({"description": "Ổ gà"}, "location"),
        (
            {"description": "Ổ gà", "address": "x", "administrative_unit": "99.W1"},
            "administrative_unit",
        ),
        ({"description": "Ổ gà", "address": "x", "contact": {"phone": "12"}}, "contact.phone"),
        (
            {"description": "Ổ gà", "address": "x", "contact": {"email": "not-an-email"}},
            "contact.email",
        ),
        (
            {"description": "Ổ gà", "address": "x", "contact": {"channels": ["fax"]}},
            "contact.channels.0",
        ),
    ],
)
def test_invalid_submission_names_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    assert_problem(client.post("/api/v1/reflections", json=body), 422, field)


def test_phone_is_stored_in_e164(client: TestClient) -> None:
    code = submit(client, contact={"phone": "0905 123 456"})["tracking_code"]
    seen = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator"))
    assert seen.json()["reporter"]["phone"] == "+84905123456"


def test_event_not_allowed_names_state_and_allowed_events(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    response = client.post(
        f"/api/v1/reflections/{code}/assign",
        headers=as_user(client, "coordinator"),
        json={"handling_unit": "HEPCO"},
    )
    body = assert_problem(response, 409)
    assert body["state"] == "received"
    allowed = ["classify", "reject", "remind", "escalate", "note", "add_info"]  # the chart's
    assert body["allowed_events"] == allowed
    assert "received" in str(body["detail"])


def test_stale_if_match_is_a_conflict_and_changes_nothing(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    stale = {**coordinator, "If-Match": '"7"'}
    assert_problem(
        client.post(f"/api/v1/reflections/{code}/reject", headers=stale, json={"reason": "spam"}),
        409,
    )
    garbled = {**coordinator, "If-Match": "yesterday"}
    assert_problem(
        client.post(f"/api/v1/reflections/{code}/reject", headers=garbled, json={"reason": "spam"}),
        422,
        "If-Match",
    )
    current = {**coordinator, "If-Match": '"1"'}
    ok = client.post(f"/api/v1/reflections/{code}/reject", headers=current, json={"reason": "spam"})
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"2"'


def test_unknown_codes_in_actions_are_422(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    response = client.post(
        f"/api/v1/reflections/{code}/classify",
        headers=as_user(client, "coordinator"),
        json={"category": "no_such", "priority": "normal", "administrative_unit": "46.W19768"},
    )
    assert_problem(response, 422, "category")
    assert (
        client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator")).json()[
            "state"
        ]
        == "received"
    )


def test_missing_reason_is_422(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    response = client.post(
        f"/api/v1/reflections/{code}/reject",
        headers=as_user(client, "coordinator"),
        json={"reason": "   "},
    )
    assert_problem(response, 422, "reason")


def test_unknown_reflection_is_404(client: TestClient) -> None:
    assert_problem(
        client.get("/api/v1/reflections/ZZZZ-ZZZZ", headers=as_user(client, "coordinator")), 404
    )


def test_wrong_password_expired_token_and_disabled_user(
    client: TestClient, session: Session
) -> None:
    wrong = client.post("/api/v1/auth/token", data={"username": "auditor", "password": "nope"})
    assert_problem(wrong, 401)
    token = client.post(
        "/api/v1/auth/token", data={"username": "auditor", "password": DEMO_PASSWORD}
    ).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    with clock.frozen_at(datetime.now(UTC) + timedelta(seconds=token["expires_in"] + 1)):
        assert_problem(client.get("/api/v1/auth/me", headers=bearer), 401)
    auditor = session.exec(select(User).where(User.username == "auditor")).one()
    auditor.disabled = True
    session.add(auditor)
    session.commit()
    try:
        assert_problem(client.get("/api/v1/auth/me", headers=bearer), 401)
        assert_problem(
            client.post(
                "/api/v1/auth/token", data={"username": "auditor", "password": DEMO_PASSWORD}
            ),
            401,
        )
    finally:
        auditor.disabled = False
        session.add(auditor)
        session.commit()


def test_oversized_body_is_413(client: TestClient) -> None:
    huge = {"description": "x" * 300_000, "address": "y"}
    assert_problem(client.post("/api/v1/reflections", json=huge), 413)


def test_photos_are_sniffed_stored_and_served(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Cây đổ chắn đường", "address": "Lê Duẩn"},
        files=[
            ("photos", ("cay.png", PNG, "image/png")),
            ("photos", ("same.png", PNG, "image/png")),
        ],
    )
    assert response.status_code == 201, response.text
    out = response.json()
    photos = out["reflection"]["photos"]
    assert len(photos) == 1  # the same bytes are stored once
    served = client.get(
        f"/api/v1/reflections/{out['tracking_code']}/photos/{photos[0]}",
        headers=as_citizen(out["citizen_key"]),
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == clean(PNG).content  # only its pixels, encoded again
    assert served.headers["x-content-type-options"] == "nosniff"
    assert_problem(
        client.get(
            f"/api/v1/reflections/{out['tracking_code']}/photos/{photos[0]}",
            headers=as_citizen("someone-else"),
        ),
        404,
    )


def test_a_renamed_text_file_is_not_a_photo(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Ảnh giả", "address": "Lê Duẩn"},
        files=[("photos", ("photo.jpg", b"<script>alert(1)</script>", "image/jpeg"))],
    )
    assert_problem(response, 422, "photos[0]")


def test_too_many_photos(client: TestClient) -> None:
    files = [("photos", (f"{i}.png", PNG + bytes([i]), "image/png")) for i in range(6)]
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Nhiều ảnh", "address": "Lê Duẩn"},
        files=files,
    )
    assert_problem(response, 422, "photos")


def test_keyset_pages_cover_everything_once(client: TestClient) -> None:
    marker = uuid.uuid4().hex[:10]
    codes = {
        submit(client, description=f"Phản ánh {marker} số {i}")["tracking_code"] for i in range(5)
    }
    seen: list[str] = []
    cursor = None
    coordinator = as_user(client, "coordinator")
    while True:
        params = {"q": marker, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/reflections", params=params, headers=coordinator).json()
        seen += [item["tracking_code"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(codes)
    assert_problem(
        client.get("/api/v1/reflections", params={"cursor": "garbage"}, headers=coordinator),
        422,
        "cursor",
    )


def test_health_checks_the_database(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "post",
            "/api/v1/reflections",
            {"json": {"description": "x", "address": "y", "administrative_unit": "\u0000"}},
        ),
        ("post", "/api/v1/auth/token", {"data": {"username": "a\u0000", "password": "b"}}),
    ],
)
def test_text_the_database_cannot_store_is_422(
    client: TestClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    """PostgreSQL refuses NUL bytes that SQLite would keep: both answer 422, never 500."""
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code in (401, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_instants_without_a_time_zone_are_422(client: TestClient) -> None:
    coordinator = as_user(client, "coordinator")
    search = client.get(
        "/api/v1/reflections", params={"created_from": "2026-01-01T00:00:00"}, headers=coordinator
    )
    assert_problem(search, 422, "created_from")
    too_late = client.get(  # past the last instant once made UTC
        "/api/v1/reflections",
        params={"created_from": "9999-12-31T23:00:00-05:00"},
        headers=coordinator,
    )
    assert_problem(too_late, 422, "created_from")
    code = submit(client)["tracking_code"]
    client.post(
        f"/api/v1/reflections/{code}/classify",
        headers=coordinator,
        json={"category": "urban_order", "priority": "normal", "administrative_unit": "46.W19768"},
    )
    client.post(
        f"/api/v1/reflections/{code}/assign",
        headers=coordinator,
        json={"handling_unit": "UBND.46.W19768"},
    )
    handler = as_user(client, "handler.phuxuan")
    client.post(f"/api/v1/reflections/{code}/accept", headers=handler, json={})
    naive = client.post(
        f"/api/v1/reflections/{code}/extension/request",
        headers=handler,
        json={"reason": "chờ vật tư", "new_due_at": "2027-01-01T17:00:00"},
    )
    assert_problem(naive, 422, "new_due_at")
