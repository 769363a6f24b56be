"""Switching the abuse limits on for one test (the suite runs with them off, conftest.py), and
fresh contacts and addresses so tests never share a counter."""

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from reflections.models import OutboxMessage, Reflection, Reporter
from reflections.platform.settings import get_settings

Limits = Callable[..., None]


def switch_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Limits]:
    """For a test module's ``limits_on`` fixture: ``limits_on(submissions_per_ip="3/hour")``
    switches the limits on with these settings, until the test ends."""

    def switch(**settings: Any) -> None:
        monkeypatch.setenv("REFLECTIONS_ABUSE_LIMITS", "true")
        for name, value in settings.items():
            monkeypatch.setenv(f"REFLECTIONS_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield switch
    monkeypatch.undo()
    get_settings.cache_clear()


def new_phone() -> str:
    """A Vietnamese mobile number no other test names (E.164)."""
    return f"+8490{random.randrange(10**7):07d}"


def new_email() -> str:
    return f"abuse-{random.randrange(10**9)}@example.com"


def new_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def client_from(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000), follow_redirects=False)


def body(phone: str | None = None, email: str | None = None, **contact: Any) -> dict[str, Any]:
    return {
        "description": "Rác thải tồn đọng trước số 3 Hùng Vương",
        "address": "3 Hùng Vương, Phú Xuân, Huế",
        "contact": {"phone": phone, "email": email} | contact,
    }


def counts(session: Session, address: str) -> tuple[int, int]:
    """Reflections whose reporter left this phone (E.164) or email, and messages to it:
    what a refusal must leave unchanged (other tests write beside us)."""
    session.expire_all()
    reporters = select(Reporter.id).where(
        (col(Reporter.phone_e164) == address) | (col(Reporter.email) == address)
    )
    reflections = session.exec(
        select(func.count())
        .select_from(Reflection)
        .where(col(Reflection.reporter_id).in_(reporters))
    ).one()
    messages = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.recipient) == address)
    ).one()
    return int(reflections), int(messages)
