"""A reflection carried from submission to confirmation through HTTP, by each role's token."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.lifecycle import intake
from reflections.lifecycle.service import apply_event
from reflections.lifecycle.tracking import new_tracking_code
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent
from tests.api_helpers import as_citizen, as_user, every_item, submit

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
ENVIRONMENT_COMPANY = "HEPCO"


def act(
    client: TestClient, code: str, action: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    return dict(response.json())


def test_full_lifecycle_by_every_role(client: TestClient) -> None:
    submitted = submit(client, administrative_unit=WARD)
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    assert submitted["reflection"]["state"] == "received"
    coordinator = as_user(client, "coordinator")
    handler = as_user(client, "handler.phuxuan")
    citizen = as_citizen(key)

    queue = every_item(client, "/api/v1/inbox/coordinator", coordinator)
    assert code in [item["tracking_code"] for item in queue]

    seen = client.get(f"/api/v1/reflections/{code}", headers=coordinator).json()
    assert seen["allowed_events"] == ["classify", "reject", "note"]
    act(
        client,
        code,
        "classify",
        coordinator,
        category="urban_order",
        priority="normal",
        administrative_unit=WARD,
    )
    assigned = act(client, code, "assign", coordinator, handling_unit=WARD_COMMITTEE)
    assert assigned["handling_unit"]["code"] == WARD_COMMITTEE

    inbox = every_item(client, "/api/v1/inbox/handler", handler)
    mine = next(item for item in inbox if item["tracking_code"] == code)
    # No extension before the unit accepts: only the acceptance deadline runs then.
    assert mine["allowed_events"] == ["accept", "return", "note", "take"]
    act(client, code, "accept", handler)

    later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    requested = act(
        client, code, "extension/request", handler, reason="Chờ vật tư thay thế", new_due_at=later
    )
    assert requested["extension_pending"] is True
    granted = act(client, code, "extension/grant", coordinator, reason="Lý do hợp lý")
    assert granted["deadlines"]["process_due_at"] is not None
    assert granted["extension_pending"] is False

    processed = act(client, code, "process", handler, result="Đã dọn dẹp, trả lại vỉa hè")
    assert processed["state"] == "processed"
    assert processed["deadlines"]["confirm_due_at"] is not None

    followed = client.get(f"/api/v1/reflections/{code}", headers=citizen).json()
    assert followed["allowed_events"] == ["confirm", "reopen"]
    act(client, code, "reopen", citizen, reason="Vẫn còn lấn chiếm buổi tối")
    act(client, code, "process", handler, result="Đã xử phạt và yêu cầu cam kết")
    confirmed = act(client, code, "confirm", citizen, rating=4, comment="Cảm ơn phường")
    assert (confirmed["state"], confirmed["rating"]) == ("confirmed", 4)

    history = client.get(f"/api/v1/reflections/{code}/history", headers=citizen).json()
    assert [row["event"] for row in history] == [
        "submit",
        "classify",
        "assign",
        "accept",
        "request_extension",
        "grant_extension",
        "process",
        "reopen",
        "process",
        "confirm",
    ]
    assert [row["seq"] for row in history] == list(range(1, 11))
    # The citizen sees who acted as a unit and a role, never a username.
    assert history[3]["actor"] is None and history[3]["actor_role"] == "handler"
    assert history[3]["actor_unit"]["code"] == WARD_COMMITTEE
    staff_view = client.get(f"/api/v1/reflections/{code}/history", headers=coordinator).json()
    assert staff_view[3]["actor"] == "handler.phuxuan"
    assert "handler.phuxuan" not in str(history)
    assert history[5]["payload"]["new_due_at"].startswith(later[:16])
    mine_now = client.get("/api/v1/citizen/reflections", headers=citizen).json()["items"]
    assert [item["tracking_code"] for item in mine_now] == [code]


def test_return_reassign_send_back_and_escalate(client: TestClient) -> None:
    code = submit(client, administrative_unit=WARD)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    act(
        client,
        code,
        "classify",
        coordinator,
        category="waste_collection",
        priority="normal",
        administrative_unit=WARD,
    )
    act(client, code, "assign", coordinator, handling_unit=WARD_COMMITTEE)
    returned = act(
        client,
        code,
        "return",
        as_user(client, "handler.phuxuan"),
        reason="Thuộc trách nhiệm công ty môi trường",
        suggested_unit=ENVIRONMENT_COMPANY,
    )
    assert (returned["state"], returned["handling_unit"]) == ("classified", None)

    act(client, code, "assign", coordinator, handling_unit=ENVIRONMENT_COMPANY)
    hepco = as_user(client, "handler.hepco")
    act(client, code, "accept", hepco)
    supervisor = as_user(client, "supervisor.ioc")  # the province: every unit is under it
    escalated = act(client, code, "escalate", supervisor, reason="Quá hạn, nhiều phản ánh")
    assert escalated["escalation_level"] == 1
    escalations = every_item(client, "/api/v1/inbox/supervisor", supervisor)
    assert code in [item["tracking_code"] for item in escalations]

    act(client, code, "process", hepco, result="Đã thu gom")
    sent_back = act(client, code, "send-back", coordinator, reason="Ảnh cho thấy còn rác")
    assert (sent_back["state"], sent_back["assignment_stage"]) == ("assigned", "in_progress")
    reassigned = act(client, code, "reassign", supervisor, handling_unit=WARD_COMMITTEE)
    assert reassigned["assignment_stage"] == "awaiting_acceptance"
    assert reassigned["handling_unit"]["code"] == WARD_COMMITTEE


def test_reject_tells_why(client: TestClient) -> None:
    submitted = submit(client, description="Quảng cáo bán hàng")
    code = submitted["tracking_code"]
    act(client, code, "reject", as_user(client, "coordinator"), reason="Không thuộc phạm vi")
    seen = client.get(f"/api/v1/reflections/{code}", headers=as_citizen(submitted["citizen_key"]))
    assert seen.json()["state"] == "rejected"
    assert seen.json()["rejection_reason"] == "Không thuộc phạm vi"


def test_returning_citizen_keeps_one_key(client: TestClient) -> None:
    first = submit(client)
    second = client.post(
        "/api/v1/reflections",
        json={"description": "Cống thoát nước bị tắc", "address": "5 Hùng Vương"},
        headers=as_citizen(first["citizen_key"]),
    ).json()
    assert second["citizen_key"] == first["citizen_key"]
    listed = client.get("/api/v1/citizen/reflections", headers=as_citizen(first["citizen_key"]))
    codes = [item["tracking_code"] for item in listed.json()["items"]]
    assert codes == [second["tracking_code"], first["tracking_code"]]  # newest first


def test_escalation_reaches_the_supervisors_of_the_level_above(
    client: TestClient, session: Session
) -> None:
    """Not yet assigned, overdue: the city's supervisors see it, the ward's do not."""
    code = submit(client, administrative_unit=WARD)["tracking_code"]
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert reflection.id is not None
    apply_event(session, reflection.id, LifecycleEvent.ESCALATE, Actor.system())
    city = as_user(client, "supervisor.ioc")
    inbox = every_item(client, "/api/v1/inbox/supervisor", city)
    mine = next(item for item in inbox if item["tracking_code"] == code)
    assert (mine["escalation_level"], mine["escalated_to"]["code"]) == (1, "46")
    ward = as_user(client, "supervisor.phuxuan")
    ward_inbox = every_item(client, "/api/v1/inbox/supervisor", ward)
    assert code not in [item["tracking_code"] for item in ward_inbox]
    assert client.get(f"/api/v1/reflections/{code}", headers=ward).status_code == 404


def test_a_tracking_code_already_taken_is_drawn_again(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code is checked by the INSERT itself: a draw that hits a taken code writes nothing
    and another is drawn, and the first reflection keeps its code and its text."""
    first = submit(client)
    fresh = new_tracking_code()
    draws = iter([first["tracking_code"], first["tracking_code"], fresh])
    monkeypatch.setattr(intake, "new_tracking_code", lambda: next(draws))
    second = submit(client, description="Cây đổ chắn ngang đường")
    assert second["tracking_code"] == fresh
    rows = session.exec(
        select(Reflection).where(col(Reflection.tracking_code).in_([first["tracking_code"], fresh]))
    ).all()
    assert sorted((r.tracking_code, r.description) for r in rows) == sorted(
        [
            (first["tracking_code"], first["reflection"]["description"]),
            (fresh, "Cây đổ chắn ngang đường"),
        ]
    )
