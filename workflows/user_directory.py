"""User directory sync: notice users removed at the provider, on a platform-wide schedule."""

from __future__ import annotations

from temporalio import workflow

from workflows import options
from workflows.contracts import DirectorySyncResult

with workflow.unsafe.imports_passed_through():
    from activities.directory import DirectoryActivities


@workflow.defn
class UserDirectoryWorkflow:
    """Marks catalog users unknown (`Unknown (<user id>)`) or known again, in one step.

    Fails, marking nobody, when the provider cannot be read (type `DirectoryUnreadable`): the
    failed run is what an operator sees in the Temporal UI.
    """

    @workflow.run
    async def run(self) -> DirectorySyncResult:
        return await workflow.execute_activity_method(
            DirectoryActivities.reconcile_users, **options.DIRECTORY_READ
        )
