"""Fixtures for the built-in API server tests: a running server with Longhorn's CRDs, a client, kubectl."""

from __future__ import annotations

import json
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

# Longhorn's own CRDs ship inside the package; the example objects are test data in the repo.
CRD_DIR = Path(__file__).resolve().parents[3] / "lhdesk" / "demo" / "longhorn" / "crds"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "data" / "longhorn-examples"
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


class TestWebhook:
    """A tiny HTTPS admission webhook that decides by the object's name.

    Validating (``/validate``): names starting ``deny`` are refused with code 400 and message
    ``"no <name> here"``; ``warn`` names are allowed with a warning. Mutating (``/mutate``): sets
    ``spec.concurrency`` to 10 when it is absent, and labels the object ``mutated=yes``. Every
    AdmissionReview received is kept in ``reviews`` as (path, review).
    """

    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        import http.server
        import ssl
        import threading

        from lhdesk.demo.pki import CertificateAuthority

        self.ca = CertificateAuthority.generate("test-webhook-ca")
        self.reviews: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length))
                with outer._lock:
                    outer.reviews.append((self.path, review))
                answer = outer.decide(self.path, review["request"])
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_server_cert(["127.0.0.1"]).load_into(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="test-webhook", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def ca_bundle(self) -> str:
        import base64

        return base64.b64encode(self.ca.cert_pem).decode()

    def decide(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        import base64

        obj = request.get("object") or request.get("oldObject") or {}
        name = str((obj.get("metadata") or {}).get("name") or request.get("name") or "")
        answer: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        if (
            path.startswith("/mutate")
            and request["operation"] in ("CREATE", "UPDATE")
            and request.get("object")
        ):
            ops = []
            if "concurrency" not in (obj.get("spec") or {}):
                ops.append({"op": "add", "path": "/spec/concurrency", "value": 10})
            if not (obj.get("metadata") or {}).get("labels"):
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "yes"})
            answer["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
            answer["patchType"] = "JSONPatch"
        elif path.startswith("/validate"):
            if name.startswith("deny"):
                answer = {
                    "uid": request["uid"],
                    "allowed": False,
                    "status": {"code": 400, "message": f"no {name} here"},
                }
            elif name.startswith("warn"):
                answer["warnings"] = [f"{name} is borderline"]
        return answer

    def configurations(
        self,
        resources: list[str],
        operations: list[str] | None = None,
        failure_policy: str = "Fail",
        side_effects: str = "None",
        url: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rules = [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "operations": operations or ["CREATE", "UPDATE"],
                "resources": resources,
            }
        ]

        def hook(name: str, path: str) -> dict[str, Any]:
            return {
                "name": name,
                "clientConfig": {"url": (url or self.url) + path, "caBundle": self.ca_bundle},
                "rules": rules,
                "sideEffects": side_effects,
                "admissionReviewVersions": ["v1"],
                "failurePolicy": failure_policy,
                "timeoutSeconds": 5,
            }

        mutating = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "test-mutating"},
            "webhooks": [hook("mutate.test.example.com", "/mutate")],
        }
        validating = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "test-validating"},
            "webhooks": [hook("validate.test.example.com", "/validate")],
        }
        return mutating, validating

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def webhook() -> Iterator[TestWebhook]:
    hook = TestWebhook()
    yield hook
    hook.close()
