"""Duplicate suggestions and merging (DESIGN.md §3: coordinators merge duplicates).

A storm brings the same flooded street in from a dozen citizens: the coordinator sees, next to
a reflection, the others of its category reported nearby (within :data:`RADIUS_METRES`) or in
its ward around the same time (within :data:`WARD_WINDOW`), and merges a duplicate into its
original. A merge is the ``reject`` event naming the original (§4: "duplicate of X"), so it goes
through the one service, leaves one history row and tells the citizen the original's code.

The database narrows the candidates with index-friendly predicates (a latitude/longitude
bounding box; the ward and a created_at window); the exact great-circle distance is computed
here, on the few that remain.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Forbidden, InvalidInput, NotFound
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import Category, Reflection
from reflections.models.enums import LifecycleEvent, LifecycleState, Role
from reflections.organisation.visibility import can_see, visible_clause

RADIUS_METRES = 200.0
WARD_WINDOW = timedelta(days=14)
MAX_SUGGESTIONS = 10
CANDIDATE_LIMIT = 200  # per prefilter: a hotspot cannot make one request read the whole table
EARTH_RADIUS_METRES = 6_371_008.8  # the mean radius (IUGG)
FINDERS = frozenset({Role.COORDINATOR, Role.ADMIN})  # who is shown suggestions (§3)


@dataclass(frozen=True)
class DuplicateSuggestion:
    """Another reflection that may report the same problem, and why it was suggested."""

    reflection_id: int
    tracking_code: str
    state: LifecycleState
    category: str  # the category code: the classified one, else the citizen's hint
    created_at: datetime
    description: str
    distance_metres: float | None  # set when both have coordinates and are within the radius
    days_apart: int | None  # set when in the same ward and within the window (whole days)

    @property
    def why(self) -> str:
        """ "85 m away", "same ward, 3 days apart", or both."""
        reasons = []
        if self.distance_metres is not None:
            reasons.append(f"{round(self.distance_metres)} m away")
        if self.days_apart is not None:
            unit = "day" if self.days_apart == 1 else "days"
            reasons.append(f"same ward, {self.days_apart} {unit} apart")
        return "; ".join(reasons)


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the haversine formula (on a sphere: within 0.5% on Earth)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class BoundingBox:
    """Latitude and longitude ranges that contain every point within a radius of a centre;
    longitude may be two ranges where the box crosses the antimeridian."""

    lat_min: float
    lat_max: float
    lon_ranges: tuple[tuple[float, float], ...]

    def contains(self, lat: float, lon: float) -> bool:
        in_lat = self.lat_min <= lat <= self.lat_max
        return in_lat and any(low <= lon <= high for low, high in self.lon_ranges)


def bounding_box(lat: float, lon: float, radius_metres: float) -> BoundingBox:
    """The circle's extent on a sphere, widened by 1% against rounding."""
    angle = radius_metres / EARTH_RADIUS_METRES
    d_lat = math.degrees(angle) * 1.01
    lat_min, lat_max = max(-90.0, lat - d_lat), min(90.0, lat + d_lat)
    everywhere = BoundingBox(lat_min, lat_max, ((-180.0, 180.0),))
    if lat_min <= -90.0 or lat_max >= 90.0:  # the circle holds a pole
        return everywhere
    # The widest longitude a spherical cap reaches: asin(sin(angle) / cos(latitude)).
    ratio = math.sin(angle) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return everywhere
    d_lon = math.degrees(math.asin(ratio)) * 1.01
    low, high = lon - d_lon, lon + d_lon
    if low < -180.0:  # across the antimeridian: two ranges
        return BoundingBox(lat_min, lat_max, ((-180.0, high), (low + 360.0, 180.0)))
    if high > 180.0:
        return BoundingBox(lat_min, lat_max, ((low, 180.0), (-180.0, high - 360.0)))
    return BoundingBox(lat_min, lat_max, ((low, high),))


def _in_box(box: BoundingBox) -> ColumnElement[bool]:
    """Range predicates on the raw columns, so ix_reflections_lat_long can serve them."""
    lat, lon = col(Reflection.latitude), col(Reflection.longitude)
    lon_ranges = [lon.between(low, high) for low, high in box.lon_ranges]
    return and_(lat.between(box.lat_min, box.lat_max), or_(*lon_ranges))


def category_code(session: Session, reflection: Reflection) -> str | None:
    """The classified category's code, else the citizen's hint (which holds a code)."""
    if reflection.category_id is not None:
        category = session.get(Category, reflection.category_id)
        return category.code if category else None
    return reflection.category_hint


def find_duplicates(
    session: Session, actor: Actor, reflection: Reflection
) -> list[DuplicateSuggestion]:
    """Up to :data:`MAX_SUGGESTIONS` possible duplicates, the nearest first, then the most
    recent. Only coordinators and admins are shown them; each candidate must be visible too."""
    if actor.role not in FINDERS:
        raise Forbidden(f"a {actor.role} is not shown duplicate suggestions")
    if not can_see(session, actor, reflection):
        raise NotFound(f"no reflection {reflection.tracking_code}")
    code = category_code(session, reflection)
    if code is None or reflection.id is None:
        return []  # nothing to compare with: no category, no hint

    # One category code per candidate: the classified category's, else its hint.
    candidate_code = func.coalesce(col(Category.code), col(Reflection.category_hint))
    base = (
        select(Reflection, candidate_code)
        .outerjoin(Category, col(Category.id) == col(Reflection.category_id))
        .where(
            col(Reflection.id) != reflection.id,
            col(Reflection.state) != LifecycleState.REJECTED,
            candidate_code == code,
            visible_clause(session, actor),
        )
        .order_by(col(Reflection.created_at).desc())
        .limit(CANDIDATE_LIMIT)
    )
    # Two statements rather than one OR, so each prefilter can use its own index.
    rows: dict[int, tuple[Reflection, str]] = {}
    if reflection.latitude is not None and reflection.longitude is not None:
        box = bounding_box(reflection.latitude, reflection.longitude, RADIUS_METRES)
        rows |= _keyed(session.exec(base.where(_in_box(box))).all())
    if reflection.administrative_unit_id is not None:
        window = base.where(
            col(Reflection.administrative_unit_id) == reflection.administrative_unit_id,
            col(Reflection.created_at).between(
                reflection.created_at - WARD_WINDOW, reflection.created_at + WARD_WINDOW
            ),
        )
        rows |= _keyed(session.exec(window).all())

    found = [s for c, cat in rows.values() if (s := _suggestion(reflection, c, cat)) is not None]
    found.sort(key=_order)
    return found[:MAX_SUGGESTIONS]


def _keyed(rows: Iterable[tuple[Reflection, str | None]]) -> dict[int, tuple[Reflection, str]]:
    return {r.id: (r, code) for r, code in rows if r.id is not None and code is not None}


def _suggestion(
    reflection: Reflection, candidate: Reflection, code: str
) -> DuplicateSuggestion | None:
    """The suggestion, if the candidate passes the exact tests; None if only the box held it."""
    assert candidate.id is not None
    metres = _metres_between(reflection, candidate)
    distance = metres if metres is not None and metres <= RADIUS_METRES else None
    days = None
    apart = abs(candidate.created_at - reflection.created_at)
    same_ward = (
        reflection.administrative_unit_id is not None
        and candidate.administrative_unit_id == reflection.administrative_unit_id
    )
    if same_ward and apart <= WARD_WINDOW:
        days = apart // timedelta(days=1)
    if distance is None and days is None:
        return None
    return DuplicateSuggestion(
        reflection_id=candidate.id,
        tracking_code=candidate.tracking_code,
        state=candidate.state,
        category=code,
        created_at=candidate.created_at,
        description=candidate.description,
        distance_metres=distance,
        days_apart=days,
    )


def _metres_between(a: Reflection, b: Reflection) -> float | None:
    """The distance, when both have coordinates."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    return distance_metres(a.latitude, a.longitude, b.latitude, b.longitude)


def _order(s: DuplicateSuggestion) -> tuple[bool, float, float]:
    """Those within the radius first, nearest first; then the most recent."""
    far = s.distance_metres is None
    return far, s.distance_metres or 0.0, -s.created_at.timestamp()


def merge(
    session: Session,
    reflection_id: int,
    original_tracking_code_or_id: str | int,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Reflection:
    """Merge a duplicate into its original: the duplicate is rejected as "duplicate of X"
    through :func:`apply_event`, which checks the original and tells the citizen."""
    original = _original(session, original_tracking_code_or_id)
    assert original.id is not None
    data = EventInput(reason=reason, duplicate_of_id=original.id)
    try:
        return apply_event(
            session, reflection_id, LifecycleEvent.REJECT, actor, data, expected_version
        )
    except InvalidInput as error:  # name the field as callers of merge know it
        if error.field != "duplicate_of_id":
            raise
        raise InvalidInput("into", error.reason) from None


def _original(session: Session, tracking_code_or_id: str | int) -> Reflection:
    if isinstance(tracking_code_or_id, int):
        original = session.get(Reflection, tracking_code_or_id)
    else:
        code = tracking_code_or_id.strip().upper()
        original = session.exec(select(Reflection).where(Reflection.tracking_code == code)).first()
    if original is None:
        raise InvalidInput("into", f"no reflection {tracking_code_or_id}")
    return original
