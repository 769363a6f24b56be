"""Logging: readable lines by default, one JSON object per line when
``REFLECTIONS_LOG_FORMAT=json`` (for a log shipper).

What a request did is noted while it runs (:func:`note`: the tracking code it touched, the role
of who acted) and written by the API as one line per request. Nothing personal is ever passed
to a log: no name, phone, email, description, token or key; only codes, roles and outcomes.
"""

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

from reflections.platform.settings import get_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_configured: str | None = None


def configure() -> None:
    """Set up the root logger once per process, in the configured format.

    Under uvicorn its own loggers are routed to the same handler; in JSON mode its access log
    is silenced, since the API writes its own request line (with the route, not the raw path,
    whose query may carry a secret).
    """
    global _configured
    log_format = get_settings().log_format
    if _configured == log_format:
        return
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                timestamp="time",
                rename_fields={"levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "reflections", False)]:
        root.removeHandler(old)
    handler.reflections = True  # type: ignore[attr-defined]  # ours, to replace, not others'
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for chatty in ("alembic", "httpx"):  # each readiness check's revision, each HTTP call
        logging.getLogger(chatty).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.disabled = log_format == "json"
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
    _configured = log_format


_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;])(?:api_key|apikey|key|token|access_token|citizen_key|secret)=)[^&;\s]*",
    re.IGNORECASE,
)


def redact(path: str) -> str:
    """A path with the values of secret-looking query parameters replaced (issue 13)."""
    return _SECRET_PARAMETER.sub(r"\1[redacted]", path)


class RedactSecrets(logging.Filter):
    """uvicorn's access line prints the raw path: a key sent in a URL (refused, but sent)
    must not reach the log files."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


@dataclass
class RequestNote:
    """What one request touched, for its log line."""

    tracking_code: str | None = None
    actor_role: str | None = None


_note: ContextVar[RequestNote | None] = ContextVar("reflections_request_note", default=None)


@contextmanager
def noting() -> Iterator[RequestNote]:
    """Collect notes for the code run inside (worker threads share the object, not the var)."""
    current = RequestNote()
    token = _note.set(current)
    try:
        yield current
    finally:
        _note.reset(token)


def current() -> RequestNote | None:
    return _note.get()


def note(*, tracking_code: str | None = None, actor_role: str | None = None) -> None:
    current = _note.get()
    if current is None:
        return
    if tracking_code:
        current.tracking_code = tracking_code
    if actor_role:
        current.actor_role = actor_role
