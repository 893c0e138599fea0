"""Fixtures for tests/demo: the simulator's controller tests (test_controllers_*.py) use ``ctrl_stack``,
``lh`` and ``make_longhorn``.

A ``Stack`` is one API server of the test's ``backend`` (the built-in one, or the real kube-apiserver
from ``scripts/kube-apiserver build``), one moto S3 server and the Longhorn CRDs, shared by every
controller test of that backend. Each test gets its own ``Longhorn``: a fresh namespace and bucket,
the settings, the credential Secret, BackupTarget ``default`` and a running ``Simulator``. Waiting is
done with watches, never by sleeping.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.longhorn.controllers import Simulator, SimulatorFaults
from lhdesk.demo.s3 import S3Config, S3Server, ensure_bucket
from lhdesk.demo.s3 import client as s3_client

GROUP = "longhorn.io"
VERSION = "v1beta2"
CRD_DIR = Path(__file__).resolve().parents[2] / "lhdesk" / "demo" / "longhorn" / "crds"
CRD_FILES = (
    "settings.yaml",
    "volumes.yaml",
    "recurringjobs.yaml",
    "backuptargets.yaml",
    "backupvolumes.yaml",
    "backups.yaml",
    "systembackups.yaml",
    "systemrestores.yaml",
)
Obj = dict[str, Any]


def _strip(node: Any, key: str) -> None:
    if isinstance(node, dict):
        node.pop(key, None)
        for value in node.values():
            _strip(value, key)
    elif isinstance(node, list):
        for value in node:
            _strip(value, key)


def _start_api_server(workdir: Path, backend: str, builtin_kwargs: dict[str, Any] | None = None) -> Any:
    """A started API server of ``backend``; ``builtin_kwargs`` (e.g. ``watch_history``) only apply
    to the built-in one."""
    if backend == "builtin":
        from lhdesk.demo.apiserver import ApiServer

        server = ApiServer("127.0.0.1", 0, **(builtin_kwargs or {}))
    else:
        from lhdesk.demo.realapi import RealApiServer

        server = RealApiServer(workdir)
    server.start()
    return server


def _wait_established(ext: client.ApiextensionsV1Api, names: set[str], timeout: float = 30.0) -> None:
    """Watch the CRDs until every one of ``names`` is Established."""
    pending = set(names)
    deadline = time.monotonic() + timeout
    while pending:
        listing = ext.list_custom_resource_definition()
        for crd in listing.items:
            conditions = (crd.status.conditions if crd.status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(crd.metadata.name)
        left = deadline - time.monotonic()
        if not pending or left <= 0:
            break
        response = ext.list_custom_resource_definition(
            watch=True,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=max(1, int(left)),
            _preload_content=False,
            _request_timeout=(5, left + 10),
        )
        try:
            for line in response:
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    break
                conditions = (obj.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    pending.discard(obj["metadata"]["name"])
                if not pending:
                    break
        finally:
            response.close()
            response.release_conn()
    assert not pending, f"CRDs not established: {sorted(pending)}"


class Stack:
    """An API server of one backend, S3 and the Longhorn CRDs, shared by the controller tests."""

    def __init__(self, workdir: Path, backend: str, builtin_kwargs: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.backend = backend
        self.builtin_kwargs = builtin_kwargs
        self.s3 = S3Server()
        self.api: Any = None
        self.api_client: client.ApiClient | None = None

    def start(self) -> None:
        self.s3.start()
        self.api = _start_api_server(self.workdir / "api", self.backend, self.builtin_kwargs)
        kubeconfig = self.api.write_kubeconfig(self.workdir / "kubeconfig")
        self.api_client = config.new_client_from_config(config_file=str(kubeconfig), context="demo-admin")
        self._install_crds()

    def stop(self) -> None:
        if self.api_client is not None:
            self.api_client.close()
        if self.api is not None:
            self.api.stop()
        self.s3.stop()

    def _install_crds(self) -> None:
        ext = client.ApiextensionsV1Api(self.api_client)
        version = client.VersionApi(self.api_client).get_code()
        minor = int("".join(ch for ch in version.minor if ch.isdigit()) or "0")
        names = []
        for filename in CRD_FILES:
            doc = yaml.safe_load((CRD_DIR / filename).read_text(encoding="utf-8"))
            if minor < 25:
                _strip(doc, "x-kubernetes-validations")  # CEL is unknown before 1.25
            names.append(doc["metadata"]["name"])
            with contextlib.suppress(ApiException):
                ext.create_custom_resource_definition(doc)
        _wait_established(ext, set(names))

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)


class Longhorn:
    """One simulated Longhorn in its own namespace and bucket."""

    def __init__(
        self,
        stack: Stack,
        *,
        speed: float = 20.0,
        faults: SimulatorFaults | None = None,
        scale_cron: bool = False,
        poll_interval: str = "300s",
        version: str = "v1.12.1",
        bucket: str | None = None,
    ) -> None:
        self.stack = stack
        suffix = uuid.uuid4().hex[:10]
        self.namespace = f"lh-{suffix}"
        assert stack.api_client is not None
        # ``bucket``: share another Longhorn's backup target, as a second cluster would.
        self.s3cfg = S3Config(endpoint_url=stack.s3.endpoint_url, bucket=bucket or f"bucket-{suffix}")
        self.version = version
        ensure_bucket(self.s3cfg)
        self.s3 = s3_client(self.s3cfg)
        core = stack.core
        core.create_namespace({"metadata": {"name": self.namespace}})
        secret_data = {
            k: base64.b64encode(v.encode()).decode() for k, v in self.s3cfg.credential_secret_data().items()
        }
        core.create_namespaced_secret(
            self.namespace, {"metadata": {"name": "s3-credentials"}, "type": "Opaque", "data": secret_data}
        )
        for name, value in (
            ("current-longhorn-version", version),
            ("default-engine-image", f"longhornio/longhorn-engine:{version}"),
            ("backup-target", ""),
            ("concurrent-replica-rebuild-per-node-limit", "5"),
            ("recurring-job-max-retention", "100"),
        ):
            self.create("settings", {"metadata": {"name": name}, "value": value})
        self.create(
            "backuptargets",
            {
                "metadata": {"name": "default"},
                "spec": {
                    "backupTargetURL": self.s3cfg.backup_target_url,
                    "credentialSecret": "s3-credentials",
                    "pollInterval": poll_interval,
                },
            },
        )
        self.faults = faults if faults is not None else SimulatorFaults()
        self.sim = Simulator(
            stack.api_client,
            self.namespace,
            self.s3cfg,
            speed=speed,
            faults=self.faults,
            scale_cron=scale_cron,
        )
        self.sim.start()
        assert self.sim.wait_ready(20), "the simulator did not become ready"

    def close(self) -> None:
        self.sim.stop()

    # ---- objects -------------------------------------------------------------------------------

    def create(self, plural: str, body: Obj) -> Obj:
        kind = {
            "settings": "Setting",
            "volumes": "Volume",
            "backuptargets": "BackupTarget",
            "backups": "Backup",
            "systembackups": "SystemBackup",
            "systemrestores": "SystemRestore",
            "recurringjobs": "RecurringJob",
        }[plural]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **body}
        obj: Obj = self.stack.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, body
        )
        return obj

    def get(self, plural: str, name: str) -> Obj | None:
        try:
            obj: Obj = self.stack.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def items(self, plural: str, label_selector: str = "") -> list[Obj]:
        result = self.stack.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, label_selector=label_selector
        )
        items: list[Obj] = result["items"]
        return items

    def delete(self, plural: str, name: str) -> None:
        self.stack.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def add_volume(
        self, name: str, *, state: str = "detached", last_backup: str = "", labels: Obj | None = None
    ) -> Obj:
        volume = self.create(
            "volumes",
            {
                "metadata": {"name": name, "labels": labels or {}},
                "spec": {
                    "size": str(1 << 30),
                    "numberOfReplicas": 3,
                    "frontend": "blockdev",
                    "backupTargetName": "default",
                },
            },
        )
        status = {"state": state, "robustness": "healthy" if state == "attached" else "unknown"}
        if last_backup:
            status["lastBackup"] = last_backup
        volume["status"] = status
        updated: Obj = self.stack.custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "volumes", name, volume
        )
        return updated

    # ---- waiting -------------------------------------------------------------------------------

    def wait_list(
        self,
        plural: str,
        predicate: Callable[[list[Obj]], bool],
        *,
        label_selector: str = "",
        timeout: float = 20.0,
    ) -> list[Obj]:
        """Watch ``plural`` until ``predicate(all objects)`` holds; returns them. Fails on timeout."""
        custom = self.stack.custom
        deadline = time.monotonic() + timeout
        while True:
            listing = custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, label_selector=label_selector
            )
            cache = {o["metadata"]["name"]: o for o in listing["items"]}
            if predicate(list(cache.values())):
                return list(cache.values())
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timed out waiting on {plural}: {[_summary(o) for o in cache.values()]}")
            stream = watch.Watch().stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                plural,
                label_selector=label_selector,
                resource_version=listing["metadata"]["resourceVersion"],
                timeout_seconds=max(1, int(left)),
            )
            for event in stream:
                obj = event["object"]
                if event["type"] == "DELETED":
                    cache.pop(obj["metadata"]["name"], None)
                elif event["type"] in ("ADDED", "MODIFIED"):
                    cache[obj["metadata"]["name"]] = obj
                else:
                    break  # ERROR (410): list again
                if predicate(list(cache.values())):
                    return list(cache.values())
                if time.monotonic() > deadline:
                    break

    def wait_for(
        self, plural: str, name: str, predicate: Callable[[Obj], bool], timeout: float = 20.0
    ) -> Obj:
        found = self.wait_list(
            plural,
            lambda objs: any(o["metadata"]["name"] == name and predicate(o) for o in objs),
            timeout=timeout,
        )
        return next(o for o in found if o["metadata"]["name"] == name)

    def wait_state(self, plural: str, name: str, *states: str, timeout: float = 20.0) -> Obj:
        return self.wait_for(plural, name, lambda o: (o.get("status") or {}).get("state") in states, timeout)

    def wait_gone(self, plural: str, name: str, timeout: float = 20.0) -> None:
        self.wait_list(plural, lambda objs: all(o["metadata"]["name"] != name for o in objs), timeout=timeout)

    # ---- S3 ------------------------------------------------------------------------------------

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.s3cfg.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents") or [])

    def read(self, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=self.s3cfg.bucket, Key=key)["Body"].read()
        return data


def _summary(obj: Obj) -> str:
    return f"{obj['metadata']['name']}:{(obj.get('status') or {}).get('state')}"


@pytest.fixture(scope="session")
def shared_ctrl_stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API server + S3 + Longhorn CRDs of ``backend``, once per session: each Longhorn has its own
    namespace and bucket, so the controller tests of every module share it."""
    stack = Stack(tmp_path_factory.mktemp(f"ctrl-stack-{backend}"), backend)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def ctrl_stack(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The controller tests' Stack on ``backend``.

    A module may set ``CTRL_BUILTIN_API_KWARGS`` (e.g. ``{"watch_history": 20}``): on the built-in
    backend it then gets a server of its own with those arguments (knobs kube-apiserver does not
    have; tests that depend on them are marked ``server_knobs``). Otherwise the shared Stack is used.
    """
    kwargs = getattr(request.module, "CTRL_BUILTIN_API_KWARGS", None)
    if not kwargs or backend != "builtin":
        yield request.getfixturevalue("shared_ctrl_stack")
        return
    stack = Stack(tmp_path_factory.mktemp("ctrl-stack-knobs"), backend, kwargs)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def make_longhorn(ctrl_stack: Stack) -> Iterator[Callable[..., Longhorn]]:
    """Factory: ``make_longhorn(speed=..., poll_interval=..., scale_cron=...)``; all stopped at the end."""
    made: list[Longhorn] = []

    def make(**kwargs: Any) -> Longhorn:
        lh = Longhorn(ctrl_stack, **kwargs)
        made.append(lh)
        return lh

    yield make
    for lh in made:
        lh.close()


@pytest.fixture
def lh(make_longhorn: Callable[..., Longhorn]) -> Longhorn:
    """A simulated Longhorn at speed 20 in a fresh namespace and bucket."""
    return make_longhorn()
