"""The public results pages: what units did about processed reflections, no log-in, nothing
personal. They show exactly what ``api/routes/public.py`` publishes (see
:mod:`reflections.oversight.public_feed` for what is left out and why): no reporter, no
citizen's text, no address or coordinates, only the unit's result photos.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.lookup import stored_photo
from api.pagination import CursorDep, decode_cursor, encode_cursor
from reflections.models.enums import Language
from reflections.oversight import public_feed
from web import forms
from web.session import OptionalStaff
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
CodeParam = Annotated[str | None, Query(max_length=64)]


@router.get("/results", response_class=HTMLResponse)
def results(
    request: Request,
    session: SessionDep,
    _staff: OptionalStaff,
    category: CodeParam = None,
    ward: CodeParam = None,
    cursor: CursorDep = None,
) -> Response:
    """Processed and confirmed reflections, newest result first, a page at a time."""
    filters = public_feed.FeedFilters(category_code=category or None, area_code=ward or None)
    after = decode_cursor(cursor) if cursor else None  # a forged cursor: a 422 page
    items, last = public_feed.results(session, filters, PAGE_SIZE, after)
    chosen = {"category": category or "", "ward": ward or ""}
    query = {key: value for key, value in chosen.items() if value}
    next_page = None
    if last is not None:
        next_page = "/results?" + urlencode(query | {"cursor": encode_cursor(*last)})
    english = translator(request).language is Language.EN
    context = {
        "items": items,
        "values": chosen,
        "next_page": next_page,
        "first_page": ("/results?" + urlencode(query)) if cursor else None,
        "categories": forms.categories(session, english),
        "wards": forms.wards(session, english),
    }
    return render(request, "public/results.html", context)


@router.get("/results/{tracking_code}", response_class=HTMLResponse)
def result(
    request: Request, session: SessionDep, _staff: OptionalStaff, tracking_code: str
) -> Response:
    """One published result; a 404 page for a reflection not (or no longer) published."""
    item = public_feed.result(session, tracking_code)
    return render(request, "public/result.html", {"item": item})


@router.get("/results/{tracking_code}/photos/{sha256}")
def result_photo(session: SessionDep, tracking_code: str, sha256: str) -> Response:
    """A unit's photo of a published result; never the citizen's photos."""
    attachment = public_feed.result_photo(session, tracking_code, sha256)
    return stored_photo(attachment, f"no published result photo {sha256} on {tracking_code}")


@router.get("/results/{tracking_code}/photos/{sha256}/thumbnail")
def result_thumbnail(session: SessionDep, tracking_code: str, sha256: str) -> Response:
    """The small JPEG of a result photo, for lists; the photo itself when it was stored before
    thumbnails were made."""
    attachment = public_feed.result_photo(session, tracking_code, sha256)
    missing = f"no published result photo {sha256} on {tracking_code}"
    return stored_photo(attachment, missing, thumbnail=True)
