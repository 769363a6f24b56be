"""Pure lifecycle of a reflection: states, events, guards. No I/O, no database."""

from statemachines.lifecycle import (
    FINAL_STATES,
    AssignmentStage,
    EventNotAllowed,
    GuardFailed,
    LifecycleEvent,
    LifecycleState,
    Position,
    ReflectionLifecycle,
    allowed_events,
    fire,
    mermaid_diagram,
)

__all__ = [
    "FINAL_STATES",
    "AssignmentStage",
    "EventNotAllowed",
    "GuardFailed",
    "LifecycleEvent",
    "LifecycleState",
    "Position",
    "ReflectionLifecycle",
    "allowed_events",
    "fire",
    "mermaid_diagram",
]
