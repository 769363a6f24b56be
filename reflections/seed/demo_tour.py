"""One reflection through every lifecycle step that sends a message, and one rejected, so a
demo with real channels shows each Vietnamese message once (DESIGN.md §6).

The steps happen in the past on the shared clock (each a few working hours after the last),
so the reminder and the escalation come when the deadlines say, through the same service the
deadline sweep uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import Channel, Language, LifecycleEvent, Priority, Role
from reflections.platform import clock
from reflections.seed.catalog import DEMO_COMMUNE
from reflections.timekeeping import deadlines, escalation

E = LifecycleEvent
CITIZEN_PHONE = "0905 123 456"
CITIZEN_EMAIL = "nguyen.van.an@example.com"


@dataclass(frozen=True)
class Tour:
    processed: str  # tracking codes
    rejected: str


def run_tour(session: Session, start: datetime | None = None) -> Tour:
    """Drive the two reflections from ``start`` (default: 30 days ago) on."""
    at = start or clock.now() - timedelta(days=30)
    ward = session.exec(
        select(AdministrativeUnit).where(AdministrativeUnit.code == DEMO_COMMUNE)
    ).one()
    lighting = session.exec(select(Category).where(Category.code == "street_lighting")).one()
    hepco = session.exec(select(HandlingUnit).where(HandlingUnit.code == "HEPCO")).one()
    coordinator = Actor(Role.COORDINATOR)
    assert hepco.id is not None and ward.id is not None and lighting.id is not None
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({hepco.id}))

    def report(description: str) -> Reflection:
        with clock.frozen_at(at):
            return submit(
                session,
                Submission(
                    description=description,
                    address=f"12 Lê Lợi, {ward.name}",
                    administrative_unit_id=ward.id,
                    reporter_name="Nguyễn Văn An",
                    reporter_phone=CITIZEN_PHONE,
                    reporter_email=CITIZEN_EMAIL,
                    language=Language.VI,
                    channels=(Channel.SMS, Channel.EMAIL),
                ),
                Actor.citizen(),
            ).reflection

    def fire(
        reflection: Reflection, event: E, actor: Actor, data: EventInput | None = None
    ) -> Reflection:
        assert reflection.id is not None
        with clock.frozen_at(at):
            return apply_event(session, reflection.id, event, actor, data)

    light = report("Đèn chiếu sáng công cộng trước số 12 Lê Lợi bị hỏng, cả đoạn đường tối om.")
    rubbish = report("Quảng cáo rao vặt dán trên cột điện.")
    at += timedelta(hours=1)
    fire(rubbish, E.REJECT, coordinator, EventInput(reason="Phản ánh trùng lặp"))
    light = fire(
        light,
        E.CLASSIFY,
        coordinator,
        EventInput(
            category_id=lighting.id, priority=Priority.NORMAL, administrative_unit_id=ward.id
        ),
    )
    light = fire(light, E.ASSIGN, coordinator, EventInput(handling_unit_id=hepco.id))
    at = deadlines.reminder_at(session, light)
    light = fire(light, E.REMIND, Actor.system())
    at = deadlines.escalation_at(session, light, 1)
    area = escalation.ladder(session, light)[0]
    light = fire(
        light,
        E.ESCALATE,
        Actor.system(),
        EventInput(administrative_unit_id=area, reason="quá hạn tiếp nhận"),
    )
    at += timedelta(hours=1)
    light = fire(light, E.ACCEPT, handler)
    at += timedelta(hours=1)
    light = fire(
        light,
        E.REQUEST_EXTENSION,
        handler,
        EventInput(reason="Chờ thay bóng đèn mới", new_due_at=at + timedelta(days=5)),
    )
    light = fire(light, E.GRANT_EXTENSION, coordinator, EventInput(reason="Đồng ý gia hạn"))
    at += timedelta(days=1)
    light = fire(
        light, E.PROCESS, handler, EventInput(result="Đã thay bóng đèn, đèn sáng trở lại.")
    )
    at += timedelta(hours=3)
    citizen = Actor.citizen(light.id)
    light = fire(light, E.REOPEN, citizen, EventInput(reason="Đèn lại tắt sau một ngày."))
    at += timedelta(hours=5)
    light = fire(light, E.PROCESS, handler, EventInput(result="Đã thay bộ điều khiển đèn."))
    at += timedelta(hours=2)
    fire(light, E.CONFIRM, citizen, EventInput(rating=5))
    return Tour(light.tracking_code, rubbish.tracking_code)
