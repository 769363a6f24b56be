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
