"""The simulated longhorn-manager controllers: an ordinary Kubernetes client plus boto3.

``Simulator`` lists and watches Longhorn's objects through the ``kubernetes`` client and acts on them
as longhorn-manager v1.12.1 does: BackupTarget availability and sync, SystemBackup, volume backups,
RecurringJob runs and SystemRestore. It runs against any API server that serves the Longhorn CRDs.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from typing import Any

from kubernetes.client import ApiClient

from lhdesk.demo.lifecycle import Service
from lhdesk.demo.s3 import S3Config

from . import kube as k
from .archive import write_system_backup_to_target
from .backup_target import BackupTargetController
from .context import Context
from .faults import SimulatorFaults
from .kube import Informer, Kube
from .recurring_job import RecurringJobRunner
from .runtime import Clock, Controller
from .system_backup import SystemBackupController
from .system_restore import SystemRestoreController
from .volume_backup import BackupController

__all__ = ["Simulator", "SimulatorFaults", "write_system_backup_to_target"]

log = logging.getLogger(__name__)

_WATCHED = (
    k.SETTINGS,
    k.VOLUMES,
    k.BACKUP_TARGETS,
    k.BACKUP_VOLUMES,
    k.BACKUPS,
    k.SYSTEM_BACKUPS,
    k.SYSTEM_RESTORES,
    k.RECURRING_JOBS,
)


class Simulator(Service):
    """longhorn-manager's controllers for one Longhorn namespace.

    ``watch_timeout`` is the server-side timeout of each watch request; a watch that ends is resumed
    from its last resourceVersion. ``stop()`` cuts open watches at once; the timeout bounds how long a
    watch whose response has not started yet can hold ``stop()`` up.

    ``speed`` divides every Longhorn duration (state steps of ~1 s, polls, waits). Cron schedules run
    on the real UTC clock unless ``scale_cron`` is set (tests), then cron time runs ``speed`` times
    faster from ``start()``. ``s3`` supplies the endpoint when the credential secret has no
    ``AWS_ENDPOINTS``; everything else about the target comes from BackupTarget objects and Secrets.
    """

    def __init__(
        self,
        api_client: ApiClient,
        namespace: str = "longhorn-system",
        s3: S3Config | None = None,
        speed: float = 1.0,
        faults: SimulatorFaults | None = None,
        *,
        node_id: str = "lhdesk-demo-node",
        scale_cron: bool = False,
        watch_timeout: int = 10,
    ) -> None:
        self.faults = faults if faults is not None else SimulatorFaults()
        # An ApiClient of its own (same server, credentials and TLS): a connection pool sized for the
        # simulator's threads, closed by stop().
        configuration = copy.copy(api_client.configuration)
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 32)
        # The informers and controllers retry themselves (with backoff, from the last resourceVersion);
        # urllib3's own retries would only hide a server that went away.
        configuration.retries = False
        self._api_client = ApiClient(configuration)
        self.ctx = Context(
            kube=Kube(self._api_client),
            namespace=namespace,
            clock=Clock(speed, scale_cron),
            faults=self.faults,
            s3=s3,
            node_id=node_id,
        )
        self._watch_timeout = watch_timeout
        self.backup_targets = BackupTargetController(self.ctx)
        self.system_backups = SystemBackupController(self.ctx)
        self.backups = BackupController(self.ctx)
        self.system_restores = SystemRestoreController(self.ctx)
        self.recurring_jobs = RecurringJobRunner(self.ctx)
        self._controllers: tuple[Controller, ...] = (
            self.backup_targets,
            self.system_backups,
            self.backups,
            self.system_restores,
        )
        self._started = False
        self._lock = threading.Lock()

    @property
    def namespace(self) -> str:
        return self.ctx.namespace

    @property
    def speed(self) -> float:
        return self.ctx.clock.speed

    def start(self) -> None:
        """Start watching and reconciling; returns at once (see ``wait_ready``)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        ctx = self.ctx
        handlers = {
            k.BACKUP_TARGETS.plural: self.backup_targets.on_event,
            k.SYSTEM_BACKUPS.plural: self.system_backups.on_event,
            k.BACKUPS.plural: self.backups.on_event,
            k.SYSTEM_RESTORES.plural: self.system_restores.on_event,
            k.RECURRING_JOBS.plural: self.recurring_jobs.on_event,
        }
        for res in _WATCHED:
            ctx.informers[res.plural] = Informer(
                ctx.kube,
                res,
                ctx.namespace,
                handlers.get(res.plural),
                watch_timeout=self._watch_timeout,
                stop_event=ctx.stop,
            )
        # Volumes finishing a backup can end a SystemBackup's wait sooner than its next poll.
        ctx.informers[k.VOLUMES.plural].add_handler(self._on_volume)
        self.faults.add_listener(self.backup_targets.poll_all_now)
        for controller in self._controllers:
            controller.start()
        self.recurring_jobs.start()
        for informer in ctx.informers.values():
            informer.start()
        log.info("simulator started in namespace %s (speed %g)", ctx.namespace, ctx.clock.speed)

    def _on_volume(self, event_type: str, obj: dict[str, object]) -> None:
        if event_type == "MODIFIED":
            for name in self.system_backups.waiting_for_volume_backups():
                self.system_backups.enqueue(name)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once every watch has listed and BackupTarget ``default`` has been probed once."""
        deadline = time.monotonic() + timeout
        for informer in self.ctx.informers.values():
            if not informer.synced.wait(max(0.0, deadline - time.monotonic())):
                return False
        if self.ctx.backup_target() is None:
            return True  # nothing to probe (no default target installed)
        return self.backup_targets.default_probed.wait(max(0.0, deadline - time.monotonic()))

    def wait_jobs_idle(self, timeout: float | None = None) -> bool:
        """Wait until no RecurringJob run is going (tests: after deleting a job, for its last run)."""
        return self.recurring_jobs.wait_idle(timeout)

    def stop(self) -> None:
        """Stop every thread and wait for them."""
        with self._lock:
            if not self._started:
                return
            self._started = False
        self.faults.remove_listener(self.backup_targets.poll_all_now)
        self.ctx.stop.set()
        for informer in self.ctx.informers.values():
            informer.stop()
        for controller in self._controllers:
            controller.stop()
        self.recurring_jobs.stop()
        deadline = time.monotonic() + 10.0
        for informer in self.ctx.informers.values():
            informer.join(max(0.1, deadline - time.monotonic()))
        for controller in self._controllers:
            controller.join(max(0.1, deadline - time.monotonic()))
        self.recurring_jobs.join(max(0.1, deadline - time.monotonic()))
        alive = [
            *(f"watch {i.res.plural}" for i in self.ctx.informers.values() if i.is_alive()),
            *(c.name for c in self._controllers if c.is_alive()),
            *(["recurring jobs"] if self.recurring_jobs.is_alive() else []),
        ]
        if alive:
            log.warning("simulator threads still running after stop: %s", ", ".join(alive))
        api_client: Any = self._api_client  # the client's methods carry no annotations
        api_client.close()
        log.info("simulator in namespace %s stopped", self.ctx.namespace)
