"""SMS through the twilio client, pointed at any base URL (a Prism mock in tests/staging)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.messages import Message, OnOutcome, Outcome, told, wrong_channel
from notifications.segments import sms_text

TWILIO_API = "https://api.twilio.com"
INVALID_TO_NUMBER = 21211

# Set around each send, in the worker thread's copy of the context (asyncio.to_thread).
_idempotency_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "twilio_idempotency_token", default=None
)


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """Account and sender; ``base_url`` replaces https://api.twilio.com (mocks, staging)."""

    account_sid: str
    auth_token: str
    status_callback_url: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    base_url: str = TWILIO_API
    timeout: float = 15.0
    strip_diacritics: bool = False


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The twilio client has no base-URL setting; rewriting the host here is the seam.

    It also sends the outbox row's key as ``I-Twilio-Idempotency-Token``, so a proxy, a log or
    a test can tie each request to its row. Twilio's Messages API documents no idempotency key
    for sending, so this does not stop a duplicate: a retry after a response lost in transit
    can deliver an SMS twice (the status callback's ``key`` shows which row it was).
    """

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        token = _idempotency_token.get()
        if token is not None:
            headers = {**(headers or {}), "I-Twilio-Idempotency-Token": token}
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


def classify_twilio_error(message: Message, exc: TwilioRestException) -> Outcome:
    """21211 and other 4xx are the request's fault (retrying repeats them); 429, 5xx are not."""
    text = f"HTTP {exc.status}" + (f" code {exc.code}" if exc.code else "") + f": {exc.msg}"
    if exc.code == INVALID_TO_NUMBER:
        return Outcome.permanent(message, text)
    if exc.status == 429 or exc.status >= 500:
        return Outcome.transient(message, text)
    if 400 <= exc.status < 500:
        return Outcome.permanent(message, text)
    return Outcome.transient(message, text)


class TwilioChannel:
    """Sends a batch with messages.create in a worker thread (the client is sync)."""

    def __init__(self, config: TwilioConfig, http_client: TwilioHttpClient | None = None) -> None:
        if not (config.from_number or config.messaging_service_sid):
            raise ValueError("TwilioConfig needs from_number or messaging_service_sid")
        self.config = config
        self.client = Client(
            config.account_sid,
            config.auth_token,
            http_client=http_client or BaseUrlHttpClient(config.base_url, config.timeout),
        )

    def status_callback(self, message: Message) -> str:
        """The configured URL plus the idempotency key, so a callback finds its outbox row
        even if the SID was never stored (a crash between send and commit)."""
        url = self.config.status_callback_url
        separator = "&" if "?" in url else "?"
        return url + separator + urlencode({"key": message.idempotency_key})

    def _create(self, message: Message) -> str:
        kwargs: dict[str, Any] = {
            "to": message.recipient,
            "body": sms_text(message.text, self.config.strip_diacritics),
            "status_callback": self.status_callback(message),
        }
        if self.config.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.config.messaging_service_sid
        if self.config.from_number:
            kwargs["from_"] = self.config.from_number
        created = self.client.messages.create(**kwargs)
        return str(created.sid)

    def _send_one(self, message: Message) -> Outcome:
        if message.channel != "sms":
            return wrong_channel(message, "sms")
        token = _idempotency_token.set(message.idempotency_key)
        try:
            sid = self._create(message)
        except TwilioRestException as exc:
            return classify_twilio_error(message, exc)
        except Exception as exc:  # timeouts, refused connections, TLS: the network's fault
            return Outcome.transient(message, f"{type(exc).__name__}: {exc}")
        finally:
            _idempotency_token.reset(token)
        return Outcome.sent(message, sid)

    def _send_all(self, messages: Sequence[Message]) -> list[Outcome]:
        return [self._send_one(message) for message in messages]

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        """The whole batch in one worker thread, one message after another: a thread hop per
        message cost the dispatcher two wake-ups per SMS, which a busy machine makes slow.
        The outcomes are told once the batch is back (the dispatcher records a chunk at once
        anyway); a batch cancelled meanwhile still finishes its sends in the thread."""
        outcomes = await asyncio.to_thread(self._send_all, messages)
        return [told(on_outcome, index, outcome) for index, outcome in enumerate(outcomes)]
