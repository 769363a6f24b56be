"""Email through aiosmtplib: one SMTP connection per batch (or per run of batches inside
:meth:`SmtpChannel.held`), one Outcome per message."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from notifications.messages import Message, OnOutcome, Outcome, told, wrong_channel


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Connection settings; the product's settings map onto this, so the channel needs no app.

    ``use_tls`` is implicit TLS (port 465), ``start_tls`` upgrades a plain connection (587);
    both false is plain SMTP (a local relay, tests).
    """

    host: str
    port: int
    from_address: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = 30.0


def message_id(idempotency_key: str, from_address: str) -> str:
    """Derived from the idempotency key, so a retried send carries the same Message-ID and
    receiving systems can drop the duplicate."""
    domain = from_address.rpartition("@")[2].strip(">") or "localhost"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_email(message: Message, from_address: str) -> EmailMessage:
    """UTF-8 headers and body; multipart/alternative when there is an HTML part."""
    mail = EmailMessage()
    mail["From"] = from_address
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id(message.idempotency_key, from_address)
    mail["Auto-Submitted"] = "auto-generated"  # no vacation auto-replies to the service
    mail.set_content(message.text, charset="utf-8")
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    mail["Content-Language"] = message.language  # after the content: set_content drops it
    return mail


# The relay, not the message: its greeting, EHLO, login or our sender refused (even with a 5xx),
# or the connection lost. Every message of the batch would meet the same answer, and it is
# fixed on the relay's side: retry them all later, as for a relay that is down.
_RELAY_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPSenderRefused,
    aiosmtplib.SMTPNotSupported,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
)


def _relay_fault(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    text = getattr(exc, "message", None) or str(exc)
    return f"relay: {code} {text}" if code else f"relay: {type(exc).__name__}: {text}"


def _classify(message: Message, exc: Exception) -> Outcome:
    if isinstance(exc, _RELAY_ERRORS):
        return Outcome.transient(message, _relay_fault(exc))
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if all(code >= 500 for code in codes):
            return Outcome.permanent(message, f"recipient refused: {text}")
        return Outcome.transient(message, f"recipient deferred: {text}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        if exc.code >= 500:
            return Outcome.permanent(message, text)
        return Outcome.transient(message, text)
    if isinstance(exc, ValueError):  # an address aiosmtplib or email refuses to put on the wire
        return Outcome.permanent(message, f"invalid message: {exc}")
    return Outcome.transient(message, f"{type(exc).__name__}: {exc}")


# Python's folding at 78 columns drops the space between two encoded words that it splits a
# Vietnamese subject into ("hạn xử lý" arrives as "hạnxử lý"); RFC 5322 allows 998.
_WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


def _wire(mail: EmailMessage) -> bytes:
    return mail.as_bytes(policy=_WIRE_POLICY)


@dataclass(frozen=True, slots=True)
class _Wire:
    """A message of the batch ready to go: its place, its Message-ID and its bytes."""

    index: int
    message: Message
    message_id: str
    data: bytes


class SmtpChannel:
    """Sends a batch over one connection: a relay limits connections, not messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.envelope_from = parseaddr(config.from_address)[1] or config.from_address
        self.local_hostname: str | None = None  # what EHLO says; looked up once, not per batch
        self._holding = False
        self._idle: aiosmtplib.SMTP | None = None  # kept between batches inside held()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Inside it, batches share one connection: opened when first needed, kept after a
        batch that ended well, checked with a NOOP before the next one (a new connection if
        the relay dropped it meanwhile), quit on the way out. The dispatcher holds it for one
        run, so a run of chunks costs one connect, EHLO and QUIT rather than one per chunk.
        A connection belongs to its event loop: leave this before the loop ends."""
        if self._holding:  # nested: the outer one closes
            yield
            return
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            idle, self._idle = self._idle, None
            if idle is not None:
                await _quit(idle)

    async def _client(self) -> aiosmtplib.SMTP:
        c = self.config
        if self.local_hostname is None:
            self.local_hostname = await asyncio.to_thread(socket.getfqdn)
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            local_hostname=self.local_hostname,
            username=c.username,
            password=c.password,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            timeout=c.timeout,
        )

    async def _kept(self) -> aiosmtplib.SMTP | None:
        """The connection kept from the previous batch, if the relay still answers on it."""
        idle, self._idle = self._idle, None
        if idle is None:
            return None
        if idle.is_connected:
            try:
                await idle.noop()
            except (aiosmtplib.SMTPException, OSError):
                pass
            else:
                return idle
        idle.close()
        return None

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}

        def settle(index: int, outcome: Outcome) -> None:
            outcomes[index] = told(on_outcome, index, outcome)

        # Each message is built and flattened to its bytes at once and only the bytes kept:
        # a batch of EmailMessage objects (a few hundred objects each) held until its turn
        # lived long enough for the garbage collector to promote, and then made it run full
        # collections over the whole heap several times as often as a send loop does.
        pending: list[_Wire] = []
        for index, message in enumerate(messages):
            if message.channel != "email":
                settle(index, wrong_channel(message, "email"))
            elif "@" not in message.recipient:
                settle(index, Outcome.permanent(message, "invalid recipient address"))
            else:
                try:
                    mail = build_email(message, self.config.from_address)
                    pending.append(_Wire(index, message, str(mail["Message-ID"]), _wire(mail)))
                except (ValueError, TypeError) as exc:  # e.g. a newline in a header
                    settle(index, Outcome.permanent(message, f"invalid message: {exc}"))
                except Exception as exc:
                    settle(index, _classify(message, exc))
        if pending:
            await self._deliver(pending, settle)
        return [outcomes[index] for index in range(len(messages))]

    async def _deliver(self, pending: list[_Wire], settle: OnOutcome) -> None:
        client = await self._kept()
        if client is None:
            client = await self._client()
            try:
                await client.connect()
            except Exception as exc:
                # Refused, unreachable, a 554 greeting, TLS or login trouble: the relay, not the
                # messages, whatever the code.
                for item in pending:
                    settle(item.index, Outcome.transient(item.message, _relay_fault(exc)))
                return
        healthy = False
        try:
            for position, item in enumerate(pending):
                try:
                    await client.sendmail(self.envelope_from, [item.message.recipient], item.data)
                except _RELAY_ERRORS as exc:
                    for rest in pending[position:]:
                        settle(rest.index, Outcome.transient(rest.message, _relay_fault(exc)))
                    break
                except Exception as exc:
                    settle(item.index, _classify(item.message, exc))
                else:
                    settle(item.index, Outcome.sent(item.message, item.message_id))
            else:
                healthy = True
        finally:
            if healthy and self._holding and client.is_connected:
                self._idle = client
            else:
                await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
