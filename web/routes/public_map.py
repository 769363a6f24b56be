"""The public map at ``/map`` (issue 16): published reflections being handled and processed
ones, as markers on the Leaflet map and the same items as a list below it (the list is the
accessible alternative, and what the map's script reads its markers from). Only what
:mod:`reflections.oversight.public_feed` makes public is shown: places rounded to 3 decimals,
nothing about the reporters."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from reflections.models.enums import Language
from reflections.oversight import nearby, public_feed
from reflections.platform.settings import get_settings
from web import forms
from web.routes.public import CodeParam
from web.session import OptionalStaff
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
MAP_ROWS = 100  # of each kind, newest first: the page stays light on a phone


@router.get("/map", response_class=HTMLResponse)
def public_map(
    request: Request,
    session: SessionDep,
    _staff: OptionalStaff,
    category: CodeParam = None,
    ward: CodeParam = None,
) -> Response:
    """Published open reflections and processed ones, on a map and in a list."""
    category, ward = category or None, ward or None
    handled = nearby.open_on_map(session, category, ward, MAP_ROWS)
    filters = public_feed.FeedFilters(category_code=category, area_code=ward)
    done, _ = public_feed.results(session, filters, MAP_ROWS)
    english = translator(request).language is Language.EN
    settings = get_settings()
    context = {
        "handled": handled,
        "done": done,
        "bound": MAP_ROWS,
        "values": {"category": category or "", "ward": ward or ""},
        "categories": forms.categories(session, english),
        "wards": forms.wards(session, english),
        "map_tiles": settings.map_tiles_url,
        "map_attribution": settings.map_attribution,
    }
    return render(request, "public/map.html", context)
