"""Twilio's SMS delivery-status callback (DESIGN.md §6).

Twilio POSTs a form (``application/x-www-form-urlencoded``) to the status callback URL each
time a message's status changes. Twilio cannot log in: the ``X-Twilio-Signature`` header, an
HMAC of the URL and the form keyed with the account's auth token, is the authentication.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response
from pydantic.json_schema import SkipJsonSchema
from twilio.request_validator import RequestValidator

from api.deps import SessionDep
from api.problems import problem_responses
from reflections.errors import Forbidden, NotFound
from reflections.messaging.channels import TWILIO_STATUS_PATH, twilio_status_callback_url
from reflections.messaging.delivery_status import record_delivery_status
from reflections.platform import clock
from reflections.platform.settings import get_settings

router = APIRouter(tags=["notifications"])

SignatureHeader = Annotated[
    str | SkipJsonSchema[None],
    Header(
        alias="X-Twilio-Signature",
        max_length=200,
        description="Twilio's signature of the URL and the form; required.",
    ),
]


async def twilio_signed(request: Request, signature: SignatureHeader = None) -> None:
    """Refuse the request unless Twilio signed it with our auth token.

    Runs before the form fields are validated, so an unsigned request learns nothing more than
    403. The URL checked is the one Twilio called, rebuilt from ``public_url`` (what
    :func:`reflections.messaging.channels.twilio_status_callback_url` gave Twilio) plus the query
    string as received, byte for byte (it carries the outbox ``key``, and Twilio signs it too). Not
    ``request.url``: behind a proxy or load balancer that terminates TLS, the app sees its own
    scheme, host and port (``http://10.0.0.5:8000``), not the public ones Twilio signed. The
    validator tries the URL with and without the default port, as Twilio's signing varies.
    Every form field counts, including ones this route does not read (``SmsSid``, ``To``...).

    Only the auth-token (HMAC-SHA1) signature is checked: webhooks signed with a Twilio
    SharedKey (``X-Twilio-Webhooks-Signature-Settings``) are refused.
    """
    token = get_settings().twilio_auth_token
    if token is None or not token.get_secret_value():
        raise NotFound("Twilio is not configured: there are no SMS delivery statuses here")
    if not signature:
        raise Forbidden("the X-Twilio-Signature header is missing")
    form = await request.form()
    if not all(isinstance(value, str) for _, value in form.multi_items()):
        raise Forbidden("Twilio never uploads files: not a Twilio request")
    url = twilio_status_callback_url()
    if request.url.query:
        url += "?" + request.url.query
    if not bool(RequestValidator(token.get_secret_value()).validate(url, form, signature)):
        raise Forbidden("the X-Twilio-Signature does not match this request")


@router.post(
    TWILIO_STATUS_PATH,
    status_code=204,
    response_class=Response,
    dependencies=[Depends(twilio_signed)],
    responses=problem_responses(
        403,
        "The X-Twilio-Signature header is missing or does not match.",
        404,
        "Twilio is not configured, or no outbox message has this key or MessageSid.",
        422,
        "A field is missing or invalid, or MessageStatus is not a known status.",
    ),
)
def twilio_status(
    session: SessionDep,
    message_sid: Annotated[str, Form(alias="MessageSid", min_length=1, max_length=64)],
    message_status: Annotated[
        str,
        Form(
            alias="MessageStatus",
            min_length=1,
            max_length=32,
            description="queued, sending, sent, delivered, undelivered, failed, read...",
        ),
    ],
    error_code: Annotated[
        str | SkipJsonSchema[None],
        Form(alias="ErrorCode", max_length=16, description="With undelivered and failed."),
    ] = None,
    key: Annotated[
        str | SkipJsonSchema[None],
        Query(max_length=200, description="The outbox message's idempotency key."),
    ] = None,
) -> Response:
    """Record a message's delivery status, as Twilio reports it (its signature required).

    No staff login: only Twilio can sign. Statuses never move backwards (a late ``sent`` after
    ``delivered`` changes nothing); ``undelivered`` and ``failed`` keep Twilio's error code as
    the message's last error. Other fields Twilio sends (``AccountSid``, ``To``, ``From``...)
    are accepted and covered by the signature. Twilio does not retry on a 4xx.
    """
    row = record_delivery_status(session, key, message_sid, message_status, error_code, clock.now())
    if row is None:
        raise NotFound(f"no outbox message with key {key!r} or MessageSid {message_sid!r}")
    return Response(status_code=204)
