"""Our rows as GeoReport v2 resources.

Open311 GET is public, so nothing here reads the reporter: no name, phone or email can leak.
What a citizen wrote is shown only as :func:`reflections.oversight.public_feed.disclose` allows:
before a coordinator publishes it, the category name as ``description``, the ward as the
address and no coordinates; once published, the public summary and the place rounded to 3
decimals. Processed and confirmed requests are "closed", with the result as ``status_notes``
and a result photo as ``media_url``; rejected ones show only the public reason.
Datetimes are UTC with an explicit offset (``2026-03-02T09:00:00+00:00``), as in the native API;
screens convert to Asia/Ho_Chi_Minh, machine interfaces do not.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from api.open311.schemas import (
    Attribute,
    AttributeValue,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import AssignmentStage, Language, LifecycleState
from reflections.oversight import public_feed
from reflections.timekeeping.deadlines import due_of, step_of
from statemachines import FINAL_STATES

# A media_url sent with a POST is kept as the description's last line, and read back from it.
MEDIA_LINE = "[media_url] "
# Resolved (processed: the unit's result stands, the citizen may still reopen) or refused.
CLOSED_STATES = FINAL_STATES | public_feed.PUBLISHED_STATES
PhotoUrl = Callable[[str, str], str]  # (tracking code, sha256) -> public URL of a result photo

_NOTICES: dict[tuple[LifecycleState, AssignmentStage | None], tuple[str, str]] = {
    (LifecycleState.RECEIVED, None): (
        "Đã tiếp nhận, đang chờ phân loại.",
        "Received, waiting to be classified.",
    ),
    (LifecycleState.CLASSIFIED, None): (
        "Đã phân loại, đang chờ giao đơn vị xử lý.",
        "Classified, waiting for a handling unit.",
    ),
    (LifecycleState.ASSIGNED, AssignmentStage.AWAITING_ACCEPTANCE): (
        "Đã chuyển đơn vị xử lý, đang chờ tiếp nhận.",
        "Sent to the handling unit, waiting for it to accept.",
    ),
    (LifecycleState.ASSIGNED, AssignmentStage.IN_PROGRESS): (
        "Đơn vị đang xử lý.",
        "The handling unit is working on it.",
    ),
    (LifecycleState.PROCESSED, None): (
        "Đã xử lý, chờ người phản ánh xác nhận.",
        "Processed; waiting for the reporter to confirm.",
    ),
    (LifecycleState.CONFIRMED, None): ("Đã hoàn thành.", "Completed."),
    (LifecycleState.REJECTED, None): ("Không tiếp nhận.", "Not accepted."),
}


def w3_datetime(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


URGENT_ATTRIBUTE = "urgent"
URGENT_YES = "true"


def service(category: Category, language: Language) -> Service:
    """Every service has one attribute, ``urgent`` (see :func:`service_definition`)."""
    name, other = _names(category, language)
    return Service(
        service_code=category.code,
        service_name=name,
        description=f"{name} ({other})",
        metadata=True,
        type="realtime",
        keywords=", ".join(category.keywords),
        group=category.group,
    )


def service_definition(category: Category, language: Language) -> ServiceDefinition:
    """The citizen's "dangerous / urgent" tick: ``attribute[urgent]=true`` makes the request
    an emergency from submission (60 minutes to classify, the IOC duty told at once)."""
    english = language is Language.EN
    urgent = Attribute(
        variable=True,
        code=URGENT_ATTRIBUTE,
        datatype="singlevaluelist",
        required=False,
        datatype_description=None,
        order=1,
        description=(
            "Dangerous or urgent: people or property at risk now"
            if english
            else "Nguy hiểm / khẩn cấp: người hoặc tài sản đang gặp nguy hiểm"
        ),
        values=[
            AttributeValue(key=URGENT_YES, name="Yes" if english else "Có"),
            AttributeValue(key="false", name="No" if english else "Không"),
        ],
    )
    return ServiceDefinition(service_code=category.code, attributes=[urgent])


def _names(category: Category, language: Language) -> tuple[str, str]:
    if language is Language.EN:
        return category.name_en, category.name_vi
    return category.name_vi, category.name_en


def notice(state: LifecycleState, stage: AssignmentStage | None, language: Language) -> str:
    vi, en = _NOTICES.get((state, stage)) or _NOTICES.get((state, None)) or ("", "")
    return en if language is Language.EN else vi


def service_requests(
    session: Session,
    rows: Sequence[Reflection],
    language: Language,
    photo_url: PhotoUrl | None = None,
) -> list[ServiceRequest]:
    """One query per related table for the whole page."""
    hints = {r.category_hint for r in rows if r.category_id is None and r.category_hint}
    category_ids = {r.category_id for r in rows if r.category_id is not None}
    categories = session.exec(
        select(Category).where(
            or_(col(Category.id).in_(sorted(category_ids)), col(Category.code).in_(sorted(hints)))
        )
    ).all()
    by_id = {c.id: c for c in categories}
    by_code = {c.code: c for c in categories}
    unit_ids = {r.handling_unit_id for r in rows if r.handling_unit_id is not None}
    units = {
        u.id: u
        for u in session.exec(
            select(HandlingUnit).where(col(HandlingUnit.id).in_(sorted(unit_ids)))
        )
    }
    areas = _areas_with_parents(session, {r.administrative_unit_id for r in rows})
    published = public_feed.published(session, rows)
    shown = public_feed.disclosures(session, rows)
    out = []
    for r in rows:
        category = by_id.get(r.category_id) if r.category_id else by_code.get(r.category_hint or "")
        unit = units.get(r.handling_unit_id) if r.handling_unit_id else None
        area = areas.get(r.administrative_unit_id) if r.administrative_unit_id else None
        disclosure = shown.get(r.id or 0, public_feed.NOT_PUBLISHED)
        name = _names(category, language)[0] if category else ""
        description = disclosure.summary or name
        address = _area_address(area, areas, language)
        lat, long, media_url = disclosure.latitude, disclosure.longitude, disclosure.media_url
        if (result := published.get(r.id or 0)) is not None:  # as in the public feed
            first = result.photos[0] if result.photos else None
            media_url = photo_url(r.tracking_code, first) if photo_url and first else None
        out.append(
            ServiceRequest(
                service_request_id=r.tracking_code,
                status="closed" if r.state in CLOSED_STATES else "open",
                status_notes=disclosure.public_reason or _result_notes(r),
                service_name=_names(category, language)[0] if category else None,
                service_code=category.code if category else r.category_hint,
                description=description,
                agency_responsible=(unit.name_en if language is Language.EN else unit.name)
                if unit
                else None,
                service_notice=notice(r.state, r.assignment_stage, language),
                requested_datetime=w3_datetime(r.created_at) or "",
                updated_datetime=w3_datetime(r.updated_at) or "",
                expected_datetime=w3_datetime(_current_due_at(r)),
                address=address,
                address_id=area.code if area else None,
                zipcode=None,
                lat=lat,
                long=long,
                media_url=media_url,
            )
        )
    return out


def _result_notes(reflection: Reflection) -> str | None:
    if reflection.state in (LifecycleState.PROCESSED, LifecycleState.CONFIRMED):
        return reflection.result_text
    return None


def _current_due_at(reflection: Reflection) -> datetime | None:
    step = step_of(reflection)
    return due_of(reflection, step) if step else None


def _areas_with_parents(
    session: Session, ids: set[int | None]
) -> dict[int | None, AdministrativeUnit]:
    """The administrative units and all their ancestors: one query per level."""
    found: dict[int | None, AdministrativeUnit] = {}
    wanted = {i for i in ids if i is not None}
    while wanted:
        rows = session.exec(
            select(AdministrativeUnit).where(col(AdministrativeUnit.id).in_(sorted(wanted)))
        ).all()
        found.update({row.id: row for row in rows})
        wanted = {row.parent_id for row in rows if row.parent_id is not None} - found.keys()
    return found


def _area_address(
    area: AdministrativeUnit | None,
    areas: dict[int | None, AdministrativeUnit],
    language: Language,
) -> str | None:
    """Most specific to most general, as the specification asks: ward, district, province."""
    names: list[str] = []
    while area is not None and len(names) < 10:
        names.append(area.name_en if language is Language.EN else area.name)
        area = areas.get(area.parent_id) if area.parent_id else None
    return ", ".join(names) or None
