"""The tables. Importing this package registers every table on ``SQLModel.metadata``."""

from reflections.models.abuse import (
    ContactOptOut,
    LoginThrottle,
    ProvenContact,
    RateLimitCounter,
)
from reflections.models.audit import AuditAnchor, PersonalDataAccess
from reflections.models.calendar import CalendarDay
from reflections.models.canned import CannedText
from reflections.models.citizens import (
    CitizenSession,
    Follower,
    ReflectionPin,
    SignInCode,
    StagedPhoto,
)
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
from reflections.models.publication import PublicationDecision
from reflections.models.reflection import Attachment, HistoryEvent, Reflection
from reflections.models.report_summary import (
    ReportCell,
    ReportMonth,
    ReportStepCell,
    ReportStepFigure,
    ReportStepMonth,
)
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
    "CitizenSession",
    "ContactOptOut",
    "DrillCopy",
    "Follower",
    "HandlingUnit",
    "HistoryEvent",
    "IdempotencyRecord",
    "LoginThrottle",
    "Membership",
    "OutboxMessage",
    "OutboxStatus",
    "PersonalDataAccess",
    "ProvenContact",
    "PublicationDecision",
    "RateLimitCounter",
    "Reflection",
    "ReflectionPin",
    "ReportCell",
    "ReportMonth",
    "ReportStepCell",
    "ReportStepFigure",
    "ReportStepMonth",
    "Reporter",
    "RoutingRule",
    "SignInCode",
    "StagedPhoto",
    "StepPolicy",
    "StepRecord",
    "User",
]
