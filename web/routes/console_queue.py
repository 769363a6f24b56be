"""The coordinator's queue as a work surface: each row says what the reflection is about
(description, photo, address, the citizen's choice, a returning unit's reason) and how long is
left; search, filters, sort, a total and numbered pages; several rows at once (bulk).

Bulk actions go through the same service as one item's, one reflection per change: a row that
cannot be done (changed meanwhile, not classifiable) is named in the message, the others are
done.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, func, select

from api.deps import Caller, SessionDep
from api.lookup import open_reflection
from api.views import reflection_views
from reflections.errors import Conflict, DomainError, EventNotAllowed, Forbidden, GuardFailed
from reflections.lifecycle import duplicates, worklists
from reflections.lifecycle.service import EventInput, apply_events
from reflections.models import Category, HandlingUnit, Reflection
from reflections.models.enums import Language, LifecycleEvent, LifecycleState, Role
from web import forms
from web.console_done import done_message, done_query
from web.field_errors import field_errors
from web.queue_filters import parse_queue
from web.routes.console_choices import classification_of, handling_units
from web.session import CsrfChecked, staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
Coordinator = Annotated[Caller, Depends(staff_with_role(Role.COORDINATOR, Role.ADMIN))]
E = LifecycleEvent


def desk_counts(session: Session) -> dict[str, int]:
    """How much waits in each of the coordinator's lists (shown on their tabs)."""

    def count(statement: Any) -> int:
        return int(session.exec(select(func.count()).select_from(statement.subquery())).one())

    return {
        "queue": count(worklists.coordinator_queue(worklists.QueueFilters())),
        "extensions": count(worklists.extension_requests()),
        "processed": count(worklists.processed_results()),
    }


@router.get("/console/queue", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, caller: Coordinator) -> Response:
    """Received reflections and those waiting for a unit: emergencies first, then as sorted."""
    t = translator(request)
    errors: dict[str, str] = {}
    try:
        query = parse_queue(request.query_params)
    except DomainError as error:
        errors = field_errors(error, t)
        query = parse_queue({k: v for k, v in request.query_params.items() if k not in errors})
    ordering = worklists.queue_ordering(query.filters.sort)
    statement = worklists.coordinator_queue(query.filters)
    page = worklists.numbered_page(session, statement, ordering, query.page, PAGE_SIZE)
    views = reflection_views(session, caller.actor, page.items)
    waiting = [r.id for r in page.items if r.state is LifecycleState.CLASSIFIED and r.id]
    returns = worklists.latest_events(session, waiting, E.RETURN)
    codes = {r.id: r.tracking_code for r in page.items}
    english = t.language is Language.EN
    context = {
        "items": views,
        "page": page,
        "query": query,
        "returns": {codes[i]: event for i, event in returns.items()},
        "unit_names": _unit_names(session, returns.values(), english),
        "category_names": _category_names(session, english),
        "categories": forms.categories(session, english),
        "wards": forms.wards(session, english),
        "units": handling_units(session, t),
        "counts": desk_counts(session),
        "done": done_message(request, session, t),
        "errors": errors,
        "values": query.values,
    }
    return render(request, "console/queue.html", context, 422 if errors else 200)


def _category_names(session: Session, english: bool) -> dict[str, str]:
    rows = session.exec(select(Category.code, Category.name_vi, Category.name_en)).all()
    return {code: name_en if english else name_vi for code, name_vi, name_en in rows}


def _unit_names(session: Session, events: Any, english: bool) -> dict[int, HandlingUnit]:
    ids = {e.payload.get("suggested_unit_id") for e in events} - {None}
    if not ids:
        return {}
    rows = session.exec(select(HandlingUnit).where(col(HandlingUnit.id).in_(ids)))
    return {row.id or 0: row for row in rows}


# -- several rows at once --------------------------------------------------------------------


@router.post("/console/queue/bulk", dependencies=[CsrfChecked])
def bulk(
    request: Request,
    session: SessionDep,
    caller: Coordinator,
    selected: Annotated[list[str] | None, Form(max_length=PAGE_SIZE)] = None,
    bulk_action: Annotated[str, Form(max_length=16)] = "",
    into: Annotated[str, Form(max_length=16)] = "",
    handling_unit: Annotated[str, Form(max_length=64)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    queue: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Merge the selected rows into one (the oldest, unless named), or give them all to one
    unit (classifying those still received with their suggestion, or ``category``)."""
    chosen = _selected(selected or [])
    back = f"/console/queue?{queue}" if queue else "/console/queue"
    if bulk_action == "merge":
        kept, done, failed = _merge_all(session, caller, chosen, into.strip().upper())
        message = done_query("bulk_merge", kept, n=len(done))
    elif bulk_action == "assign":
        done, failed = _assign_all(session, caller, chosen, handling_unit, category)
        message = done_query("bulk_assign", "", n=len(done), unit=handling_unit)
    else:
        return RedirectResponse(back, 303)
    if failed:
        message += "&" + urlencode({"failed": ",".join(f"{c}:{why}" for c, why in failed)})
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}{message}", 303)


def _selected(values: list[str]) -> list[tuple[str, int | None]]:
    """``CODE:VERSION`` pairs as the rows' checkboxes send them (the version the page showed)."""
    chosen = []
    for value in values:
        code, _, version = value.partition(":")
        chosen.append((code.strip().upper()[:16], forms.version(version)))
    return chosen


Failures = list[tuple[str, str]]


def _why(error: Exception) -> str:
    if isinstance(error, Conflict):
        return "conflict"
    if isinstance(error, EventNotAllowed):
        return "not_allowed"
    if isinstance(error, Forbidden):
        return "forbidden"
    return "invalid"


def _merge_all(
    session: Session, caller: Caller, chosen: list[tuple[str, int | None]], into: str
) -> tuple[str, list[str], Failures]:
    """Merge every chosen row into ``into`` (the oldest chosen, if empty); returns the kept
    one's code, those merged, and those not."""
    rows = [(code, version, _find(session, code)) for code, version in chosen]
    found = [(code, version, r) for code, version, r in rows if r is not None]
    if not into and found:
        into = min(found, key=lambda item: (item[2].created_at, item[2].id or 0))[0]
    done: list[str] = []
    failed: Failures = [(code, "invalid") for code, _, r in rows if r is None]
    for code, version, reflection in found:
        if code == into:
            continue
        try:
            _, actor = open_reflection(session, caller, code)
            assert reflection.id is not None
            duplicates.merge(session, reflection.id, into, actor, None, version)
            done.append(code)
        except (DomainError, GuardFailed) as error:
            session.rollback()
            failed.append((code, _why(error)))
    return into, done, failed


def _assign_all(
    session: Session,
    caller: Caller,
    chosen: list[tuple[str, int | None]],
    unit_code: str,
    category_code: str,
) -> tuple[list[str], Failures]:
    unit = session.exec(select(HandlingUnit).where(HandlingUnit.code == unit_code)).first()
    if unit is None or unit.id is None:
        return [], [(code, "invalid") for code, _ in chosen]
    done: list[str] = []
    failed: Failures = []
    for code, version in chosen:
        try:
            reflection, actor = open_reflection(session, caller, code)
            assert reflection.id is not None
            steps: list[tuple[LifecycleEvent, EventInput]] = []
            if reflection.state is LifecycleState.RECEIVED:
                classification = classification_of(session, reflection, category_code)
                if classification is None:
                    failed.append((code, "missing_classification"))
                    continue
                steps.append((E.CLASSIFY, classification))
            steps.append((E.ASSIGN, EventInput(handling_unit_id=unit.id)))
            apply_events(session, reflection.id, steps, actor, version)
            done.append(code)
        except (DomainError, GuardFailed) as error:
            session.rollback()
            failed.append((code, _why(error)))
    return done, failed


def _find(session: Session, code: str) -> Reflection | None:
    return session.exec(select(Reflection).where(Reflection.tracking_code == code)).first()
