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
