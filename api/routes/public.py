"""The public results feed: processed and confirmed reflections, no personal data, no log-in.

What is published and what is left out, and why, is in :mod:`reflections.oversight.public_feed`. In
short: no reporter, no citizen's text (description, rating comment), no street address or
coordinates (the ward is the finest place), and only the unit's result photos.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep
from api.lookup import aware, stored_photo
from api.pagination import CursorDep, LimitDep, decode_cursor, encode_cursor
from api.problems import problem_responses
from api.schemas import CategoryRef, Page, UnitRef
from reflections.errors import InvalidInput
from reflections.models.enums import LifecycleState
from reflections.oversight import public_feed
from reflections.oversight.public_feed import PublicResult
from reflections.platform.settings import get_settings

router = APIRouter(
    prefix="/api/v1/public",
    tags=["public"],
    responses=problem_responses(404, "No published result by that code."),
)
PHOTO_ROUTE = "public_result_photo"


class PublicResultView(BaseModel):
    """A processed or confirmed reflection as anyone may see it."""

    tracking_code: str
    state: LifecycleState = Field(description="processed or confirmed.")
    category: CategoryRef | None
    ward: UnitRef | None = Field(description="The ward/commune: the finest place published.")
    handling_unit: UnitRef | None
    submitted_at: datetime
    processed_at: datetime = Field(description="When the current result was given.")
    confirmed_at: datetime | None = Field(description="By the citizen, or automatically.")
    result_text: str | None = Field(description="What the unit did, in its own words.")
    rating: int | None = Field(description="The citizen's rating, 1-5, once confirmed.")
    result_photos: list[str] = Field(description="URLs of the unit's photos of the result.")
    summary: str | None = Field(
        description="What the citizen reported, once a coordinator published it (or an edited "
        "summary); null before."
    )
    latitude: float | None = Field(description="Published only: rounded to 3 decimals.")
    longitude: float | None = Field(description="Published only: rounded to 3 decimals.")


def _ref(named: public_feed.Named | None) -> UnitRef | None:
    return UnitRef(code=named.code, name=named.name, name_en=named.name_en) if named else None


def view(request: Request, item: PublicResult) -> PublicResultView:
    category = item.category
    return PublicResultView(
        tracking_code=item.tracking_code,
        state=item.state,
        category=CategoryRef(code=category.code, name_vi=category.name, name_en=category.name_en)
        if category
        else None,
        ward=_ref(item.ward),
        handling_unit=_ref(item.handling_unit),
        submitted_at=item.submitted_at,
        processed_at=item.processed_at,
        confirmed_at=item.confirmed_at,
        result_text=item.result_text,
        rating=item.rating,
        result_photos=[photo_url(request, item.tracking_code, sha) for sha in item.photos],
        summary=item.summary,
        latitude=item.latitude,
        longitude=item.longitude,
    )


def _instant(value: datetime | None, field: str) -> datetime | None:
    """An aware instant in UTC; 422 when naive or beyond what UTC can hold (year 9999-…-05:00)."""
    value = aware(value, field)
    try:
        return value.astimezone(UTC) if value else None
    except OverflowError:
        raise InvalidInput(field, "is out of range") from None


def photo_url(request: Request, tracking_code: str, sha256: str) -> str:
    """The public URL of a result photo (absolute: feeds are read by other sites and apps),
    from ``REFLECTIONS_PUBLIC_URL``: never the request's Host header, which the caller
    chooses (a forged Host would put another site's address in the feed and in caches)."""
    path = request.app.url_path_for(PHOTO_ROUTE, tracking_code=tracking_code, sha256=sha256)
    return get_settings().public_url.rstrip("/") + str(path)


@router.get("/results", response_model=Page[PublicResultView])
def results(
    session: SessionDep,
    request: Request,
    limit: LimitDep = 50,
    cursor: CursorDep = None,
    category: Annotated[str | None, Query(max_length=64, description="Category code.")] = None,
    ward: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Code of a ward/commune, or of a larger administrative unit "
            "(everything under it).",
        ),
    ] = None,
    processed_from: Annotated[
        datetime | None, Query(description="Processed at or after, with a time zone.")
    ] = None,
    processed_to: Annotated[
        datetime | None, Query(description="Processed before, with a time zone.")
    ] = None,
) -> Page[PublicResultView]:
    """Processed and confirmed reflections, newest result first. No log-in needed.

    Personal data is left out: no reporter, no citizen's text (description, comment), no
    street address or coordinates, no citizen's photos. Unknown codes give an empty page.
    """
    filters = public_feed.FeedFilters(
        category_code=category,
        area_code=ward,
        processed_from=_instant(processed_from, "processed_from"),
        processed_to=_instant(processed_to, "processed_to"),
    )
    after = decode_cursor(cursor) if cursor else None
    items, last = public_feed.results(session, filters, limit, after)
    return Page(
        items=[view(request, item) for item in items],
        next_cursor=encode_cursor(*last) if last else None,
    )


@router.get("/results/{tracking_code}", response_model=PublicResultView)
def result(session: SessionDep, request: Request, tracking_code: str) -> PublicResultView:
    """One published result; 404 for a reflection that is not (or no longer) published."""
    return view(request, public_feed.result(session, tracking_code))


@router.get(
    "/results/{tracking_code}/photos/{sha256}",
    name=PHOTO_ROUTE,
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def result_photo(session: SessionDep, tracking_code: str, sha256: str) -> Response:
    """A unit's photo of a published result. The citizen's photos are never served here."""
    attachment = public_feed.result_photo(session, tracking_code, sha256)
    return stored_photo(attachment, f"no published result photo {sha256} on {tracking_code}")
