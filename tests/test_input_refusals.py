"""No 500 from input: forged cursors, huge If-Match values, client-chosen citizen keys, NUL
characters and LIKE wildcards are refused (4xx) or taken literally, and nothing changes."""

import base64
import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from reflections.models import Reflection
from reflections.organisation.auth import create_api_key
from tests.api_helpers import as_user, submit

WARD = "46.W19768"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


FORGED = [
    _cursor("2026-01-01T00:00:00+00:00|99999999999999999999999"),  # beyond any id column
    _cursor("2026-01-01T00:00:00+00:00|-1"),
    _cursor("2026-01-01T00:00:00+00:00|" + "9" * 5000),
    _cursor("0#2026-01-01T00:00:00+00:00|99999999999999999999"),
    _cursor("99999999999#2026-01-01T00:00:00+00:00|1"),
    _cursor("2026-01-01T00:00:00|1"),  # naive
    "!!not-base64!!",
]


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(Reflection)).one())


@pytest.mark.parametrize("cursor", FORGED)
def test_a_forged_cursor_is_a_422_everywhere(client: TestClient, cursor: str) -> None:
    coordinator = as_user(client, "coordinator")
    for url, headers in [
        ("/api/v1/public/results", {}),
        ("/api/v1/inbox/coordinator", coordinator),
        ("/api/v1/reflections", coordinator),
    ]:
        response = client.get(url, params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "cursor" in response.text
    page = client.get("/results", params={"cursor": cursor})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")


def test_the_results_page_answers_its_errors_in_html(client: TestClient) -> None:
    for params in ({"ward": "x" * 65}, {"category": "y" * 100}, {"cursor": "z" * 300}):
        page = client.get("/results", params=params)
        assert page.status_code == 422, params
        assert page.headers["content-type"].startswith("text/html")
        assert "<html" in page.text and "Traceback" not in page.text


@pytest.mark.parametrize("if_match", ["9" * 5000, '"' + "1" * 30 + '"', "1e3", 'W/"-1"'])
def test_a_huge_or_strange_if_match_is_a_422(
    client: TestClient, session: Session, if_match: str
) -> None:
    code = submit(client, administrative_unit=WARD)["tracking_code"]
    response = client.post(
        f"/api/v1/reflections/{code}/reject",
        headers=as_user(client, "coordinator") | {"If-Match": if_match},
        json={"reason": "Không thuộc thẩm quyền"},
    )
    assert response.status_code == 422 and "If-Match" in response.text
    session.expire_all()
    row = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert (row.state, row.version) == ("received", 1)  # nothing changed


def test_a_client_chosen_citizen_key_is_refused(client: TestClient, session: Session) -> None:
    before = _count(session)
    response = client.post(
        "/api/v1/reflections",
        headers={"X-Citizen-Key": "my-own-easy-key"},
        json={"description": "Ổ gà trên đường", "administrative_unit": WARD},
    )
    assert response.status_code == 403
    assert "X-Citizen-Key" in response.json()["detail"]
    assert _count(session) == before
    # A key the service gave out is still the citizen's one key for every reflection.
    first = submit(client, administrative_unit=WARD)
    again = client.post(
        "/api/v1/reflections",
        headers={"X-Citizen-Key": first["citizen_key"]},
        json={"description": "Thêm một ổ gà", "administrative_unit": WARD},
    )
    assert again.status_code == 201 and again.json()["citizen_key"] == first["citizen_key"]


def test_nul_characters_are_refused_on_every_database(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    before = _count(session)
    caplog.set_level(logging.ERROR)
    stored = client.post(
        "/api/v1/reflections", json={"description": "Ổ gà\x00", "administrative_unit": WARD}
    )
    assert stored.status_code == 422
    assert stored.json()["errors"] == [{"field": "description", "reason": "holds a NUL character"}]
    searched = client.get(
        "/api/v1/reflections", params={"q": "ổ\x00gà"}, headers=as_user(client, "coordinator")
    )
    assert searched.status_code == 422 and searched.json()["errors"][0]["field"] == "q"
    assert client.get("/results", params={"ward": "a\x00"}).status_code == 422
    coordinator = as_user(client, "coordinator")
    for query in ("q%00=x", "state=received&q=a%00b"):  # a name, a later value
        refused = client.get(f"/api/v1/reflections?{query}", headers=coordinator)
        assert refused.status_code == 422, query
    path = client.get("/api/v1/reflections/RF%00X", headers=coordinator)
    assert path.status_code == 422 and path.json()["errors"][0]["field"] == "path"
    assert _count(session) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_nul_in_an_events_text_is_refused_and_writes_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The event's history row is written without the ORM (issue 18): its text is checked
    where it is written, alike on both databases."""
    code = submit(client, administrative_unit=WARD)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    caplog.set_level(logging.ERROR)
    refused = client.post(
        f"/api/v1/reflections/{code}/notes", headers=coordinator, json={"text": "gọi lại\x00"}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "reason", "reason": "holds a NUL character"}]
    history = client.get(f"/api/v1/reflections/{code}/history", headers=coordinator).json()
    assert [row["event"] for row in history] == ["submit"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_like_wildcards_in_q_are_taken_literally(client: TestClient) -> None:
    coordinator = as_user(client, "coordinator")
    code = submit(client, description="Giảm 50_% giá vé xe buýt?", administrative_unit=WARD)[
        "tracking_code"
    ]
    for q, found in (("50_%", True), ("%", True), ("_", True), ("5%0", False), ("5_", False)):
        items = client.get(
            "/api/v1/reflections", params={"q": q, "limit": 200}, headers=coordinator
        ).json()["items"]
        assert (code in {i["tracking_code"] for i in items}) is found, q


def test_url_fields_take_only_http_and_https(client: TestClient, session: Session) -> None:
    _, key = create_api_key(session, f"urls-{uuid.uuid4().hex[:8]}")
    before = _count(session)
    for url in ("javascript:alert(1)", "data:text/html,<script>1</script>", "ftp://x/y", "//x"):
        response = client.post(
            "/open311/v2/requests.json",
            data={
                "api_key": key,
                "service_code": "urban_order",
                "address_id": WARD,
                "media_url": url,
            },
        )
        assert response.status_code == 400, url
        assert "media_url" in response.text
    assert _count(session) == before
