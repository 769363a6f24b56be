"""Open311 GeoReport v2 under ``/open311/v2``: services, requests (GET, POST) and tokens.

One jurisdiction, so ``jurisdiction_id`` is accepted and ignored. Names come in Vietnamese,
or in English with ``?lang=en`` (or, without ``lang``, an ``Accept-Language`` starting with
``en``). Every service is ``realtime``: the POST answer carries the tracking code as
``service_request_id`` and, for clients that expect one, as ``token`` too. Citizens' photos
are not public: ``media_url`` is the URL a client POSTed while a request is open, and the
unit's first result photo (served by the public results feed) once it is processed.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from sqlmodel import Session, col, select

from api import abuse
from api.deps import SessionDep
from api.open311 import intake, mapping, search
from api.open311.render import Format, Open311Error, Open311Route, documented, render
from api.open311.schemas import (
    CreatedRequest,
    RequestToken,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from api.routes.public import photo_url
from reflections.actors import Actor
from reflections.lifecycle.intake import submit
from reflections.models import Category, Reflection
from reflections.models.enums import Language
from reflections.organisation.auth import client_for_api_key
from reflections.platform import clock

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)

FormatPath = Annotated[Format, Path(description="Response format: `json` or `xml`.")]
Code = Annotated[str, Path(max_length=64)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
# A string parsed by search.w3_datetime: pydantic would also take numbers as Unix timestamps.
# Empty is absent (the specification's "optional arguments").
W3DateTime = (
    Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    | Annotated[str, Field(max_length=0)]
    | SkipJsonSchema[None]
)
Statuses = Annotated[str, Field(pattern=r"^((open|closed)(,(open|closed))*)?$")]


def _language(
    lang: Annotated[
        Language | SkipJsonSchema[None],
        Query(description="Language of names and notices: vi (default), en."),
    ] = None,
    accept_language: Annotated[str | SkipJsonSchema[None], Header(max_length=200)] = None,
) -> Language:
    """``lang`` wins; otherwise English only when it is the client's first choice."""
    if lang is not None:
        return lang
    first = (accept_language or "").split(",")[0].strip().lower()
    return Language.EN if first.startswith("en") else Language.VI


LanguageDep = Annotated[Language, Depends(_language)]


async def _form_attributes(request: Request) -> dict[str, list[str]]:
    """``attribute[code]`` fields have open-ended names, so they are read from the raw form."""
    return intake.attributes_of((await request.form()).multi_items())


def _reflection(session: Session, code: str, name: str = "service_request_id") -> Reflection:
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == code.strip().upper())
    ).first()
    if reflection is None:
        raise Open311Error(404, f"{name} {code!r} was not found")
    return reflection


def _photo_urls(request: Request) -> mapping.PhotoUrl:
    return lambda code, sha256: photo_url(request, code, sha256)


@router.get(
    "/services.{format}",
    response_model=None,
    responses=documented(list[Service], "The service list."),
)
def services(session: SessionDep, format: FormatPath, language: LanguageDep) -> Response:
    """GET Service List: our active categories."""
    rows = session.exec(
        select(Category).where(col(Category.active).is_(True)).order_by(col(Category.code))
    ).all()
    return render(format, [mapping.service(row, language) for row in rows], "services", "service")


@router.get(
    "/services/{service_code}.{format}",
    response_model=None,
    responses=documented(ServiceDefinition, "The service definition.", 404),
)
def service_definition(
    session: SessionDep, service_code: Code, format: FormatPath, language: LanguageDep
) -> Response:
    """GET Service Definition: one optional attribute, ``urgent`` (dangerous or urgent)."""
    category = intake.active_category(session, service_code)
    definition = mapping.service_definition(category, language)
    return render(format, definition, "service_definition", "")


@router.post(
    "/requests.{format}",
    response_model=None,
    status_code=201,
    responses=documented(list[CreatedRequest], "Created.", 403, 404, 429, success=201),
)
def create_request(
    session: SessionDep,
    format: FormatPath,
    language: LanguageDep,
    attributes: Annotated[dict[str, list[str]], Depends(_form_attributes)],
    service_code: Annotated[str, Form(min_length=1, max_length=64)],
    api_key: Annotated[
        str | SkipJsonSchema[None], Form(max_length=200, description="Required.")
    ] = None,
    lat: Annotated[Latitude | SkipJsonSchema[None], Form()] = None,
    long: Annotated[Longitude | SkipJsonSchema[None], Form()] = None,
    address_string: Annotated[str | SkipJsonSchema[None], Form(max_length=300)] = None,
    address_id: Annotated[
        str | SkipJsonSchema[None],
        Form(max_length=64, description="An administrative unit's code."),
    ] = None,
    email: Annotated[str | SkipJsonSchema[None], Form(max_length=254)] = None,
    device_id: Annotated[
        str | SkipJsonSchema[None], Form(max_length=200, description="Not stored.")
    ] = None,
    account_id: Annotated[
        str | SkipJsonSchema[None], Form(max_length=200, description="Not stored; echoed back.")
    ] = None,
    first_name: Annotated[str | SkipJsonSchema[None], Form(max_length=99)] = None,
    last_name: Annotated[str | SkipJsonSchema[None], Form(max_length=99)] = None,
    phone: Annotated[str | SkipJsonSchema[None], Form(max_length=32)] = None,
    description: Annotated[
        str | SkipJsonSchema[None], Form(max_length=intake.MAX_DESCRIPTION)
    ] = None,
    media_url: Annotated[str | SkipJsonSchema[None], Form(max_length=1000)] = None,
    api_key_query: Annotated[
        str | SkipJsonSchema[None],
        Query(alias="api_key", max_length=200, description="Refused: send it in the form."),
    ] = None,
    api_key_header: Annotated[
        str | SkipJsonSchema[None],
        Header(alias="X-API-Key", max_length=200, description="Or in the form."),
    ] = None,
) -> Response:
    """POST Service Request through the same domain service as the native API.

    Location: ``lat`` and ``long``, ``address_string`` or ``address_id``.
    ``attribute[urgent]=true`` makes it an emergency; other ``attribute[code]`` fields are
    accepted and kept in the description.
    """
    if api_key_query:  # a key in a URL ends up in logs and histories: refused, never used
        raise Open311Error(
            400, "api_key: send it in the form body (or the X-API-Key header), not in the URL"
        )
    key = api_key or api_key_header
    if not key:
        raise Open311Error(403, "api_key is required -- can't proceed with create_request")
    client_for_api_key(session, key)
    abuse.check_submission(None, phone, email, per_address=False)
    posted = intake.Posted(
        service_code=service_code,
        lat=lat,
        long=long,
        address_string=address_string,
        address_id=address_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        description=description,
        media_url=media_url,
        attributes=attributes,
    )
    submitted = submit(session, intake.submission(session, posted, language), Actor.citizen())
    reflection = submitted.reflection
    notice = mapping.notice(reflection.state, reflection.assignment_stage, language)
    label = "Tracking code" if language is Language.EN else "Mã theo dõi"
    created = CreatedRequest(
        service_request_id=reflection.tracking_code,
        token=reflection.tracking_code,
        service_notice=f"{notice} {label}: {reflection.tracking_code}.",
        account_id=account_id,
    )
    return render(format, [created], "service_requests", "request", status=201)


@router.get(
    "/requests.{format}",
    response_model=None,
    responses=documented(list[ServiceRequest], "Service requests, newest first."),
)
def service_requests(
    session: SessionDep,
    request: Request,
    format: FormatPath,
    language: LanguageDep,
    service_request_id: Annotated[
        str | SkipJsonSchema[None],
        Query(max_length=20000, description="Comma separated; overrides the rest."),
    ] = None,
    service_code: Annotated[
        str | SkipJsonSchema[None], Query(max_length=2000, description="Comma separated.")
    ] = None,
    start_date: Annotated[W3DateTime, Query(description="Default: end_date - 90 days.")] = None,
    end_date: Annotated[W3DateTime, Query(description="Default: now.")] = None,
    status: Annotated[
        Statuses | SkipJsonSchema[None],
        Query(description="open, closed, or both comma separated."),
    ] = None,
) -> Response:
    """GET Service Requests: at most 90 days and 1000 requests."""
    found = search.filters(
        service_request_id, service_code, status, start_date, end_date, clock.now()
    )
    rows = session.exec(search.statement(found)).all()
    items = mapping.service_requests(session, rows, language, _photo_urls(request))
    return render(format, items, "service_requests", "request")


@router.get(
    "/requests/{service_request_id}.{format}",
    response_model=None,
    responses=documented(list[ServiceRequest], "The service request.", 404),
)
def service_request(
    session: SessionDep,
    request: Request,
    service_request_id: Code,
    format: FormatPath,
    language: LanguageDep,
) -> Response:
    """GET Service Request: a list of one, as the specification shows it."""
    reflection = _reflection(session, service_request_id)
    items = mapping.service_requests(session, [reflection], language, _photo_urls(request))
    return render(format, items, "service_requests", "request")


@router.get(
    "/tokens/{token}.{format}",
    response_model=None,
    responses=documented(list[RequestToken], "The request the token names.", 404),
)
def token(session: SessionDep, token: Code, format: FormatPath) -> Response:
    """GET service_request_id from a token: our tokens are the tracking codes."""
    reflection = _reflection(session, token, "token")
    found = RequestToken(
        service_request_id=reflection.tracking_code, token=reflection.tracking_code
    )
    return render(format, [found], "service_requests", "request")
