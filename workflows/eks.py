"""EKS clusters: what an AWS cloud account has in a region, for listing and onboarding."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import EksClustersInput, EksClustersResult

with workflow.unsafe.imports_passed_through():
    from activities.eks import EksActivities


@workflow.defn
class EksClustersWorkflow:
    """Describes an AWS cloud account's EKS clusters in a region: all, or the named ones.

    The API never talks to AWS itself: it runs this and waits for the answer, to list the
    clusters or to onboard the chosen ones. Refused keys or an unreachable region are a
    result, not a failure.
    """

    @workflow.run
    async def run(self, input: EksClustersInput) -> EksClustersResult:
        return await workflow.execute_activity_method(
            EksActivities.describe_eks_clusters, input, **options.AWS_QUERY
        )
