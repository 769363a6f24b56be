"""Submitting, reading and searching reflections."""

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api import abuse
from api.deps import Caller, CallerDep, OptionalCallerDep, SessionDep, StaffActor
from api.lookup import (
    aware,
    open_reflection,
    open_reflection_with_photos,
    photo_file,
    row_for_code,
)
from api.pagination import CursorDep, LimitDep
from api.problems import TOO_MANY, problem_responses
from api.schemas import (
    ContactIn,
    HistoryView,
    Page,
    ReflectionView,
    SubmissionIn,
    SubmittedOut,
    UnitRef,
)
from api.unit_of_work import begin_reading, end_reading, end_writing
from api.views import Photos, reflection_page, reflection_view
from reflections.actors import Actor
from reflections.errors import Forbidden
from reflections.lifecycle import history, queries
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.intake import Submission, submit
from reflections.messaging.pins import issue_pin
from reflections.models import AdministrativeUnit, HandlingUnit, Membership, Reflection, User
from reflections.models.enums import (
    Channel,
    Language,
    LifecycleState,
    Priority,
    Role,
    SubmissionChannel,
)
from reflections.platform import clock
from reflections.platform.security import hash_secret

router = APIRouter(prefix="/api/v1", tags=["reflections"], responses=problem_responses())


def json_answer(model: BaseModel, status_code: int, headers: dict[str, str]) -> Response:
    """The model as its route's ``response_model`` (with ``response_model_exclude_unset``)
    sends it. Returned as a response, it is not validated again: a sync route's answer would
    be, in another trip to the thread pool, though it was built as that very model."""
    body = model.model_dump_json(exclude_unset=True)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def key_was_issued(session: Session, key: str) -> bool:
    """Whether a reflection was submitted with this citizen key, i.e. the service gave it out.
    A key the client chose itself (guessable, or shared between strangers) is never taken."""
    found = session.exec(
        select(Reflection.id).where(Reflection.secret_hash == hash_secret(key)).limit(1)
    ).first()
    return found is not None


def submit_reflection(
    session: Session,
    caller: Caller | None,
    body: SubmissionIn,
    photos: tuple[Photo, ...],
    request: Request | None = None,
) -> SubmittedOut:
    """The one submission path of the API and the web form: who submits decides the channel.
    Citizens are counted against the submission limits (their address and the contacts they
    name), service clients against the contacts' only, staff not at all."""
    actor, via, key = Actor.citizen(), SubmissionChannel.APP, None
    contact = body.contact or ContactIn()
    if caller is not None and caller.user is not None:
        actor, via = caller.actor, SubmissionChannel.HOTLINE  # an operator, for a citizen
    elif caller is not None and caller.client is not None:
        via = SubmissionChannel.OPEN311
        abuse.check_submission(request, contact.phone, contact.email, per_address=False)
    else:
        if caller is not None:
            key = caller.citizen_key  # a returning citizen keeps one key for all reflections
            if key and not key_was_issued(session, key):
                raise Forbidden(
                    "X-Citizen-Key opens no reflection: keys are given out by this service with "
                    "a first submission; leave the header out to receive one"
                )
        abuse.check_submission(request, contact.phone, contact.email)
    # Kept while the submission is checked and shown: the session finds it again by id.
    area = row_for_code(
        session, AdministrativeUnit, body.administrative_unit, "administrative_unit"
    )
    submitted = submit(
        session,
        Submission(
            description=body.description,
            latitude=body.latitude,
            longitude=body.longitude,
            address=body.address,
            administrative_unit_id=None if area is None else getattr(area, "id"),  # noqa: B009
            category_hint=body.category_hint,
            submitted_via=via,
            reporter_name=contact.name,
            reporter_phone=contact.phone,
            reporter_email=contact.email,
            language=contact.language,
            channels=tuple(contact.channels),
            citizen_key=key,
            photos=photos,
            urgent=body.urgent,
        ),
        actor,
    )
    reflection = submitted.reflection
    assert reflection.id is not None
    staff = caller is not None and caller.user is not None
    viewer = actor if staff else Actor.citizen(reflection.id)
    return SubmittedOut(
        tracking_code=reflection.tracking_code,
        citizen_key=submitted.citizen_key,
        # an operator reads six digits to the caller, not the long key
        hotline_pin=issue_pin(session, reflection, clock.now()) if staff else None,
        # its photos are those just attached: the view need not query them
        reflection=reflection_view(
            session, viewer, reflection, {reflection.id: Photos(list(submitted.photos))}
        ),
    )


@router.post(
    "/reflections",
    status_code=201,
    response_model=SubmittedOut,
    response_model_exclude_unset=True,
    responses=problem_responses(*TOO_MANY),
)
def submit_json(
    request: Request, session: SessionDep, caller: OptionalCallerDep, body: SubmissionIn
) -> Response:
    """Submit a reflection. Anonymous, or with a citizen key, an operator's token or an API key."""
    out = submit_reflection(session, caller, body, (), request)
    answer = json_answer(out, 201, {"Location": f"/api/v1/reflections/{out.tracking_code}"})
    end_writing(request)
    return answer


@router.post(
    "/reflections/with-photos",
    status_code=201,
    response_model=SubmittedOut,
    response_model_exclude_unset=True,
    responses=problem_responses(*TOO_MANY),
)
async def submit_multipart(
    request: Request,
    session: SessionDep,
    caller: OptionalCallerDep,
    response: Response,
    description: Annotated[str, Form(min_length=1, max_length=5000)],
    latitude: Annotated[float | None, Form(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Form(ge=-180, le=180)] = None,
    address: Annotated[str | None, Form(max_length=300)] = None,
    administrative_unit: Annotated[str | None, Form(max_length=64)] = None,
    category_hint: Annotated[str | None, Form(max_length=64)] = None,
    urgent: Annotated[bool, Form()] = False,
    contact_name: Annotated[str | None, Form(max_length=200)] = None,
    contact_phone: Annotated[str | None, Form(max_length=32)] = None,
    contact_email: Annotated[str | None, Form(max_length=254)] = None,
    language: Annotated[Language, Form()] = Language.VI,
    channels: Annotated[list[Channel] | None, Form(max_length=2)] = None,
    photos: Annotated[list[UploadFile] | None, File(description="JPEG, PNG or WebP")] = None,
) -> SubmittedOut:
    """Submit a reflection with photos (multipart/form-data)."""
    body = SubmissionIn(
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        administrative_unit=administrative_unit,
        category_hint=category_hint,
        urgent=urgent,
        contact=ContactIn(
            name=contact_name,
            phone=contact_phone,
            email=contact_email,
            language=language,
            channels=channels or [],
        ),
    )
    files = tuple([Photo(await upload.read(), upload.filename) for upload in photos or []])
    out = await run_in_threadpool(submit_reflection, session, caller, body, files, request)
    response.headers["Location"] = f"/api/v1/reflections/{out.tracking_code}"
    return out


@router.get(
    "/reflections/{tracking_code}", response_model=ReflectionView, response_model_exclude_unset=True
)
def read(session: SessionDep, caller: CallerDep, tracking_code: str) -> Response:
    """One reflection: state, deadlines, unit, and what the caller may do now."""
    begin_reading(session)
    reflection, actor, photos = open_reflection_with_photos(session, caller, tracking_code)
    assert reflection.id is not None
    view = reflection_view(session, actor, reflection, {reflection.id: photos})
    answer = json_answer(view, 200, {"ETag": f'"{reflection.version}"'})
    end_reading(session)
    return answer


@router.get("/reflections/{tracking_code}/history", response_model=list[HistoryView])
def timeline(session: SessionDep, caller: CallerDep, tracking_code: str) -> list[HistoryView]:
    """Every change, oldest first, with who, when, what and why."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    return history_views(session, reflection.id, internal=actor.role is not Role.CITIZEN)


def staff_units(session: Session, user_ids: Iterable[int | None]) -> dict[int, UnitRef]:
    """Each staff member's unit: their handling unit, else their area (the first membership)."""
    wanted = sorted(i for i in user_ids if i is not None)
    found: dict[int, UnitRef] = {}
    memberships = session.exec(
        select(Membership).where(col(Membership.user_id).in_(wanted)).order_by(col(Membership.id))
    ).all()
    for membership in memberships:
        unit: HandlingUnit | AdministrativeUnit | None = (
            session.get(HandlingUnit, membership.handling_unit_id)
            if membership.handling_unit_id
            else session.get(AdministrativeUnit, membership.administrative_unit_id)
        )
        if unit is not None and membership.user_id not in found:
            found[membership.user_id] = UnitRef(
                code=unit.code, name=unit.name, name_en=unit.name_en
            )
    return found


def history_views(
    session: Session, reflection_id: int, *, internal: bool = True
) -> list[HistoryView]:
    """A reflection's history rows with who acted: for staff (``internal``) the usernames, for
    citizens only the unit and the role (a username names a person), and without the staff's
    internal notes and takes."""
    rows = history.timeline(session, reflection_id)
    if not internal:
        rows = history.citizen_timeline(rows)
    user_ids = {row.actor_user_id for row in rows if row.actor_user_id}
    names = dict(
        session.exec(select(User.id, User.username).where(col(User.id).in_(user_ids))).all()
    )
    units = staff_units(session, user_ids)
    if not internal:
        names = {}
    return [
        HistoryView(
            seq=row.seq,
            event=row.event,
            from_state=row.from_state,
            from_stage=row.from_stage,
            to_state=row.to_state,
            to_stage=row.to_stage,
            actor_role=row.actor_role,
            actor=names.get(row.actor_user_id) if row.actor_user_id else None,
            actor_unit=units.get(row.actor_user_id) if row.actor_user_id else None,
            payload=row.payload,
            reason=row.reason,
            occurred_at=row.occurred_at,
            hash=row.hash,
        )
        for row in rows
    ]


@router.get(
    "/reflections/{tracking_code}/photos/{sha256}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def photo(session: SessionDep, caller: CallerDep, tracking_code: str, sha256: str) -> Response:
    reflection, _ = open_reflection(session, caller, tracking_code)
    return photo_file(session, reflection, sha256)


@router.get("/reflections", response_model=Page[ReflectionView], response_model_exclude_unset=True)
def search(
    session: SessionDep,
    actor: StaffActor,
    limit: LimitDep = 50,
    cursor: CursorDep = None,
    state: LifecycleState | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=64, description="Handling unit code.")] = None,
    priority: Priority | None = None,
    overdue: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text or tracking code.")] = None,
) -> Page[ReflectionView]:
    """Search the reflections the caller may see, newest first."""
    filters = queries.SearchFilters(
        state=state,
        category_code=category,
        unit_code=unit,
        priority=priority,
        overdue=overdue,
        created_from=aware(created_from, "created_from"),
        created_to=aware(created_to, "created_to"),
        text=q,
    )
    statement = queries.search(session, actor, filters)
    newest = col(Reflection.created_at)
    return reflection_page(session, actor, statement, newest, limit, cursor, descending=True)


@router.get(
    "/citizen/reflections",
    response_model=Page[ReflectionView],
    response_model_exclude_unset=True,
    tags=["citizens"],
)
def my_reflections(
    session: SessionDep, caller: CallerDep, limit: LimitDep = 50, cursor: CursorDep = None
) -> Page[ReflectionView]:
    """A citizen's own reflections, newest first: those submitted with their key, or, signed
    in by a code, every one made with their contact (also by an operator) or followed."""
    key_hash = caller.citizen_key_hash
    if caller.contact is not None:
        statement = queries.contact_reflections(caller.contact)
    elif key_hash is not None:
        statement = queries.citizen_reflections(key_hash)
    else:
        raise Forbidden("this lists a citizen's reflections: send X-Citizen-Key")
    newest = col(Reflection.created_at)
    return reflection_page(
        session, Actor.citizen(), statement, newest, limit, cursor, descending=True
    )
