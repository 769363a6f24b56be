"""System administration (DESIGN.md §3): units, categories, policies, routing, users, API keys,
log-in lockouts, the notification outbox, the working calendar, the notices that reached
nobody, canned texts.

Every route here needs the admin role; the check sits on the router so no route can miss it.
"""

from fastapi import APIRouter, Depends

from api.deps import require_role
from api.routes.admin import (
    api_keys,
    areas,
    calendar,
    canned_texts,
    categories,
    lockouts,
    outbox,
    policies,
    routing,
    units,
    users,
    warnings,
)
from api.routes.admin.common import PROBLEM_RESPONSES
from reflections.models.enums import Role

router = APIRouter(
    prefix="/api/v1/admin",
    dependencies=[Depends(require_role(Role.ADMIN))],
    responses=PROBLEM_RESPONSES,
)
for module in (
    areas,
    units,
    categories,
    policies,
    routing,
    users,
    api_keys,
    outbox,
    calendar,
    warnings,
    canned_texts,
    lockouts,
):
    router.include_router(module.router)
