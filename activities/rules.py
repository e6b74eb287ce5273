"""Pre- and post-exec rules: commands run in the selected pods' containers through the API server.

A background action (a database lock, say) is held open by `hold_background_actions`, a
heartbeating activity the workflow cancels once the snapshots are taken: closing the exec
stream ends the command. Every action has a timeout; `on_error` says whether its failure
fails the backup or is only recorded.

VM backups have built-in rules: `virt-freezer --freeze` in each VM's launcher pod before the
snapshots, `--unfreeze` after them (always, as post rules), through the same exec path.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import kubernetes.client
from kubernetes.stream import stream
from kubernetes.stream.ws_client import WSClient
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.kube import api_client, cluster_kubeconfig, paginate
from activities.virtual_machines import launcher_pods
from lifeboat.catalog.models import Backup, Rule
from lifeboat.rules import OnError, RuleAction, RuleItem, RuleSet
from lifeboat.secrets import SecretBox
from lifeboat.virtual_machines import LAUNCHER_CONTAINER, freezer_command, split_ref
from workflows.contracts import FreezeInput, FreezeResult, RulesInput, RulesResult
from workflows.errors import INVALID_BACKUP, RULE_FAILED

# Short: a cancel reaches a heartbeating activity with its next heartbeat.
HOLD_HEARTBEAT_SECONDS = 1.0
# virt-freezer gives up on an unresponsive guest agent well before this.
FREEZER_TIMEOUT_SECONDS = 60
_RULES = TypeAdapter(RuleSet)


@dataclass
class Target:
    namespace: str
    pod: str
    container: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pod}"


def _targets(
    client: kubernetes.client.ApiClient, item: RuleItem, namespaces: list[str]
) -> list[Target]:
    core = kubernetes.client.CoreV1Api(client)
    selector = ",".join(f"{k}={v}" for k, v in item.pod_selector.items())
    found = []
    for namespace in item.namespaces or namespaces:
        for pod in paginate(core.list_namespaced_pod, namespace=namespace, label_selector=selector):
            container = item.container or pod.spec.containers[0].name
            found.append(Target(namespace, pod.metadata.name, container))
    return found


def _open(client: kubernetes.client.ApiClient, target: Target, command: list[str]) -> WSClient:
    core = kubernetes.client.CoreV1Api(client)
    ws: WSClient = stream(
        core.connect_get_namespaced_pod_exec,
        target.pod,
        target.namespace,
        container=target.container,
        command=command,
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    return ws


def run_action(client: kubernetes.client.ApiClient, target: Target, action: RuleAction) -> str:
    """Run one action to its end; '' on success, else why it failed."""
    return run_command(client, target, ["sh", "-c", action.command], action.timeout_seconds)


def run_command(
    client: kubernetes.client.ApiClient, target: Target, command: list[str], timeout_seconds: int
) -> str:
    """Run a command in the target's container to its end; '' on success, else why it failed."""
    ws = _open(client, target, command)
    try:
        ws.write_channel(0, "")
        deadline = time.monotonic() + timeout_seconds
        stderr = []
        while ws.is_open() and time.monotonic() < deadline:
            ws.update(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if ws.peek_stderr():
                stderr.append(ws.read_stderr())
        if ws.is_open():
            return f"timed out after {timeout_seconds}s"
        code = ws.returncode
        if code:
            return f"exit code {code}: {''.join(stderr).strip()[:300]}"
        return ""
    finally:
        ws.close()


async def _rule_items(sessions: async_sessionmaker[AsyncSession], uid: str) -> list[RuleItem]:
    async with sessions() as session:
        rule = await session.get(Rule, uid)
    if rule is None:
        raise ApplicationError(f"rule {uid} is gone", type=INVALID_BACKUP, non_retryable=True)
    try:
        return _RULES.validate_python(rule.rules)
    except ValidationError as exc:
        raise ApplicationError(
            f"rule {rule.name} is not well-formed: {exc}", type=INVALID_BACKUP, non_retryable=True
        ) from exc


async def has_background_actions(sessions: async_sessionmaker[AsyncSession], rule_uid: str) -> bool:
    """Whether a rule holds anything open (checked, with the rule's form, when validating)."""
    if not rule_uid:
        return False
    items = await _rule_items(sessions, rule_uid)
    return any(action.background for item in items for action in item.actions)


def _run_freezer(
    kubeconfig: dict[str, Any], refs: list[str], action: Literal["freeze", "unfreeze"]
) -> FreezeResult:
    """Run `virt-freezer --<action>` in each VM's launcher pod; VMs without one are left."""
    freezing = action == "freeze"
    result = FreezeResult()
    with api_client(kubeconfig) as client:
        pods = launcher_pods(kubernetes.client.CoreV1Api(client), refs)
        for ref in refs:
            pod = pods.get(ref)
            if pod is None:
                if freezing:
                    result.problems.append(
                        f"virtual machine {ref} has no running launcher pod: backed up "
                        "crash-consistent, without freeze"
                    )
                continue  # not running: nothing to freeze, nothing left frozen
            result.reached.append(ref)
            namespace, name = split_ref(ref)
            failure = run_command(
                client,
                Target(namespace, pod, LAUNCHER_CONTAINER),
                freezer_command(action, namespace, name),
                FREEZER_TIMEOUT_SECONDS,
            )
            if failure:
                result.problems.append(
                    f"virtual machine {ref}: freeze failed ({failure}): backed up crash-consistent"
                    if freezing
                    else f"virtual machine {ref}: thaw failed ({failure})"
                )
    return result


class RuleActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox) -> None:
        self._sessions = sessions
        self._secrets = secrets

    async def _backup(self, backup_uid: str) -> tuple[dict[str, Any], Backup]:
        """The backup's cluster kubeconfig, and the backup."""
        async with self._sessions() as session:
            backup = await session.get(Backup, backup_uid)
        if backup is None:
            raise ApplicationError("the backup is gone", type=INVALID_BACKUP, non_retryable=True)
        kubeconfig = await cluster_kubeconfig(self._sessions, self._secrets, backup.cluster_uid)
        return kubeconfig, backup

    async def _context(self, input: RulesInput) -> tuple[dict[str, Any], list[str], list[RuleItem]]:
        kubeconfig, backup = await self._backup(input.backup_uid)
        namespaces = backup.resolution.namespaces
        return kubeconfig, namespaces, await _rule_items(self._sessions, input.rule_uid)

    @activity.defn
    async def run_rules(self, input: RulesInput) -> RulesResult:
        """Run the rule's foreground actions in every selected pod, in order."""
        kubeconfig, namespaces, items = await self._context(input)

        def run() -> RulesResult:
            result = RulesResult()
            with api_client(kubeconfig) as client:
                for item in items:
                    for target in _targets(client, item, namespaces):
                        if input.pods is not None and target.key not in input.pods:
                            continue  # post rules only where pre rules ran
                        if target.key not in result.pods:
                            result.pods.append(target.key)
                        for action in item.actions:
                            if action.background:
                                continue
                            failure = run_action(client, target, action)
                            result.ran += 1
                            if not failure:
                                continue
                            message = f"{input.phase} rule in {target.key}: {failure}"
                            if action.on_error is OnError.FAIL:
                                # The pods reached so far travel along: post rules run there.
                                raise ApplicationError(
                                    message, result.pods, type=RULE_FAILED, non_retryable=True
                                )
                            result.failures.append(message)
            return result

        return await asyncio.to_thread(run)

    @activity.defn
    async def hold_background_actions(self, input: RulesInput) -> int:
        """Start the background actions and keep them running until this activity is cancelled."""
        kubeconfig, namespaces, items = await self._context(input)
        # Made in a thread, as every client: a kubeconfig's token plugin runs a process.
        with await asyncio.to_thread(api_client, kubeconfig) as client:
            streams = await asyncio.to_thread(
                lambda: [
                    _open(client, target, ["sh", "-c", action.command])
                    for item in items
                    for target in _targets(client, item, namespaces)
                    for action in item.actions
                    if action.background
                ]
            )
            if not streams:
                return 0
            try:
                while True:
                    for ws in streams:
                        await asyncio.to_thread(ws.update, 0)
                    activity.heartbeat(len(streams))
                    await asyncio.sleep(HOLD_HEARTBEAT_SECONDS)
            finally:
                # Closing the streams ends the commands: the lock is released.
                for ws in streams:
                    ws.close()

    @activity.defn
    async def freeze_virtual_machines(self, input: FreezeInput) -> FreezeResult:
        """Freeze each VM's guest file systems through its launcher pod, before the snapshots.

        A VM with no running launcher pod, or whose freeze fails (no guest agent, say), is
        backed up crash-consistent: the result says which and why, and the backup goes on.
        """
        kubeconfig, backup = await self._backup(input.backup_uid)
        refs = backup.spec.virtual_machines
        return await asyncio.to_thread(_run_freezer, kubeconfig, refs, "freeze")

    @activity.defn
    async def thaw_virtual_machines(self, input: FreezeInput) -> FreezeResult:
        """Thaw the VMs the freeze reached (every VM of the backup when it never answered)."""
        kubeconfig, backup = await self._backup(input.backup_uid)
        refs = input.virtual_machines
        if refs is None:
            refs = backup.spec.virtual_machines
        return await asyncio.to_thread(_run_freezer, kubeconfig, refs, "unfreeze")
