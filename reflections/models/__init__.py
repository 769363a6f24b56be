"""The tables. Importing this package registers every table on ``SQLModel.metadata``."""

from reflections.models.audit import AuditAnchor, PersonalDataAccess
from reflections.models.calendar import CalendarDay
from reflections.models.canned import CannedText
from reflections.models.drills import DrillCopy
from reflections.models.operations import IdempotencyRecord
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
from reflections.models.report_summary import ReportCell, ReportMonth, ReportStepCell
from reflections.models.reporting import StepRecord
from reflections.models.warnings import AdminWarning

__all__ = [
    "AdminWarning",
    "AdministrativeUnit",
    "ApiKey",
    "Attachment",
    "AuditAnchor",
    "CalendarDay",
    "CannedText",
    "Category",
    "DrillCopy",
    "HandlingUnit",
    "HistoryEvent",
    "IdempotencyRecord",
    "Membership",
    "OutboxMessage",
    "OutboxStatus",
    "PersonalDataAccess",
    "Reflection",
    "ReportCell",
    "ReportMonth",
    "ReportStepCell",
    "Reporter",
    "RoutingRule",
    "StepPolicy",
    "StepRecord",
    "User",
]
