"""Logging in as the seeded demo users and acting through HTTP."""

from typing import Any

from fastapi.testclient import TestClient

DEMO_PASSWORD = "demo-password"
_tokens: dict[str, str] = {}


def token(client: TestClient, username: str) -> str:
    if username not in _tokens:
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
