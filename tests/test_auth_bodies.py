"""401 and 403 bodies say what to do, in our words: no JWT or validation library's message."""

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api_helpers import as_user, submit
from tests.web.console_helpers import staff

LIBRARY_WORDS = (
    "Signature",
    "segments",
    "decode",
    "Expecting",
    "pydantic",
    "jwt",
    "JWT",
    "Traceback",
)


def _forged() -> str:
    return jwt.encode({"sub": "1", "exp": 4102444800}, "not-the-server-secret-but-long-enough-32b")


@pytest.mark.parametrize(
    "token", ["not.a.token", "x" * 5000, "eyJhbGciOiJIUzI1NiJ9.e30.", "FORGED"]
)
def test_a_bad_token_is_a_401_that_says_to_log_in(client: TestClient, token: str) -> None:
    token = _forged() if token == "FORGED" else token
    response = client.get("/api/v1/inbox/coordinator", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    body = response.json()
    assert body["detail"] == "the token is not valid: log in again"
    assert "POST /api/v1/auth/token" in body["what_to_do"]
    assert not [word for word in LIBRARY_WORDS if word in response.text]


def test_no_credentials_is_a_401_that_says_how(client: TestClient) -> None:
    response = client.get("/api/v1/inbox/coordinator")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "X-Citizen-Key" in response.json()["what_to_do"]


def test_a_403_says_who_may(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    refused = [
        client.post(
            f"/api/v1/reflections/{code}/reject",
            headers=as_user(client, "auditor"),
            json={"reason": "Không phải việc của tôi"},
        ),
        client.get("/api/v1/admin/users", headers=as_user(client, "coordinator")),
    ]
    for response in refused:
        assert response.status_code == 403
        assert "coordinator or an administrator" in response.json()["what_to_do"]
        assert not [word for word in LIBRARY_WORDS if word in response.text]


def test_the_pages_say_it_in_both_languages(app: FastAPI) -> None:
    for language, words in (("vi", "liên hệ điều phối viên"), ("en", "ask a coordinator")):
        with staff(app, "handler.phuxuan") as browser:
            browser.get(f"/language/{language}")
            page = browser.get("/console/admin/canned-texts")
            assert page.status_code == 403
            assert words in page.text, language
