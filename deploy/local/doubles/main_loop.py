"""The main loop the test doubles' processes share: stopping on a signal, passes over the cluster.

Each double that runs as its own process (the CSI driver, the kubelet, the pod runner) logs to
stdout (its log file) and, at SIGTERM or SIGINT, finishes what it is doing and exits 0.

The doubles that play a controller poll the API server rather than watch it: every
POLL_INTERVAL one pass lists what the double cares about and acts on the difference. Polling
keeps them simple and lets them ride through API server restarts: a pass that fails is retried
with a client rebuilt from the kubeconfig, whose port may have changed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from deploy.local.doubles.kube_json import Kube

POLL_INTERVAL = 0.3
# After an API server outage, retry more slowly so the log does not fill with failures.
RETRY_INTERVAL = 1.0

log = logging.getLogger("lifeboat.doubles")


class Record(Protocol):
    """Where a double reports what it did: an action and its fields."""

    def __call__(self, action: str, **fields: Any) -> None: ...


def log_action(action: str, **fields: Any) -> None:
    """Log one action of a double as a line: the action, then its fields as key=value."""
    log.info("%s %s", action, " ".join(f"{k}={v}" for k, v in fields.items()))


def start_process(
    on_stop: Callable[[], None],
    *,
    stopping: str,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Set up a double's process: log lines on stdout, `on_stop` called at SIGTERM or SIGINT.

    `stopping` says, in the log line for the signal, what the double does before it exits. An
    asyncio double passes its `loop`, which then runs `on_stop` (and wakes up for it).
    """
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    # The client retries refused connections with a warning each; an outage is reported once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)

    def request_stop(signum: int) -> None:
        log.info("signal %s: %s", signal.Signals(signum).name, stopping)
        on_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        if loop is None:
            signal.signal(signum, lambda received, _frame: request_stop(received))
        else:
            loop.add_signal_handler(signum, request_stop, signum)


def run_controller(
    reconcile: Callable[[], None],
    kube: Kube,
    ready_file: Path,
    stop: threading.Event,
    record: Record = log_action,
) -> None:
    """Run `reconcile` every POLL_INTERVAL until `stop` is set; never die of a failed pass.

    The ready marker (this process's PID in `ready_file`) is written after the first good pass
    and removed on the way out. An outage is recorded once when it starts (`api-unreachable`)
    and once when it ends (`api-reachable`).
    """
    reachable: bool | None = None
    try:
        while not stop.is_set():
            try:
                if reachable is not True and not kube.ready():
                    raise ConnectionError("the API server is not ready (/readyz)")
                reconcile()
            except Exception as error:  # any failure of a whole pass: retry it, never die
                kube.reset()
                if reachable is not False:
                    record("api-unreachable", error=f"{type(error).__name__}: {error}")
                reachable = False
                stop.wait(RETRY_INTERVAL)
                continue
            if reachable is None:
                ready_file.write_text(str(os.getpid()))
                record("ready", pid=os.getpid())
            elif reachable is False:
                record("api-reachable")
            reachable = True
            stop.wait(POLL_INTERVAL)
    finally:
        ready_file.unlink(missing_ok=True)
        kube.reset()
