"""Security headers on pages and API answers alike, no-store on what is personal, and CORS only
for Open311 reads (a browser on another site may read Open311, nothing else)."""

from collections.abc import Mapping

import pytest
from fastapi.testclient import TestClient

from api.security import is_public
from reflections.platform.settings import get_settings
from tests.api_helpers import as_user, submit

EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
OTHER_SITE = {"Origin": "https://app.example.org"}


def _common(headers: Mapping[str, str]) -> None:
    for name, value in EVERYWHERE.items():
        assert headers.get(name) == value, name
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize(
    "path", ["/", "/submit", "/results", "/login", "/api/v1/public/results", "/nope"]
)
def test_every_answer_carries_the_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    _common(response.headers)
    assert "strict-transport-security" not in response.headers  # the public URL is http here


def test_hsts_when_the_public_url_is_https(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "public_url", "https://phananh.hue.gov.vn")
    response = client.get("/results")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_the_map_may_load_its_tiles_and_nothing_else_from_elsewhere(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiles = "https://tiles.hue.gov.vn:8443/osm/{z}/{x}/{y}.png"
    monkeypatch.setattr(get_settings(), "map_tiles_url", tiles)
    policy = client.get("/submit").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tiles.hue.gov.vn:8443;" in policy
    assert policy.count("tiles.hue.gov.vn") == 1  # images only: no script, style or connect


def test_staff_pages_and_personal_data_are_not_stored(client: TestClient) -> None:
    submitted = submit(client)
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    coordinator = as_user(client, "coordinator")
    personal = [
        client.get(f"/api/v1/reflections/{code}", headers=coordinator),
        client.get(f"/api/v1/reflections/{code}", headers={"X-Citizen-Key": key}),
        client.get("/api/v1/inbox/coordinator", headers=coordinator),
        client.get("/login"),
        client.get("/console", follow_redirects=False),
    ]
    for response in personal:
        assert response.headers["cache-control"] == "no-store", response.url
        _common(response.headers)
    public = client.get("/api/v1/public/results")
    assert public.headers.get("cache-control") != "no-store"
    assert is_public("/open311/v2/requests.json") and not is_public("/console/queue")


def test_open311_reads_are_open_to_other_sites(client: TestClient) -> None:
    read = client.get("/open311/v2/services.json", headers=OTHER_SITE)
    assert read.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/open311/v2/requests.json",
        headers=OTHER_SITE | {"Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD"


def test_nothing_else_is_open_to_other_sites(client: TestClient) -> None:
    refused = [
        client.get("/api/v1/public/results", headers=OTHER_SITE),
        client.get("/results", headers=OTHER_SITE),
        client.post("/open311/v2/requests.json", headers=OTHER_SITE, data={}),
        client.options(
            "/open311/v2/requests.json",
            headers=OTHER_SITE | {"Access-Control-Request-Method": "POST"},
        ),
        client.options(
            "/api/v1/reflections", headers=OTHER_SITE | {"Access-Control-Request-Method": "POST"}
        ),
    ]
    for response in refused:
        assert "access-control-allow-origin" not in response.headers, response.url
        assert response.status_code != 204


def test_docs_get_their_own_policy(client: TestClient) -> None:
    docs = client.get("/docs")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
