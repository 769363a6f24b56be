"""What the lifecycle service refuses, in terms the API and the CLI can turn into answers."""

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
    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")
