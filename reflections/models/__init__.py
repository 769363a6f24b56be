"""The tables. Importing this package registers every table on ``SQLModel.metadata``."""

from reflections.models.organisation import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    RoutingRule,
    StepPolicy,
)
from reflections.models.outbox import OutboxMessage, OutboxStatus
from reflections.models.people import ApiKey, Membership, Reporter, User
from reflections.models.reflection import Attachment, HistoryEvent, Reflection

__all__ = [
    "AdministrativeUnit",
    "ApiKey",
    "Attachment",
    "Category",
    "HandlingUnit",
    "HistoryEvent",
    "Membership",
    "OutboxMessage",
    "OutboxStatus",
    "Reflection",
    "Reporter",
    "RoutingRule",
    "StepPolicy",
    "User",
]
