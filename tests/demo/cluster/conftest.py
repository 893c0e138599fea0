"""Fixtures of the demo-cluster tests: a running demo cluster on both API-server backends, kubectl, waits.

``demo_cluster`` and ``backend_guard`` come from tests/conftest.py, so these tests share one cluster
per backend with every other integration test.

``demo_cluster`` is parametrised over ``builtin`` and ``real``. The real backend needs the binaries of
``scripts/kube-apiserver build``: without them it is skipped with the reason, except when ``CI`` or
``LHDESK_REQUIRE_REAL_API`` is set, where a missing build fails the test.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from lhdesk.demo.cluster import DemoCluster

GROUP = "longhorn.io"
VERSION = "v1beta2"
NAMESPACE = "longhorn-system"
# Fast enough that the seed's history (system backups, a restore) is done in a few seconds.
SPEED = 10.0
SEED_TIMEOUT = 180.0
Obj = dict[str, Any]


@pytest.fixture(scope="session")
def cluster_starter(backend_guard: Callable[[str], None]) -> Callable[..., DemoCluster]:
    """``cluster_starter(workdir, backend, **DemoCluster kwargs)``: a started, fully seeded cluster
    of its own (the caller stops it), for tests that stop, attach to or signal their cluster."""

    def start(workdir: Path, backend: str, **kwargs: Any) -> DemoCluster:
        backend_guard(backend)
        cluster = DemoCluster(workdir, backend=backend, speed=kwargs.pop("speed", SPEED), **kwargs)  # type: ignore[arg-type]
        cluster.start()
        try:
            assert cluster.wait_seeded(SEED_TIMEOUT), "the demo cluster's seed did not finish"
        except BaseException:
            cluster.stop()
            raise
        return cluster

    return start


@pytest.fixture(scope="session")
def admin_api(demo_cluster: DemoCluster) -> Iterator[client.ApiClient]:
    """An ApiClient with the demo-admin context."""
    api = demo_cluster.api_client("demo-admin")
    yield api
    api.close()


@pytest.fixture(scope="session")
def readonly_api(demo_cluster: DemoCluster) -> Iterator[client.ApiClient]:
    """An ApiClient with the demo-readonly context."""
    api = demo_cluster.api_client("demo-readonly")
    yield api
    api.close()


@pytest.fixture(scope="session")
def custom(admin_api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(admin_api)


@pytest.fixture
def kubectl(demo_cluster: DemoCluster, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against the demo cluster: ``kubectl("get", "lhsb", context=..., stdin=...)``."""

    def run(*args: str, context: str = "demo-admin", stdin: str | None = None, timeout: float = 60) -> Any:
        env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(demo_cluster.kubeconfig_path)}
        return subprocess.run(
            ["kubectl", "--context", context, "-n", NAMESPACE, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Obj]:
    """``wait_for(custom, plural, name, predicate, timeout=30)``: watch until the predicate holds."""
    return watch_until


def watch_until(
    custom: client.CustomObjectsApi,
    plural: str,
    name: str,
    predicate: Callable[[Obj], bool],
    *,
    timeout: float = 30.0,
    namespace: str = NAMESPACE,
) -> Obj:
    """Watch one Longhorn object until ``predicate`` holds (no sleeping); fails the test on timeout."""
    deadline = time.monotonic() + timeout
    last: Obj | None = None
    while True:
        listing = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, field_selector=f"metadata.name={name}"
        )
        for item in listing["items"]:
            last = item
            if predicate(item):
                return item
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"timed out waiting for {plural}/{name}; last seen: {last}", pytrace=False)
        w: Any = watch.Watch()
        for event in w.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
            field_selector=f"metadata.name={name}",
            resource_version=listing["metadata"]["resourceVersion"],
            timeout_seconds=max(1, int(left)),
        ):
            if event["type"] == "ERROR":
                break
            last = event["object"]
            if event["type"] != "DELETED" and predicate(event["object"]):
                w.stop()
                return event["object"]
            if time.monotonic() > deadline:
                break
        w.stop()
