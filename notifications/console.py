"""The embedded default: with no SMTP relay or Twilio account, messages are written out
(stdout or a file) so the whole product runs, and can be inspected, without credentials."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Literal, TextIO

from notifications.messages import Channel, ChannelName, Message, OnOutcome, Outcome, told


def _readable(message: Message) -> str:
    lines = [
        f"=== {message.channel} to {message.recipient} [{message.language}]",
        f"key: {message.idempotency_key}",
    ]
    if message.subject:
        lines.append(f"subject: {message.subject}")
    lines += ["", message.text, ""]
    return "\n".join(lines) + "\n"


class ConsoleChannel:
    """Accepts both channels; ``fmt="jsonl"`` writes one JSON object per line for tools."""

    def __init__(
        self,
        path: Path | None = None,
        fmt: Literal["text", "jsonl"] = "text",
        stream: TextIO | None = None,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.stream = stream

    def _render(self, message: Message) -> str:
        if self.fmt == "jsonl":
            return json.dumps(asdict(message), ensure_ascii=False) + "\n"
        return _readable(message)

    def _write(self, text: str) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)
        else:
            stream = self.stream or sys.stdout
            stream.write(text)
            stream.flush()

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        outcomes = []
        for index, message in enumerate(messages):
            try:
                self._write(self._render(message))
            except OSError as exc:  # a full disk or a missing mount may come back
                outcome = Outcome.transient(message, f"{type(exc).__name__}: {exc}")
            else:
                outcome = Outcome.sent(message, f"console:{message.idempotency_key}")
            outcomes.append(told(on_outcome, index, outcome))
        return outcomes


def select_channels(
    email: Channel | None, sms: Channel | None, fallback: Channel
) -> Mapping[ChannelName, Channel]:
    """Each channel that is not configured falls back to the console/file channel."""
    return {"email": email or fallback, "sms": sms or fallback}
