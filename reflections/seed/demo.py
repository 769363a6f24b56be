"""A realistic batch of reflections, driven part-way through the lifecycle.

Submission times are spread over the last two weeks with the shared clock, so the demo data
has a history that looks like a city's, not a burst of identical timestamps.
"""

import random
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, Reflection, User
from reflections.models.enums import LifecycleEvent, Role, SubmissionChannel
from reflections.organisation.routing import route
from reflections.organisation.validity import reflection_day
from reflections.platform import clock

E = LifecycleEvent

STREETS = [
    "Lê Lợi",
    "Hùng Vương",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Bà Triệu",
    "Điện Biên Phủ",
    "Lê Duẩn",
    "Phan Đình Phùng",
    "Nguyễn Trãi",
    "Chi Lăng",
    "Mai Thúc Loan",
    "Tố Hữu",
]

SITUATIONS = [
    "Rác thải sinh hoạt tập kết nhiều ngày chưa được thu gom, bốc mùi hôi thối.",
    "Đèn chiếu sáng công cộng bị hỏng, cả đoạn đường tối om vào ban đêm.",
    "Mặt đường xuất hiện ổ gà lớn, rất nguy hiểm cho người đi xe máy.",
    "Nước ngập sâu sau mưa lớn, cống thoát nước bị tắc.",
    "Hộ kinh doanh lấn chiếm vỉa hè, người đi bộ phải đi xuống lòng đường.",
    "Công trình xây dựng không có giấy phép, vật liệu để tràn ra đường.",
    "Karaoke gây ồn ào đến sau 23 giờ đêm.",
    "Đường ống nước bị vỡ, nước chảy lênh láng nhiều giờ.",
    "Cây xanh gãy đổ chắn ngang đường sau bão.",
    "Dây điện bị chùng võng thấp, có nguy cơ gây tai nạn.",
    "Xe tải đỗ sai quy định gây ùn tắc giờ cao điểm.",
    "Khói bụi từ xưởng sản xuất gây ô nhiễm khu dân cư.",
]

MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "035", "070", "077"]
REJECTIONS = ["Nội dung không thuộc phạm vi xử lý", "Phản ánh trùng lặp", "Không đủ thông tin"]
RESULTS = [
    "Đơn vị đã kiểm tra và khắc phục xong.",
    "Đã xử lý, hiện trường đã được dọn dẹp.",
    "Đã lập biên bản và yêu cầu chấm dứt vi phạm.",
]


def _staff(session: Session, role: Role) -> Actor:
    user = session.exec(select(User).where(User.role == role).order_by(col(User.id))).first()
    return Actor(role, user_id=user.id if user else None)


def run_demo(
    session: Session, count: int, seed: int, on_each: Callable[[], None] = lambda: None
) -> Counter[str]:
    """Submit ``count`` reflections and move most of them along; returns the states reached."""
    rng = random.Random(seed)
    wards = list(
        session.exec(
            select(AdministrativeUnit)
            .where(AdministrativeUnit.level == "commune")
            .where(col(AdministrativeUnit.valid_to).is_(None))
        )
    )
    categories = list(session.exec(select(Category).where(Category.active)))
    coordinator = _staff(session, Role.COORDINATOR)
    start = clock.now() - timedelta(days=14)
    outcome: Counter[str] = Counter()
    for _ in range(count):
        at = start + timedelta(minutes=rng.randrange(14 * 24 * 60))
        ward, category = rng.choice(wards), rng.choice(categories)
        with clock.frozen_at(at):
            reflection = submit(
                session,
                Submission(
                    description=rng.choice(SITUATIONS),
                    address=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}, {ward.name}",
                    administrative_unit_id=ward.id,
                    submitted_via=rng.choice(list(SubmissionChannel)),
                    reporter_phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**6, 10**7)}"
                    if rng.random() < 0.7
                    else None,
                ),
                Actor.citizen(),
            ).reflection
        _drive(session, reflection, category, ward, coordinator, rng)
        session.refresh(reflection)
        outcome[str(reflection.state)] += 1
        on_each()
    return outcome


class _Timeline:
    """Fires events on one reflection, each some hours after the last, never in the future."""

    def __init__(self, session: Session, reflection: Reflection, rng: random.Random) -> None:
        assert reflection.id is not None
        self.session, self.reflection_id, self.rng = session, reflection.id, rng
        self.at = reflection.created_at

    def fire(self, event: LifecycleEvent, actor: Actor, data: EventInput | None = None) -> bool:
        self.at += timedelta(minutes=self.rng.randrange(20, 900))
        if self.at >= clock.now():
            return False
        with clock.frozen_at(self.at):
            apply_event(self.session, self.reflection_id, event, actor, data)
        return True


def _drive(
    session: Session,
    reflection: Reflection,
    category: Category,
    ward: AdministrativeUnit,
    coordinator: Actor,
    rng: random.Random,
) -> None:
    """Move one reflection along a plausible path; many stop early, as real ones do."""
    steps = _Timeline(session, reflection, rng)
    citizen = Actor.citizen(reflection.id)
    roll = rng.random()
    if roll < 0.08:
        steps.fire(E.REJECT, coordinator, EventInput(reason=rng.choice(REJECTIONS)))
        return
    assert category.id is not None and ward.id is not None
    unit = route(session, category.id, ward.id, reflection_day(reflection))
    if roll < 0.15 or unit is None or unit.id is None:
        return
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({unit.id}))
    classified = steps.fire(
        E.CLASSIFY,
        coordinator,
        EventInput(
            category_id=category.id,
            priority=category.default_priority,
            administrative_unit_id=ward.id,
        ),
    )
    if not classified or not steps.fire(
        E.ASSIGN, coordinator, EventInput(handling_unit_id=unit.id)
    ):
        return
    roll = rng.random()
    if roll < 0.08:
        steps.fire(E.RETURN, handler, EventInput(reason="Không thuộc thẩm quyền của đơn vị"))
        return
    if roll < 0.18 or not steps.fire(E.ACCEPT, handler):
        return
    if rng.random() < 0.12 and steps.fire(
        E.REQUEST_EXTENSION,
        handler,
        EventInput(
            reason="Cần thêm thời gian phối hợp với đơn vị liên quan",
            new_due_at=steps.at + timedelta(days=5),
        ),
    ):
        decision = E.GRANT_EXTENSION if rng.random() < 0.7 else E.DENY_EXTENSION
        steps.fire(decision, coordinator, EventInput(reason="Đã xem xét đề nghị gia hạn"))
    if rng.random() < 0.15 or not steps.fire(
        E.PROCESS, handler, EventInput(result=rng.choice(RESULTS))
    ):
        return
    reopened = rng.random() < 0.1 and steps.fire(
        E.REOPEN, citizen, EventInput(reason="Sự việc vẫn chưa được khắc phục")
    )
    if reopened and not steps.fire(E.PROCESS, handler, EventInput(result=rng.choice(RESULTS))):
        return
    if rng.random() < 0.75:
        steps.fire(E.CONFIRM, citizen, EventInput(rating=rng.choice([3, 4, 4, 5, 5, 5])))
