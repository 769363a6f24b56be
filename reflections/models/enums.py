"""Closed vocabularies of the domain that are code, not data."""

from enum import StrEnum

from statemachines import AssignmentStage, LifecycleEvent, LifecycleState

__all__ = [
    "AssignmentStage",
    "CalendarDayKind",
    "Channel",
    "HandlingUnitKind",
    "Language",
    "LifecycleEvent",
    "LifecycleState",
    "Priority",
    "Role",
    "SubmissionChannel",
]


class Role(StrEnum):
    CITIZEN = "citizen"
    OPERATOR = "operator"
    COORDINATOR = "coordinator"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


class Priority(StrEnum):
    EMERGENCY = "emergency"
    NORMAL = "normal"
    COMPLEX = "complex"


class HandlingUnitKind(StrEnum):
    DEPARTMENT = "department"
    PEOPLES_COMMITTEE = "peoples_committee"
    TEAM = "team"
    COMPANY = "company"


class Language(StrEnum):
    VI = "vi"
    EN = "en"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class SubmissionChannel(StrEnum):
    APP = "app"
    WEB = "web"
    HOTLINE = "hotline"
    OPEN311 = "open311"


class CalendarDayKind(StrEnum):
    """What an administrator decided about a date (DESIGN §2: the government moves days)."""

    DAY_OFF = "day_off"
    WORKING_DAY = "working_day"
