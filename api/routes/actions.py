"""One endpoint per lifecycle event, each calling the one domain service.

``If-Match: "<version>"`` makes the action conditional: a stale version is a 409.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, CallerDep, SessionDep
from api.lookup import aware, id_for_code, open_reflection
from api.problems import problem_responses
from api.schemas import ReflectionView
from api.views import reflection_view
from reflections.errors import InvalidInput
from reflections.lifecycle import publication
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.service import NOTIFY_COORDINATORS, EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, HandlingUnit
from reflections.models.enums import LifecycleEvent, Priority

router = APIRouter(prefix="/api/v1/reflections", tags=["actions"], responses=problem_responses())
MAX_VERSION_DIGITS = 9  # a reflection has far fewer history events than 10**9
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='The version you read, e.g. "3".')
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class OptionalReason(_Body):
    reason: str | None = Field(default=None, max_length=2000)


class Classify(_Body):
    category: str = Field(max_length=64, description="Category code.")
    priority: Priority
    administrative_unit: str = Field(max_length=64, description="Ward/commune code.")
    publish: bool = Field(
        default=False,
        description="Publish what the citizen wrote (or `public_summary`) with the classification.",
    )
    public_summary: str | None = Field(
        default=None,
        max_length=publication.MAX_SUMMARY,
        description="With `publish`: the text to publish instead of the description.",
    )


class Assign(_Body):
    handling_unit: str = Field(max_length=64, description="Handling unit code.")
    reason: str | None = Field(default=None, max_length=2000)


class Return(Reason):
    suggested_unit: str | None = Field(default=None, max_length=64)


class RequestExtension(Reason):
    new_due_at: datetime


class GrantExtension(OptionalReason):
    new_due_at: datetime | None = Field(default=None, description="Defaults to the requested.")


class Process(_Body):
    result: str = Field(min_length=1, max_length=5000)


class Note(_Body):
    text: str = Field(min_length=1, max_length=2000, description="Seen by staff only.")
    notify_coordinators: bool = Field(
        default=False, description="Also tell the coordinators (a supervisor's reminder)."
    )


class Confirm(_Body):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


def _unit(session: Session, code: str | None, field: str) -> int | None:
    return id_for_code(session, HandlingUnit, code, field)


# event, path, body model, and how the body becomes the domain's EventInput
ACTIONS: list[tuple[LifecycleEvent, str, type[_Body], Callable[[Session, Any], EventInput]]] = [
    (
        LifecycleEvent.CLASSIFY,
        "classify",
        Classify,
        lambda s, b: EventInput(
            category_id=id_for_code(s, Category, b.category, "category"),
            priority=b.priority,
            administrative_unit_id=id_for_code(
                s, AdministrativeUnit, b.administrative_unit, "administrative_unit"
            ),
        ),
    ),
    (LifecycleEvent.REJECT, "reject", Reason, lambda s, b: EventInput(reason=b.reason)),
    (
        LifecycleEvent.ASSIGN,
        "assign",
        Assign,
        lambda s, b: EventInput(
            handling_unit_id=_unit(s, b.handling_unit, "handling_unit"), reason=b.reason
        ),
    ),
    (LifecycleEvent.ACCEPT, "accept", OptionalReason, lambda s, b: EventInput(reason=b.reason)),
    (
        LifecycleEvent.RETURN,
        "return",
        Return,
        lambda s, b: EventInput(
            reason=b.reason, suggested_unit_id=_unit(s, b.suggested_unit, "suggested_unit")
        ),
    ),
    (
        LifecycleEvent.REASSIGN,
        "reassign",
        Assign,
        lambda s, b: EventInput(
            handling_unit_id=_unit(s, b.handling_unit, "handling_unit"), reason=b.reason
        ),
    ),
    (
        LifecycleEvent.REQUEST_EXTENSION,
        "extension/request",
        RequestExtension,
        lambda s, b: EventInput(reason=b.reason, new_due_at=aware(b.new_due_at, "new_due_at")),
    ),
    (
        LifecycleEvent.GRANT_EXTENSION,
        "extension/grant",
        GrantExtension,
        lambda s, b: EventInput(reason=b.reason, new_due_at=aware(b.new_due_at, "new_due_at")),
    ),
    (
        LifecycleEvent.DENY_EXTENSION,
        "extension/deny",
        Reason,
        lambda s, b: EventInput(reason=b.reason),
    ),
    (LifecycleEvent.PROCESS, "process", Process, lambda s, b: EventInput(result=b.result)),
    (LifecycleEvent.SEND_BACK, "send-back", Reason, lambda s, b: EventInput(reason=b.reason)),
    (
        LifecycleEvent.CONFIRM,
        "confirm",
        Confirm,
        lambda s, b: EventInput(rating=b.rating, comment=b.comment),
    ),
    (LifecycleEvent.REOPEN, "reopen", Reason, lambda s, b: EventInput(reason=b.reason)),
    # the citizen adds information while it is open (issue 16): a history row staff read
    (LifecycleEvent.ADD_INFO, "information", Reason, lambda s, b: EventInput(reason=b.reason)),
    (LifecycleEvent.ESCALATE, "escalate", OptionalReason, lambda s, b: EventInput(reason=b.reason)),
    (
        LifecycleEvent.NOTE,
        "notes",
        Note,
        lambda s, b: EventInput(
            reason=b.text, notify=NOTIFY_COORDINATORS if b.notify_coordinators else None
        ),
    ),
]


def version_of(if_match: str | None) -> int | None:
    """The version an If-Match names; None when there is none."""
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_VERSION_DIGITS:
        raise InvalidInput("If-Match", 'must be a version the API gave out, e.g. "3"')
    return int(value)


def act(
    session: Session,
    caller: Caller,
    tracking_code: str,
    event: LifecycleEvent,
    data: EventInput,
    if_match: str | None,
    response: Response,
    publish: tuple[bool, str | None] | None = None,
) -> ReflectionView:
    """``publish``: a publication decision (published, summary) committed with the event."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    expected = version_of(if_match)
    if publish is not None:
        try:
            publication.decide(session, reflection, actor, *publish)
        except BaseException:
            session.rollback()
            raise
    updated = apply_event(session, reflection.id, event, actor, data, expected)
    response.headers["ETag"] = f'"{updated.version}"'
    return reflection_view(session, actor, updated)


def _publication_of(body: object) -> tuple[bool, str | None] | None:
    """The publication decision a classify body carries, if any."""
    if isinstance(body, Classify) and (body.publish or body.public_summary):
        return body.publish, body.public_summary
    return None


def _register(
    event: LifecycleEvent,
    path: str,
    model: type[_Body],
    to_input: Callable[[Session, Any], EventInput],
) -> None:
    def endpoint(
        session: SessionDep,
        caller: CallerDep,
        tracking_code: str,
        body: model,  # type: ignore[valid-type]
        response: Response,
        if_match: IfMatch = None,
    ) -> ReflectionView:
        data = to_input(session, body)
        publish = _publication_of(body)
        return act(session, caller, tracking_code, event, data, if_match, response, publish)

    endpoint.__name__ = f"{event.value}_reflection"
    router.add_api_route(
        f"/{{tracking_code}}/{path}",
        endpoint,
        methods=["POST"],
        response_model=ReflectionView,
        response_model_exclude_unset=True,
        summary=event.value.replace("_", " ").capitalize(),
        responses={409: {"description": "Not allowed in this state, or a stale If-Match."}},
    )


for _event, _path, _model, _to_input in ACTIONS:
    _register(_event, _path, _model, _to_input)


@router.post(
    "/{tracking_code}/process/with-photos",
    response_model=ReflectionView,
    response_model_exclude_unset=True,
    summary="Process, with photos of the result",
)
async def process_with_photos(
    session: SessionDep,
    caller: CallerDep,
    tracking_code: str,
    response: Response,
    result: Annotated[str, Form(min_length=1, max_length=5000)],
    photos: Annotated[list[UploadFile] | None, File(description="JPEG, PNG or WebP")] = None,
    if_match: IfMatch = None,
) -> ReflectionView:
    files = tuple([Photo(await upload.read(), upload.filename) for upload in photos or []])
    data = EventInput(result=result, photos=files)
    return await run_in_threadpool(
        act, session, caller, tracking_code, LifecycleEvent.PROCESS, data, if_match, response
    )


@router.post(
    "/{tracking_code}/take",
    response_model=ReflectionView,
    response_model_exclude_unset=True,
    summary="Take the task (a handler of the unit, for themselves)",
    responses={409: {"description": "Not allowed in this state, or a stale If-Match."}},
)
def take(
    session: SessionDep,
    caller: CallerDep,
    tracking_code: str,
    response: Response,
    if_match: IfMatch = None,
) -> ReflectionView:
    """The unit's inbox then shows the task as the caller's ("mine")."""
    data = EventInput(assignee_user_id=caller.actor.user_id)
    return act(session, caller, tracking_code, LifecycleEvent.TAKE, data, if_match, response)


class Publish(_Body):
    public_summary: str | None = Field(
        default=None,
        max_length=publication.MAX_SUMMARY,
        description="The text to publish instead of the citizen's description (names, phone "
        "numbers and house numbers taken out). Without it, the description is published.",
    )


@router.post(
    "/{tracking_code}/publish",
    response_model=ReflectionView,
    response_model_exclude_unset=True,
    summary="Publish what the citizen wrote (a coordinator's decision)",
)
def publish(
    session: SessionDep, caller: CallerDep, tracking_code: str, body: Publish | None = None
) -> ReflectionView:
    """Public views then show the summary (or the description) and the place rounded to 3
    decimals; before, only category, ward, status, dates and agency. Recorded with who and
    when; not a lifecycle event, so the version does not change."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    summary = body.public_summary if body else None
    publication.publish_now(session, reflection, actor, True, summary)
    return reflection_view(session, actor, reflection)


@router.post(
    "/{tracking_code}/unpublish",
    response_model=ReflectionView,
    response_model_exclude_unset=True,
    summary="Take what the citizen wrote off public view",
)
def unpublish(session: SessionDep, caller: CallerDep, tracking_code: str) -> ReflectionView:
    """Public views go back to category, ward, status, dates and agency."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    publication.publish_now(session, reflection, actor, False)
    return reflection_view(session, actor, reflection)
