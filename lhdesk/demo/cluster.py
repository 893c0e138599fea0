"""The demo cluster: S3, a Kubernetes API server, and the simulated Longhorn on top, in one object.

``DemoCluster`` is what ``lhdesk demo-cluster``, ``lhdesk --demo`` and the integration tests use.
``start()`` brings the parts up in dependency order and ``stop()`` takes them down in reverse,
joining every thread:

1. S3: moto's threaded server on a free loopback port (or an external S3 given by endpoint);
2. the API server: the built-in one (``backend="builtin"``) or a real kube-apiserver v1.20.2 built
   from Debian's archive (``backend="real"``); none in attach mode;
3. the Longhorn admission webhook server;
4. the install (CRDs, webhook configurations, settings, backup target);
5. for ``seed="large"``, the bulk history (created before the controllers so none of them races it);
6. the controllers (:class:`lhdesk.demo.longhorn.controllers.Simulator`);
7. the seed: a believable cluster. Its first part (volumes, PVs/PVCs, storage classes, recurring
   jobs) is in place when ``start()`` returns; its second part (system backups that the controllers
   take through their states, a failed one, one synced from the target, a finished restore) runs on
   a background thread: ``wait_seeded()`` waits for it.

It prints nothing; it logs.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kubernetes import client, config

from lhdesk.core.versions import LonghornVersion
from lhdesk.demo.lifecycle import Service
from lhdesk.demo.longhorn.install import NAMESPACE, Installer, WebhookEndpoints
from lhdesk.demo.longhorn.webhook import WebhookServer
from lhdesk.demo.s3 import DEFAULT_REGION, S3Config, S3Server, ensure_bucket

logger = logging.getLogger(__name__)

Backend = Literal["builtin", "real"]
SeedSize = Literal["none", "small", "large"]
BACKENDS: tuple[str, ...] = ("builtin", "real")
SEED_SIZES: tuple[str, ...] = ("none", "small", "large")
ADMIN_CONTEXT = "demo-admin"
READONLY_CONTEXT = "demo-readonly"


# The kubernetes client's config loader has no type hints.
_load_kube_config: Any = config.load_kube_config


class DemoClusterError(RuntimeError):
    """The demo cluster could not start; the message says why."""


@dataclass(frozen=True)
class StartupTimings:
    """Seconds each start-up step took (for the bench and the log)."""

    s3: float = 0.0
    api_server: float = 0.0
    webhook: float = 0.0
    install: float = 0.0
    bulk_seed: float = 0.0
    controllers: float = 0.0
    seed: float = 0.0
    total: float = 0.0


class DemoCluster(Service):
    """A simulated Longhorn cluster on loopback; a context manager.

    ``s3_credentials`` is ``(access_key, secret_key)`` for an external ``s3_endpoint``. ``port`` is
    the built-in API server's port (0 = free port; the real backend picks its own). ``kubeconfig``
    is where to write the kubeconfig (default ``<workdir>/kubeconfig``).
    """

    def __init__(
        self,
        workdir: Path,
        backend: Backend = "builtin",
        longhorn_version: str = "v1.12.1",
        seed: SeedSize = "small",
        speed: float = 1.0,
        port: int = 0,
        s3_endpoint: str | None = None,
        s3_credentials: tuple[str, str] | None = None,
        *,
        bucket: str | None = None,
        scale_cron: bool = False,
        kubeconfig: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if seed not in SEED_SIZES:
            raise ValueError(f"seed must be one of {', '.join(SEED_SIZES)}, not {seed!r}")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.workdir = Path(workdir).absolute()
        self.backend: Backend = backend
        self._longhorn_version = str(LonghornVersion.parse(longhorn_version))
        self.seed: SeedSize = seed
        self.speed = speed
        self.port = port
        self._external_s3 = s3_endpoint
        self._s3_credentials = s3_credentials
        self._bucket = bucket or ("lhdesk-demo" if s3_endpoint else f"lhdesk-demo-{secrets.token_hex(4)}")
        self._scale_cron = scale_cron
        self._kubeconfig = Path(kubeconfig).absolute() if kubeconfig is not None else None
        self._attach_kubeconfig: Path | None = None
        self._attach_context: str | None = None

        self._s3_server: S3Server | None = None
        self._s3_config: S3Config | None = None
        self._api: Any = None
        self._api_client: client.ApiClient | None = None
        self._clients: list[client.ApiClient] = []
        self._webhook: WebhookServer | None = None
        self._installer: Installer | None = None
        self._simulator: Any = None
        self._faults: Any = None
        self._seeder: Any = None
        self._seed_thread: threading.Thread | None = None
        self._seed_done = threading.Event()
        self._seed_error: BaseException | None = None
        self._stop_event = threading.Event()
        self._started = False
        self.timings = StartupTimings()
        self.large_seed_report: Any = None

    @classmethod
    def attach(
        cls,
        kubeconfig: Path,
        context: str | None = None,
        *,
        workdir: Path | None = None,
        longhorn_version: str = "v1.12.1",
        seed: SeedSize = "small",
        speed: float = 1.0,
        s3_endpoint: str | None = None,
        s3_credentials: tuple[str, str] | None = None,
        bucket: str | None = None,
    ) -> DemoCluster:
        """A demo cluster that runs the simulated Longhorn against an existing cluster.

        No API server is started and nothing is written to ``workdir``. The API server must be able
        to reach the webhook on 127.0.0.1, so the cluster has to run on this machine. A real Longhorn
        there makes ``start()`` refuse.
        """
        cluster = cls(
            workdir or Path(tempfile.gettempdir()) / "lhdesk-demo-attach",
            longhorn_version=longhorn_version,
            seed=seed,
            speed=speed,
            s3_endpoint=s3_endpoint,
            s3_credentials=s3_credentials,
            bucket=bucket,
        )
        cluster._attach_kubeconfig = Path(kubeconfig).absolute()
        cluster._attach_context = context
        return cluster

    # --- properties ------------------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        return self._attach_kubeconfig is not None

    @property
    def longhorn_version(self) -> str:
        return self._longhorn_version

    @property
    def kubeconfig_path(self) -> Path:
        """The kubeconfig with contexts demo-admin and demo-readonly (attach mode: the given one)."""
        if self._attach_kubeconfig is not None:
            return self._attach_kubeconfig
        return self._kubeconfig or self.workdir / "kubeconfig"

    @property
    def api_url(self) -> str:
        if self._api is not None:
            return str(self._api.url)
        if self._api_client is not None:
            return str(self._api_client.configuration.host)
        raise DemoClusterError("the demo cluster is not started")

    @property
    def s3_config(self) -> S3Config:
        if self._s3_config is None:
            raise DemoClusterError("the demo cluster is not started")
        return self._s3_config

    @property
    def s3_endpoint(self) -> str:
        return self.s3_config.endpoint_url

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def namespace(self) -> str:
        return NAMESPACE

    @property
    def api_faults(self) -> Any:
        """The built-in API server's HTTP fault knobs; None for the real backend and attach mode."""
        if self._api is None or self.backend != "builtin":
            return None
        return self._api.faults

    @property
    def faults(self) -> Any:
        """The simulator's fault knobs (:class:`~lhdesk.demo.longhorn.controllers.SimulatorFaults`)."""
        if self._faults is None:
            from lhdesk.demo.longhorn.controllers import SimulatorFaults

            self._faults = SimulatorFaults()
        return self._faults

    @property
    def webhook(self) -> WebhookServer:
        if self._webhook is None:
            raise DemoClusterError("the demo cluster is not started")
        return self._webhook

    @property
    def simulator(self) -> Any:
        return self._simulator

    def api_client(self, context: str | None = None) -> client.ApiClient:
        """A new ``kubernetes`` ApiClient for ``context`` (default: the admin one). Close it after use."""
        configuration = client.Configuration()
        if self._attach_kubeconfig is not None:
            _load_kube_config(
                str(self._attach_kubeconfig),
                context or self._attach_context,
                client_configuration=configuration,
            )
        else:
            _load_kube_config(
                str(self.kubeconfig_path), context or ADMIN_CONTEXT, client_configuration=configuration
            )
        # The simulator, the webhook and the seed each run several threads on their client.
        configuration.connection_pool_maxsize = 32
        return client.ApiClient(configuration)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every part, in order; on failure, stop what was started and raise."""
        if self._started:
            raise DemoClusterError("the demo cluster is already started")
        self._started = True
        self._stop_event.clear()
        self._seed_done.clear()
        self._seed_error = None
        if not self.attached:
            self.workdir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        steps: dict[str, float] = {}
        # S3 (moto takes a while to import and start) comes up alongside the API server and webhook.
        s3_failure: list[BaseException] = []

        def start_s3() -> None:
            try:
                self._timed(steps, "s3", self._start_s3)
            except BaseException as exc:
                s3_failure.append(exc)

        s3_thread = threading.Thread(target=start_s3, name="demo-s3-start", daemon=True)
        s3_thread.start()
        try:
            try:
                self._timed(steps, "api_server", self._start_api)
                self._timed(steps, "webhook", self._start_webhook)
            finally:
                s3_thread.join()
            if s3_failure:
                raise s3_failure[0]
            self._timed(steps, "install", self._install)
            if self.seed == "large":
                self._timed(steps, "bulk_seed", self._bulk_seed)
            self._timed(steps, "controllers", self._start_controllers)
            self._timed(steps, "seed", self._seed_static)
        except BaseException:
            self.stop()
            raise
        self.timings = StartupTimings(**steps, total=time.monotonic() - began)
        logger.info(
            "demo cluster up in %.2f s (%s): API %s, S3 %s, kubeconfig %s",
            self.timings.total,
            ", ".join(f"{k} {v:.2f}" for k, v in steps.items()),
            self.api_url,
            self.s3_endpoint,
            self.kubeconfig_path,
        )

    @staticmethod
    def _timed(steps: dict[str, float], name: str, step: Callable[[], None]) -> None:
        began = time.monotonic()
        step()
        steps[name] = time.monotonic() - began

    def _start_s3(self) -> None:
        if self._external_s3 is None:
            self._s3_server = S3Server()
            self._s3_server.start()
            endpoint = self._s3_server.endpoint_url
        else:
            endpoint = self._external_s3
        if self._s3_credentials is not None:
            access, secret = self._s3_credentials
            self._s3_config = S3Config(endpoint, self._bucket, DEFAULT_REGION, access, secret)
        else:
            self._s3_config = S3Config(endpoint, self._bucket)
        ensure_bucket(self._s3_config)

    def _start_api(self) -> None:
        if self._attach_kubeconfig is not None:
            self._api_client = self.api_client()
            return
        if self.backend == "builtin":
            from lhdesk.demo.apiserver import ApiServer

            self._api = ApiServer("127.0.0.1", port=self.port)
        else:
            from lhdesk.demo.realapi import RealApiServer

            if self.port:
                raise DemoClusterError(
                    "--port applies to the built-in API server; the real one picks free ports"
                )
            self._api = RealApiServer(self.workdir / "real-apiserver")
        self._api.start()
        self._api.write_kubeconfig(self.kubeconfig_path)
        self._api_client = self.api_client()

    def _client(self) -> client.ApiClient:
        """A client of its own for one component (closed at stop)."""
        api = self.api_client()
        self._clients.append(api)
        return api

    def _start_webhook(self) -> None:
        self._webhook = WebhookServer(self._client(), NAMESPACE, longhorn_version=self._longhorn_version)
        self._webhook.start()

    def _install(self) -> None:
        assert self._api_client is not None
        assert self._webhook is not None
        self._installer = Installer(
            self._api_client,
            WebhookEndpoints(self._webhook.validation_url, self._webhook.mutation_url, self._webhook.ca_pem),
            self.s3_config,
            longhorn_version=self._longhorn_version,
        )
        self._installer.install()

    def _seeder_for(self) -> Any:
        if self._seeder is None:
            from lhdesk.demo.longhorn.seed import Seeder

            self._seeder = Seeder(
                self._client(),
                self.s3_config,
                longhorn_version=self._longhorn_version,
                namespace=NAMESPACE,
                stop_event=self._stop_event,
                in_process_s3=self._s3_server is not None,
            )
        return self._seeder

    def _bulk_seed(self) -> None:
        self.large_seed_report = self._seeder_for().seed_large()

    def _start_controllers(self) -> None:
        from lhdesk.demo.longhorn.controllers import Simulator

        self._simulator = Simulator(
            self._client(),
            NAMESPACE,
            s3=self.s3_config,
            speed=self.speed,
            faults=self.faults,
            scale_cron=self._scale_cron,
        )
        self._simulator.start()
        if not self._simulator.wait_ready(30.0):
            raise DemoClusterError("the simulated Longhorn controllers did not get ready within 30 s")

    def _seed_static(self) -> None:
        if self.seed == "none":
            self._seed_done.set()
            return
        seeder = self._seeder_for()
        seeder.seed_static()
        self._seed_thread = threading.Thread(target=self._run_seed_history, name="demo-seed", daemon=True)
        self._seed_thread.start()

    def _run_seed_history(self) -> None:
        try:
            self._seeder_for().seed_history(self.faults)
        except BaseException as exc:
            if not self._stop_event.is_set():
                logger.exception("seeding the demo cluster's history failed")
                self._seed_error = exc
        finally:
            self._seed_done.set()

    def wait_seeded(self, timeout: float | None = None) -> bool:
        """Wait for the seed's history (system backups, restore); raise if it failed. True when done."""
        done = self._seed_done.wait(timeout)
        if self._seed_error is not None:
            raise DemoClusterError(f"seeding failed: {self._seed_error}") from self._seed_error
        return done

    def stop(self) -> None:
        """Stop everything started, in reverse order, and join every thread. Idempotent."""
        self._stop_event.set()
        if self._seed_thread is not None:
            self._seed_thread.join()
            self._seed_thread = None
        if self._simulator is not None:
            try:
                self._simulator.stop()
            finally:
                self._simulator = None
        if self._installer is not None and self.attached:
            # The cluster outlives us: webhooks pointing at a dead URL would refuse every write.
            self._installer.remove_webhooks()
        self._installer = None
        if self._webhook is not None:
            self._webhook.stop()
            self._webhook = None
        for api in [*self._clients, self._api_client]:
            if api is not None:
                closable: Any = api
                closable.close()
        self._clients.clear()
        self._api_client = None
        if self._api is not None:
            try:
                self._api.stop()
            finally:
                self._api = None
        if self._s3_server is not None:
            self._s3_server.stop()
            self._s3_server = None
        self._seeder = None
        self._started = False
