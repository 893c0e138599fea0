"""Fixtures for the built-in API server tests: a running server with Longhorn's CRDs, a client, kubectl."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes import client

from lhdesk.demo.apiserver import ApiServer

SHARED = Path(os.environ.get("LHDESK_SHARED", Path(__file__).resolve().parents[4] / "shared"))
CRD_DIR = SHARED / "longhorn" / "crds"
EXAMPLES_DIR = SHARED / "longhorn" / "examples"
NS = "longhorn-system"
GROUP = "longhorn.io"
VERSION = "v1beta2"


def crd_files() -> list[Path]:
    """Longhorn v1.12.1's CRDs (not the master-unreleased ones)."""
    return sorted(CRD_DIR.glob("*.yaml"))


@dataclass
class Demo:
    """A running server, admin and read-only clients, and a kubectl runner."""

    GROUP = GROUP
    VERSION = VERSION
    NS = NS

    server: ApiServer
    kubeconfig: Path
    api: client.ApiClient
    readonly: client.ApiClient
    tmp: Path

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def kubectl(
        self, *args: str, context: str | None = None, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.tmp / "kubectl-cache"),
        ]
        if context:
            cmd += ["--context", context]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=stdin, check=False)

    @staticmethod
    def rj(name: str, task: str = "snapshot", **spec: Any) -> dict[str, Any]:
        return rj(name, task, **spec)

    def status_of(self, exc: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(exc.value.body)
        return body


def rj(name: str, task: str = "snapshot", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"task": task, "cron": "* * * * *", "retain": 1, "concurrency": 1}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


@contextmanager
def running_demo(tmp: Path, crds: bool = True, **kwargs: Any) -> Iterator[Demo]:
    server = ApiServer(**kwargs).start()
    try:
        kubeconfig = server.write_kubeconfig(tmp / "kubeconfig")
        api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        readonly = kubernetes.config.new_client_from_config(
            config_file=str(kubeconfig), context="demo-readonly"
        )
        try:
            client.CoreV1Api(api).create_namespace(body={"metadata": {"name": NS}})
            if crds:
                ext = client.ApiextensionsV1Api(api)
                for f in crd_files():
                    ext.create_custom_resource_definition(body=yaml.safe_load(f.read_text()))
            yield Demo(server, kubeconfig, api, readonly, tmp)
        finally:
            api.close()
            readonly.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One server with the Longhorn CRDs and the longhorn-system namespace per test module."""
    with running_demo(tmp_path_factory.mktemp("apiserver")) as d:
        yield d


@pytest.fixture
def make_demo(tmp_path: Path) -> Iterator[Any]:
    """A factory for a server of one's own (``make_demo(watch_history=10)``), stopped after the test."""
    stack: list[Any] = []

    def make(**kwargs: Any) -> Demo:
        cm = running_demo(tmp_path / f"s{len(stack)}", **kwargs)
        d = cm.__enter__()
        stack.append(cm)
        return d

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
