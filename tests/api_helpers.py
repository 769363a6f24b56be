"""Logging in as the seeded demo users and acting through HTTP."""

from typing import Any

import jwt
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from reflections.models import User
from reflections.platform.db import get_engine

DEMO_PASSWORD = "demo-password"
_tokens: dict[str, str] = {}


def _still_valid(username: str, token: str) -> bool:
    """A cached token stays good until a test logs the user out (or changes their password
    or role): that ends every token of theirs, this one included (issue 13)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    with Session(get_engine()) as session:
        generation = session.exec(
            select(User.token_generation).where(User.username == username)
        ).first()
    return claims.get("gen") == generation


def token(client: TestClient, username: str) -> str:
    if username not in _tokens or not _still_valid(username, _tokens[username]):
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        _tokens[username] = response.json()["access_token"]
    return _tokens[username]


def as_user(client: TestClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, username)}"}


def as_citizen(key: str) -> dict[str, str]:
    return {"X-Citizen-Key": key}


def submit(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Đèn đường hỏng trước số 12 Lê Lợi, cả đoạn tối om",
        "address": "12 Lê Lợi, Phú Xuân, Huế",
        "contact": {
            "name": "Nguyễn Văn An",
            "phone": "0905 123 456",
            "email": "an.nguyen@example.com",
        },
    }
    body |= overrides
    response = client.post("/api/v1/reflections", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def pages(client: TestClient, path: str, headers: dict[str, str]) -> list[Response]:
    """Every page of a paged list, 200 items each: the session's database is shared, so a
    reflection a test just made may sit past the first page of a queue."""
    answers: list[Response] = []
    cursor: str | None = None
    for _ in range(100):
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        answers.append(client.get(path, params=params, headers=headers))
        assert answers[-1].status_code == 200, answers[-1].text
        cursor = answers[-1].json()["next_cursor"]
        if cursor is None:
            return answers
    raise AssertionError(f"{path}: more than 100 pages")


def every_item(client: TestClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paged list (:func:`pages`)."""
    return [item for page in pages(client, path, headers) for item in page.json()["items"]]
