"""What the audit tests share: the deployment of the session's ledger, a replay of it, its report."""

from __future__ import annotations

from typing import Any

from ledger.audit import Deployment, ReplayResult, replay
from tests.support.deployments import Deployed


def deployment_of(deployed: Deployed) -> Deployment:
    return Deployment.of(deployed.chain.chain_id, deployed.addresses, deployed.build)


def audit(deployed: Deployed, **options: Any) -> ReplayResult:
    """``replay`` of the whole chain of ``deployed`` (options as ``replay`` takes them)."""
    return replay(deployed.chain, deployment_of(deployed), **options)


def explain(result: ReplayResult) -> str:
    return "\n".join(result.report.lines(limit=40))
