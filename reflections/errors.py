"""What the lifecycle service refuses, in terms the API and the CLI can turn into answers."""

from typing import Any

from statemachines import EventNotAllowed, GuardFailed

__all__ = [
    "Conflict",
    "DomainError",
    "EventNotAllowed",
    "Forbidden",
    "GuardFailed",
    "InvalidInput",
    "NotFound",
    "RateLimited",
    "TooManyAttempts",
]


class DomainError(Exception):
    pass


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    """Someone else changed the reflection first; reload and try again."""


class InvalidInput(DomainError):
    """Input refused, naming the field. ``reason`` is the API's English; ``code`` and ``params``
    let a page say the same in its reader's language (``error.<code>`` in the catalogues)."""

    def __init__(self, field: str, reason: str, code: str = "invalid", **params: Any) -> None:
        self.field, self.reason, self.code, self.params = field, reason, code, params
        super().__init__(f"{field}: {reason}")


class RateLimited(DomainError):
    """Too many tries in too short a time: 429 with ``Retry-After``. ``code`` names the limit
    (``error.<code>`` in the catalogues) so pages say it in the reader's language."""

    def __init__(self, detail: str, retry_after: int, code: str = "rate_limited") -> None:
        self.detail, self.retry_after, self.code = detail, max(1, int(retry_after)), code
        super().__init__(detail)


class TooManyAttempts(DomainError):
    """Too many codes asked for, or too many wrong ones tried (429 with Retry-After); ``code``
    names the sentence of the catalogues (``error.<code>``)."""

    def __init__(self, reason: str, code: str, retry_after_seconds: int) -> None:
        self.reason, self.code, self.retry_after_seconds = reason, code, retry_after_seconds
        super().__init__(reason)
