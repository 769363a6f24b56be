"""The scheduled flows, one place: ``reflections serve`` serves these, and ``prefect.yaml``
declares the same deployments for workers (a test keeps the two in step).
"""

from dataclasses import dataclass
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from flows.audit import audit_anchor
from flows.confirmations import auto_confirm
from flows.digest import daily_digest
from flows.dispatch import dispatch_notifications
from flows.reports import refresh_report_summaries
from flows.sla import sla_sweep
from flows.support import TIME_ZONE


@dataclass(frozen=True)
class Scheduled:
    flow: Flow[..., Any]
    deployment: str  # shown in the UI as "<flow name>/<deployment>"
    cron: str  # in TIME_ZONE
    entrypoint: str  # as prefect.yaml names it: a module path, for workers without a checkout
    # Runs of one deployment at a time, across all workers: a run due while one still runs is
    # cancelled (the next minute's run does its work), never queued behind it.
    concurrency: int = 1

    def concurrency_limit(self) -> ConcurrencyLimitConfig:
        return ConcurrencyLimitConfig(
            limit=self.concurrency, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        )

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.deployment}"


SCHEDULED = (
    Scheduled(sla_sweep, "every-minute", "* * * * *", "flows.sla:sla_sweep"),
    Scheduled(auto_confirm, "hourly", "0 * * * *", "flows.confirmations:auto_confirm"),
    Scheduled(daily_digest, "morning", "0 7 * * *", "flows.digest:daily_digest"),
    Scheduled(
        dispatch_notifications,
        "every-minute",
        "* * * * *",
        "flows.dispatch:dispatch_notifications",
    ),
    Scheduled(audit_anchor, "hourly", "5 * * * *", "flows.audit:audit_anchor"),
    Scheduled(
        refresh_report_summaries,
        "every-ten-minutes",
        "*/10 * * * *",
        "flows.reports:refresh_report_summaries",
    ),
)


def runner_deployments() -> list[RunnerDeployment]:
    """The deployments ``prefect.serve`` runs (entrypoints by module path, not file path).

    Call it outside an event loop: inside one, prefect's ``to_deployment`` returns coroutines.
    """
    deployments = []
    for item in SCHEDULED:
        deployment = item.flow.to_deployment(
            name=item.deployment,
            schedule=Cron(item.cron, timezone=TIME_ZONE),
            entrypoint_type=EntrypointType.MODULE_PATH,
            tags=["reflections"],
            concurrency_limit=item.concurrency_limit(),
        )
        assert isinstance(deployment, RunnerDeployment)
        deployments.append(deployment)
    return deployments
