"""Nearby published reflections, and following one instead of filing a duplicate (issue 16).

``GET /api/v1/public/nearby`` reads only what :mod:`reflections.oversight.public_feed` makes
public (published reflections, coordinates rounded to 3 decimals); ``POST
/api/v1/public/reflections/{code}/followers`` adds the caller as a follower: they then hear of
the reflection's progress like its reporter. A follow is counted by the submission limits (per
address and per contact), since it sends messages to a contact like a submission does.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from api.abuse import check_submission
from api.deps import OptionalCallerDep, SessionDep
from api.problems import problem_responses
from api.schemas import CategoryRef, UnitRef
from reflections.errors import InvalidInput
from reflections.messaging.sign_in import parse_contact
from reflections.models import Reflection
from reflections.models.enums import Language, LifecycleState
from reflections.oversight import nearby as nearby_module
from reflections.oversight.nearby import FollowContact, PublicOpen
from reflections.platform import clock

router = APIRouter(prefix="/api/v1/public", tags=["public"])


class NearbyView(BaseModel):
    """A published open reflection near the asked point."""

    tracking_code: str
    state: LifecycleState
    category: CategoryRef | None
    ward: UnitRef | None
    summary: str | None = Field(description="The published summary (or description).")
    latitude: float | None = Field(description="Rounded to 3 decimals.")
    longitude: float | None = Field(description="Rounded to 3 decimals.")
    distance_m: int | None = Field(description="From the asked point to the rounded place.")
    submitted_at: datetime


class NearbyPage(BaseModel):
    items: list[NearbyView]
    radius_m: int


class FollowIn(BaseModel):
    contact: str | None = Field(
        default=None,
        max_length=254,
        description="A phone number or an email to hear of it; may be left out with "
        "X-Citizen-Key (a key whose report left a contact, or a sign-in session's token).",
    )
    language: Language = Field(default=Language.VI, description="Of the messages.")


def nearby_view(item: PublicOpen) -> NearbyView:
    category, ward = item.category, item.ward
    return NearbyView(
        tracking_code=item.tracking_code,
        state=item.state,
        category=CategoryRef(code=category.code, name_vi=category.name, name_en=category.name_en)
        if category
        else None,
        ward=UnitRef(code=ward.code, name=ward.name, name_en=ward.name_en) if ward else None,
        summary=item.summary,
        latitude=item.latitude,
        longitude=item.longitude,
        distance_m=item.distance_m,
        submitted_at=item.submitted_at,
    )


@router.get("/nearby", response_model=NearbyPage, responses=problem_responses())
def nearby(
    session: SessionDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude of the pin.")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude of the pin.")],
    category: Annotated[str, Query(min_length=1, max_length=64, description="Category code.")],
) -> NearbyPage:
    """Published open reflections of this category within 300 m, nearest first, at most 10.
    Unpublished reflections never show; an unknown category gives an empty list."""
    items = nearby_module.nearby(session, lat, lon, category)
    return NearbyPage(items=[nearby_view(i) for i in items], radius_m=nearby_module.RADIUS_M)


@router.post(
    "/reflections/{tracking_code}/followers",
    status_code=201,
    responses=problem_responses(
        404,
        "No published open reflection by that code.",
        429,
        "Too many from here or this contact.",
    ),
)
def follow(
    tracking_code: str,
    body: FollowIn,
    request: Request,
    session: SessionDep,
    caller: OptionalCallerDep = None,
) -> Response:
    """Follow a published open reflection ("same problem? follow it") instead of filing a
    duplicate: its updates reach the given contact. Needs a contact, or a citizen key whose
    report left one, or a sign-in session's token. A second follow changes nothing."""
    reflection = nearby_module.followable(session, tracking_code)
    now = clock.now()
    raw = (body.contact or "").strip()
    if raw:
        contact = parse_contact(raw)
        check_submission(request, *_phone_email(contact.channel, contact.address))
        chosen = FollowContact(contact.channel, contact.address, body.language)
        nearby_module.follow_with_contact(session, reflection, chosen, now)
    elif caller is not None and caller.contact is not None:
        found = caller.contact
        check_submission(request, *_phone_email(found.channel, found.address))
        chosen = FollowContact(found.channel, found.address, body.language)
        nearby_module.follow_with_contact(session, reflection, chosen, now)
    elif caller is not None and caller.citizen_key_hash is not None:
        reporter_id = session.exec(
            select(Reflection.reporter_id).where(Reflection.secret_hash == caller.citizen_key_hash)
        ).first()
        if reporter_id is None:
            raise InvalidInput("contact", "give a phone number or an email address", "required")
        check_submission(request, None, None)
        nearby_module.follow_as_reporter(session, reflection, reporter_id, now)
    else:
        raise InvalidInput("contact", "give a phone number or an email address", "required")
    session.commit()
    detail = "you follow this reflection: its updates will reach you"
    return JSONResponse({"tracking_code": reflection.tracking_code, "detail": detail}, 201)


def _phone_email(channel: str, address: str) -> tuple[str | None, str | None]:
    return (address, None) if channel == "sms" else (None, address)
