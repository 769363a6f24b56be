"""The email channel against a real SMTP peer (aiosmtpd), not a mocked client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from notifications import Message, OutcomeStatus, SmtpChannel, SmtpConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: Any


@dataclass
class RecordingHandler:
    """Keeps what arrived; refuses recipients and DATA on demand, as a real relay would."""

    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None
    refused_recipients: set[str] = field(default_factory=set)
    ehlo_reply: str | None = None  # a relay refusing this client, whatever it sends
    mail_reply: str | None = None  # a relay refusing our sender address
    mail_commands: int = 0
    quits: int = 0

    async def handle_QUIT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.quits += 1
        return "221 Bye"

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        return [self.ehlo_reply] if self.ehlo_reply else responses

    async def handle_HELO(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        return self.ehlo_reply or f"250 {server.hostname}"

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_commands += 1
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, session.peer)
        )
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, SmtpConfig]]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            handler,
            SmtpConfig(
                host="127.0.0.1", port=port, from_address="Hue-S <noreply@hue.gov.vn>", timeout=5
            ),
        )
    finally:
        controller.stop()


def email(key: str, recipient: str = "citizen@example.org", html: str | None = None) -> Message:
    return Message(
        channel="email",
        recipient=recipient,
        language="vi",
        subject="[HUE-0042] Đã tiếp nhận phản ánh",
        text="Phản ánh của Quý công dân đã được tiếp nhận với mã tra cứu HUE-0042.",
        html=html,
        idempotency_key=key,
    )


def test_message_arrives_with_utf8_headers_and_both_parts(
    smtp_server: tuple[RecordingHandler, SmtpConfig],
) -> None:
    handler, config = smtp_server
    html = "<p>Phản ánh <strong>HUE-0042</strong> đã được tiếp nhận.</p>"
    [outcome] = asyncio.run(SmtpChannel(config).send_batch([email("outbox-1", html=html)]))

    assert outcome.status is OutcomeStatus.SENT
    [got] = handler.received
    assert got.mail_from == "noreply@hue.gov.vn"
    assert got.rcpt_tos == ["citizen@example.org"]
    mail = got.message
    assert mail["From"] == "Hue-S <noreply@hue.gov.vn>"
    assert mail["To"] == "citizen@example.org"
    assert mail["Subject"] == "[HUE-0042] Đã tiếp nhận phản ánh"
    assert mail["Message-ID"] == outcome.provider_id
    assert str(outcome.provider_id).endswith("@hue.gov.vn>")
    assert mail["Content-Language"] == "vi"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    rich = mail.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().strip() == email("x").text
    assert rich.get_content().strip() == html


def test_text_only_message_is_not_multipart(
    smtp_server: tuple[RecordingHandler, SmtpConfig],
) -> None:
    handler, config = smtp_server
    [outcome] = asyncio.run(SmtpChannel(config).send_batch([email("outbox-2")]))
    assert outcome.status is OutcomeStatus.SENT
    assert handler.received[0].message.get_content_type() == "text/plain"


def test_batch_uses_one_connection_and_same_key_same_message_id(
    smtp_server: tuple[RecordingHandler, SmtpConfig],
) -> None:
    handler, config = smtp_server
    batch = [email(f"outbox-{n}", recipient=f"c{n}@example.org") for n in range(4)]
    outcomes = asyncio.run(SmtpChannel(config).send_batch(batch))

    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 4
    assert [o.idempotency_key for o in outcomes] == [m.idempotency_key for m in batch]
    assert [r.rcpt_tos for r in handler.received] == [[m.recipient] for m in batch]
    assert len({r.peer for r in handler.received}) == 1  # one client port: one connection
    assert len({o.provider_id for o in outcomes}) == 4

    [again] = asyncio.run(SmtpChannel(config).send_batch([batch[0]]))
    assert again.provider_id == outcomes[0].provider_id  # a retry is recognisable


def test_batches_inside_held_share_one_connection_quit_on_leaving(
    smtp_server: tuple[RecordingHandler, SmtpConfig],
) -> None:
    """What the dispatcher does for one run: its chunks go over one connection, not one
    each, and the relay is told QUIT when the run is over."""
    handler, config = smtp_server
    channel = SmtpChannel(config)
    batches = [[email(f"held-{b}-{n}", f"h{b}{n}@example.org") for n in range(2)] for b in range(3)]

    async def run() -> list[OutcomeStatus]:
        statuses: list[OutcomeStatus] = []
        quits = handler.quits
        async with channel.held():
            for batch in batches:
                statuses += [o.status for o in await channel.send_batch(batch)]
            assert handler.quits == quits
        return statuses

    assert asyncio.run(run()) == [OutcomeStatus.SENT] * 6
    assert len(handler.received) == 6
    assert len({r.peer for r in handler.received}) == 1
    assert handler.quits == 1

    asyncio.run(run())  # a later run opens a connection of its own
    assert len({r.peer for r in handler.received}) == 2
    assert handler.quits == 2


def test_a_held_connection_the_relay_dropped_is_replaced() -> None:
    """A relay that closes an idle connection between two chunks: the next chunk goes over a
    new connection instead of failing."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, timeout=0.2)
    controller.start()
    config = SmtpConfig(host="127.0.0.1", port=port, from_address="noreply@hue.gov.vn", timeout=5)
    channel = SmtpChannel(config)

    async def run() -> list[OutcomeStatus]:
        async with channel.held():
            first = await channel.send_batch([email("idle-1", "i1@example.org")])
            await asyncio.sleep(0.6)  # the relay's idle timeout passes
            second = await channel.send_batch([email("idle-2", "i2@example.org")])
        return [o.status for o in first + second]

    try:
        assert asyncio.run(run()) == [OutcomeStatus.SENT, OutcomeStatus.SENT]
    finally:
        controller.stop()
    assert [r.rcpt_tos for r in handler.received] == [["i1@example.org"], ["i2@example.org"]]
    assert len({r.peer for r in handler.received}) == 2


def test_refused_recipient_is_permanent_and_the_rest_still_go(
    smtp_server: tuple[RecordingHandler, SmtpConfig],
) -> None:
    handler, config = smtp_server
    handler.refused_recipients.add("gone@example.org")
    batch = [email("a"), email("b", recipient="gone@example.org"), email("c")]
    outcomes = asyncio.run(SmtpChannel(config).send_batch(batch))

    assert [o.status for o in outcomes] == [
        OutcomeStatus.SENT,
        OutcomeStatus.PERMANENT,
        OutcomeStatus.SENT,
    ]
    assert "550" in str(outcomes[1].error)
    assert len(handler.received) == 2
    assert len({r.peer for r in handler.received}) == 1


def test_5xx_answer_is_permanent(smtp_server: tuple[RecordingHandler, SmtpConfig]) -> None:
    handler, config = smtp_server
    handler.data_reply = "550 5.7.1 Message rejected as spam"
    [outcome] = asyncio.run(SmtpChannel(config).send_batch([email("k")]))
    assert outcome.status is OutcomeStatus.PERMANENT
    assert outcome.error is not None and outcome.error.startswith("550")


def test_4xx_answer_is_transient(smtp_server: tuple[RecordingHandler, SmtpConfig]) -> None:
    handler, config = smtp_server
    handler.data_reply = "451 4.3.0 Try again later"
    [outcome] = asyncio.run(SmtpChannel(config).send_batch([email("k")]))
    assert outcome.status is OutcomeStatus.TRANSIENT


def test_malformed_address_is_permanent_without_a_connection() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), from_address="noreply@hue.gov.vn")
    outcomes = asyncio.run(SmtpChannel(config).send_batch([email("k", recipient="not-an-address")]))
    assert outcomes[0].status is OutcomeStatus.PERMANENT


def test_server_down_is_transient_for_every_message() -> None:
    config = SmtpConfig(
        host="127.0.0.1", port=free_port(), from_address="noreply@hue.gov.vn", timeout=2
    )
    outcomes = asyncio.run(SmtpChannel(config).send_batch([email("a"), email("b")]))
    assert [o.status for o in outcomes] == [OutcomeStatus.TRANSIENT] * 2
    assert all(o.error for o in outcomes)


def test_sms_message_on_email_channel_is_permanent() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), from_address="noreply@hue.gov.vn")
    sms = Message(
        channel="sms", recipient="+84912345678", language="vi", text="x", idempotency_key="k"
    )
    [outcome] = asyncio.run(SmtpChannel(config).send_batch([sms]))
    assert outcome.status is OutcomeStatus.PERMANENT


class _RefusingGreeting(SMTP):
    """A relay that answers the connection itself with a 5xx (a blocked client host)."""

    async def _handle_client(self) -> None:
        await self.push("554 5.7.1 Service unavailable; client host blocked")
        assert self.transport is not None
        self.transport.close()


class _RefusingController(Controller):
    def factory(self) -> SMTP:
        return _RefusingGreeting(self.handler, **self.SMTP_kwargs)


def test_a_relay_refusing_the_connection_is_transient_for_every_message() -> None:
    port = free_port()
    controller = _RefusingController(RecordingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, from_address="noreply@hue.gov.vn")
        outcomes = asyncio.run(SmtpChannel(config).send_batch([email("a"), email("b")]))
    finally:
        controller.stop()
    assert [o.status for o in outcomes] == [OutcomeStatus.TRANSIENT] * 2
    assert all("554" in str(o.error) for o in outcomes)


@pytest.mark.parametrize(
    ("setting", "reply"),
    [
        ("ehlo_reply", "554 5.7.1 Relay access denied for this host"),
        ("mail_reply", "553 5.7.1 Sender address rejected: not owned by this relay"),
    ],
)
def test_a_relay_refusing_us_5xx_is_transient_and_stops_the_batch(
    smtp_server: tuple[RecordingHandler, SmtpConfig], setting: str, reply: str
) -> None:
    """Not one recipient's fault: every message would meet it; retry them all later."""
    handler, config = smtp_server
    setattr(handler, setting, reply)
    batch = [email("a"), email("b", recipient="c2@example.org"), email("c")]
    outcomes = asyncio.run(SmtpChannel(config).send_batch(batch))
    assert [o.status for o in outcomes] == [OutcomeStatus.TRANSIENT] * 3
    assert all(reply[:3] in str(o.error) for o in outcomes)
    assert handler.mail_commands <= 1  # it stopped at the first refusal
    assert handler.received == []
