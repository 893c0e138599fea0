"""A real kube-apiserver (v1.20.2) with etcd (3.4.23) on 127.0.0.1, as a stand-in for the built-in server.

The binaries are built from Debian's archive by ``scripts/kube-apiserver build`` into a cache dir
(``$LHDESK_KUBE_CACHE``, default ``~/.cache/lhdesk/kubernetes``). This module only runs them:

- etcd and kube-apiserver listen on 127.0.0.1 only, on free ports picked at start;
- TLS with a CA and a serving certificate for 127.0.0.1 generated at each start; the kubeconfig
  trusts that CA, so clients verify TLS for real;
- a static token file with an admin user (group ``system:masters``) and a read-only user, RBAC
  authorization, and a ClusterRole ``lhdesk-demo-readonly`` (get/list/watch on everything) bound to
  the read-only user;
- a kubeconfig with contexts ``demo-admin`` and ``demo-readonly`` (cluster ``demo``, namespace
  ``longhorn-system``), the same shape the built-in server writes.

Each start uses a fresh etcd data dir, so a cluster starts empty, like the built-in server.
Everything (certificates, tokens, logs, pid files, etcd data) stays in the work dir.

The two processes never outlive the process that started them (unless it asked for ``detach``):
a small watchdog process holds the read end of a pipe whose write end only the owner has, so it
wakes up when the owner stops them or dies in any way (an exception, SIGKILL, a segfault) and
then terminates whatever of them still runs. A start in a work dir whose earlier owner died
without stopping its processes stops those first.

It is also a small CLI, which ``scripts/kube-apiserver start|stop|env`` calls::

    python -m lhdesk.demo.realapi start --dir DIR   # prints the API URL; processes keep running
    python -m lhdesk.demo.realapi stop --dir DIR
    python -m lhdesk.demo.realapi env --dir DIR     # prints `export KUBECONFIG=...`
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lhdesk.demo.lifecycle import Service
from lhdesk.demo.pki import CertificateAuthority

logger = logging.getLogger(__name__)

K8S_VERSION = "v1.20.2"
ETCD_VERSION = "3.4.23"
#: The content of the cache dir's stamp file ``BUILT``; must match scripts/kube-apiserver.
STAMP_LINE = f"kube-apiserver={K8S_VERSION} etcd={ETCD_VERSION}"

CLUSTER_NAME = "demo"
ADMIN_USER = "demo-admin"
READONLY_USER = "demo-readonly"
READONLY_ROLE = "lhdesk-demo-readonly"
NAMESPACE = "longhorn-system"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
_SA_ISSUER = "https://kubernetes.default.svc.cluster.local"

_LOOPBACK = "127.0.0.1"
_BUILD_HINT = "build it with `scripts/kube-apiserver build` (about 3-4 minutes)"
_PORT_ATTEMPTS = 3


# The watchdog (run as ``python -I -S -c _WATCHDOG PID EXE [PID EXE ...]``, stdin a pipe from the
# owner): at end of file on stdin (the owner closed it, or died and the kernel closed it), SIGTERM
# each process that still runs its executable, in order, then SIGKILL what outlives the grace time.
# Standard library only, so it starts in a few milliseconds.
_WATCHDOG = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
procs = [(int(sys.argv[i]), os.fsencode(sys.argv[i + 1])) for i in range(1, len(sys.argv), 2)]
try:
    while sys.stdin.buffer.read(4096):
        pass
except OSError:
    pass

def alive(pid, exe):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            first = f.read().split(b"\\0")[0]
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[-1].split()[0]
    except OSError:
        return False
    return first == exe and state != b"Z"

for pid, exe in procs:
    if alive(pid, exe):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while alive(pid, exe) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid, exe):
            os.kill(pid, signal.SIGKILL)
"""


class RealApiServerError(RuntimeError):
    """The real API server is not built, did not start, or did not become ready."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the two executables in the cache dir."""

    kube_apiserver: Path
    etcd: Path


def cache_dir() -> Path:
    """The cache dir ``scripts/kube-apiserver build`` builds into."""
    env = os.environ.get("LHDESK_KUBE_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "lhdesk" / "kubernetes"


def find_binaries(cache: Path | None = None) -> Binaries | None:
    """The built binaries, or None when ``scripts/kube-apiserver build`` has not completed there."""
    root = cache if cache is not None else cache_dir()
    stamp = root / "BUILT"
    found = Binaries(kube_apiserver=root / "bin" / "kube-apiserver", etcd=root / "bin" / "etcd")
    try:
        if stamp.read_text(encoding="utf-8").strip() != STAMP_LINE:
            return None
    except OSError:
        return None
    for exe in (found.kube_apiserver, found.etcd):
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            return None
    return found


def is_built(cache: Path | None = None) -> bool:
    """Whether the binaries are built in ``cache`` (default: :func:`cache_dir`)."""
    return find_binaries(cache) is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (keys, tokens, kubeconfigs)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _proc_is(pid: int, exe: str) -> bool:
    """Whether ``pid`` is a live (non-zombie) process running ``exe`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    return state != "Z" and bool(cmdline) and cmdline[0] == os.fsencode(exe)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class RealApiServer(Service):
    """etcd + kube-apiserver v1.20.2 on 127.0.0.1, driven like ``lhdesk.demo.apiserver.ApiServer``.

    ``detach=True`` starts the processes in their own session so they outlive this Python process
    (the CLI's ``start``); ``stop()`` then works from the pid files in ``workdir``, from any process.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        binaries: Binaries | None = None,
        ready_timeout: float = 60.0,
        stop_timeout: float = 15.0,
        detach: bool = False,
    ) -> None:
        self.workdir = Path(workdir).absolute()
        self._binaries = binaries
        self._ready_timeout = ready_timeout
        self._stop_timeout = stop_timeout
        self._detach = detach
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_pipe: int | None = None
        self._port: int | None = None
        self._admin_token: str | None = None
        self._readonly_token: str | None = None
        self._ca_pem: bytes | None = None

    # --- the ApiServer-compatible surface -------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RealApiServerError("the real API server is not started")
        return f"https://{_LOOPBACK}:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RealApiServerError("the real API server is not started")
        return self._port

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def admin_token(self) -> str:
        if self._admin_token is None:
            raise RealApiServerError("the real API server is not started")
        return self._admin_token

    @property
    def readonly_token(self) -> str:
        if self._readonly_token is None:
            raise RealApiServerError("the real API server is not started")
        return self._readonly_token

    @property
    def ca_pem(self) -> bytes:
        """PEM of the CA that signed the serving certificate (the kubeconfig's CA)."""
        if self._ca_pem is None:
            raise RealApiServerError("the real API server is not started")
        return self._ca_pem

    def write_kubeconfig(self, path: Path) -> Path:
        """Copy the kubeconfig (contexts demo-admin and demo-readonly) to ``path`` (mode 0600)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_private(target, self.kubeconfig_path.read_bytes())
        return target

    # --- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start etcd and kube-apiserver, wait for /readyz, create RBAC and write the kubeconfig."""
        if self._procs:
            raise RealApiServerError("the real API server is already started")
        binaries = self._binaries or find_binaries()
        if binaries is None:
            raise RealApiServerError(f"kube-apiserver is not built in {cache_dir()}: {_BUILD_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._running_from_pidfiles():
            owner = _owner_of(self.workdir)
            if owner is None:
                raise RealApiServerError(f"a real API server is already running from {self.workdir}")
            # Left behind by a process that died without stopping them (and whose watchdog died
            # too): nobody can use them any more, and a new start wipes their etcd data anyway.
            logger.warning(
                "stopping the etcd/kube-apiserver that process %d left running in %s", owner, self.workdir
            )
            stop_dir(self.workdir, timeout=self._stop_timeout)
        self._prepare_files()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._launch(binaries)
                self._wait_ready()
            except _PortTaken:
                self._terminate_all()
                logger.info("a port was taken before we could use it (attempt %d); retrying", attempt)
                continue
            except BaseException:
                self._terminate_all()
                raise
            break
        else:
            raise RealApiServerError("could not find free ports for etcd and kube-apiserver")
        try:
            self._bootstrap()
            self._write_own_kubeconfig()
        except BaseException:
            self.stop()
            raise
        logger.info("real kube-apiserver %s ready at %s (dir %s)", K8S_VERSION, self.url, self.workdir)

    def _prepare_files(self) -> None:
        wd = self.workdir
        shutil.rmtree(wd / "etcd-data", ignore_errors=True)
        for name in ("kubeconfig", "state.json"):
            (wd / name).unlink(missing_ok=True)
        tls = CertificateAuthority.generate("lhdesk-demo-ca").issue_server_cert()
        self._ca_pem = tls.ca_pem
        (wd / "ca.crt").write_bytes(tls.ca_pem)
        (wd / "apiserver.crt").write_bytes(tls.cert_pem + tls.ca_pem)
        _write_private(wd / "apiserver.key", tls.key_pem)
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(wd / "sa.key", _pem_key(sa_key))
        (wd / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self._admin_token = secrets.token_hex(24)
        self._readonly_token = secrets.token_hex(24)
        # token,user,uid,"groups": the admin is in system:masters, the read-only user in no group
        # of its own (RBAC below gives it get/list/watch).
        tokens = (
            f'{self._admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
            f"{self._readonly_token},{READONLY_USER},{READONLY_USER}\n"
        )
        _write_private(wd / "tokens.csv", tokens.encode())

    def _launch(self, binaries: Binaries) -> None:
        wd = self.workdir
        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        while len({etcd_port, peer_port, api_port}) < 3:
            peer_port, api_port = _free_port(), _free_port()
        etcd_url = f"http://{_LOOPBACK}:{etcd_port}"
        peer_url = f"http://{_LOOPBACK}:{peer_port}"
        shutil.rmtree(wd / "etcd-data", ignore_errors=True)
        etcd_args = [
            str(binaries.etcd),
            "--name=default",
            f"--data-dir={wd / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        api_args = [
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={_LOOPBACK}",
            f"--advertise-address={_LOOPBACK}",
            f"--secure-port={api_port}",
            "--insecure-port=0",
            f"--cert-dir={wd / 'certs'}",
            f"--tls-cert-file={wd / 'apiserver.crt'}",
            f"--tls-private-key-file={wd / 'apiserver.key'}",
            f"--token-auth-file={wd / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={_SA_ISSUER}",
            f"--api-audiences={_SA_ISSUER}",
            f"--service-account-key-file={wd / 'sa.pub'}",
            f"--service-account-signing-key-file={wd / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # Webhooks are on by default in 1.20; say so, since the Longhorn simulator relies on them.
            "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            # No controller-manager runs, so no namespace gets a "default" service account; the
            # ServiceAccount plugin would refuse every pod.
            "--disable-admission-plugins=ServiceAccount",
            # Nothing reconciles the `kubernetes` Endpoints object to 127.0.0.1 (it would log an
            # error every 10 s: loopback addresses are not valid endpoints).
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ]
        self._procs["etcd"] = self._spawn("etcd", etcd_args)
        self._procs["kube-apiserver"] = self._spawn("kube-apiserver", api_args)
        self._port = api_port
        exes = {"etcd": str(binaries.etcd), "kube-apiserver": str(binaries.kube_apiserver)}
        if not self._detach:
            self._start_watchdog(exes)
        state = {
            "url": f"https://{_LOOPBACK}:{api_port}",
            "etcd_url": etcd_url,
            "pids": {name: proc.pid for name, proc in self._procs.items()},
            "exes": exes,
            # Who stops them: a detached start leaves that to `stop`; otherwise the owner (or its
            # watchdog, when the owner dies).
            "owner": None if self._detach else os.getpid(),
            "watchdog": self._watchdog.pid if self._watchdog is not None else None,
        }
        (wd / "state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        wd = self.workdir
        with open(wd / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=wd,
                start_new_session=self._detach,
            )
        (wd / f"{name}.pid").write_text(f"{proc.pid}\n", encoding="utf-8")
        return proc

    def _start_watchdog(self, exes: dict[str, str]) -> None:
        """A process that stops etcd and kube-apiserver when this one closes the pipe or dies."""
        read_end, write_end = os.pipe()  # both close-on-exec: no other child inherits the write end
        args = [sys.executable, "-I", "-S", "-c", _WATCHDOG]
        for name in ("kube-apiserver", "etcd"):  # the API server first, as stop() does
            args += [str(self._procs[name].pid), exes[name]]
        try:
            self._watchdog = subprocess.Popen(
                args,
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self.workdir,
                # Out of the owner's process group: a Ctrl+C or a group kill meant for the owner
                # must leave the watchdog alive to clean up.
                start_new_session=True,
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._watchdog_pipe = write_end

    def _stop_watchdog(self) -> None:
        if self._watchdog_pipe is not None:
            os.close(self._watchdog_pipe)
            self._watchdog_pipe = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(timeout=self._stop_timeout + 20)
            except subprocess.TimeoutExpired:
                logger.warning("the real API server's watchdog (pid %d) did not exit", self._watchdog.pid)
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection(_LOOPBACK, self.port, context=self._ssl_context(), timeout=10)
        try:
            headers = {"Authorization": f"Bearer {self.admin_token}", "Accept": "application/json"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout
        last = "no answer yet"
        while True:
            for name, proc in self._procs.items():
                code = proc.poll()
                if code is not None:
                    log_tail = _tail(self.workdir / f"{name}.log")
                    if "address already in use" in log_tail:
                        raise _PortTaken(name)
                    raise RealApiServerError(
                        f"{name} exited with status {code} during startup; "
                        f"last lines of {self.workdir / (name + '.log')}:\n{log_tail}"
                    )
            try:
                status, body = self._request("GET", "/readyz")
                if status == 200 and body.strip() == b"ok":
                    return
                last = f"HTTP {status}"
            except (OSError, http.client.HTTPException) as exc:
                last = type(exc).__name__
            if time.monotonic() > deadline:
                raise RealApiServerError(
                    f"kube-apiserver not ready after {self._ready_timeout:.0f} s ({last}); "
                    f"see {self.workdir / 'kube-apiserver.log'}"
                )
            time.sleep(0.1)

    def _bootstrap(self) -> None:
        """The namespace the kubeconfig points at, and RBAC for the read-only user."""
        objects: list[tuple[str, dict[str, Any]]] = [
            (
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": READONLY_ROLE, "labels": {"app.kubernetes.io/part-of": "lhdesk"}},
                    "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
                },
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": READONLY_ROLE, "labels": {"app.kubernetes.io/part-of": "lhdesk"}},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": READONLY_ROLE,
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": READONLY_USER}
                    ],
                },
            ),
        ]
        for path, obj in objects:
            status, body = self._request("POST", path, obj)
            if status not in (201, 409):
                raise RealApiServerError(
                    f"creating {obj['kind']} {obj['metadata']['name']} failed: HTTP {status} "
                    f"{body[:300].decode(errors='replace')}"
                )

    def _kubeconfig(self) -> dict[str, Any]:
        ca_data = base64.b64encode(self.ca_pem).decode("ascii")
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": CLUSTER_NAME, "cluster": {"server": self.url, "certificate-authority-data": ca_data}}
            ],
            "users": [
                {"name": ADMIN_USER, "user": {"token": self.admin_token}},
                {"name": READONLY_USER, "user": {"token": self.readonly_token}},
            ],
            "contexts": [
                {
                    "name": ctx,
                    "context": {"cluster": CLUSTER_NAME, "user": ctx, "namespace": NAMESPACE},
                }
                for ctx in (ADMIN_USER, READONLY_USER)
            ],
            "current-context": ADMIN_USER,
            "preferences": {},
        }

    def _write_own_kubeconfig(self) -> None:
        text = yaml.safe_dump(self._kubeconfig(), sort_keys=False)
        _write_private(self.kubeconfig_path, text.encode())

    # --- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM kube-apiserver, then etcd; SIGKILL whichever outlives the timeout. Idempotent."""
        self._terminate_all()
        if self._running_from_pidfiles():
            stop_dir(self.workdir, timeout=self._stop_timeout)
        self._port = None

    def _terminate_all(self) -> None:
        # The API server first: it flushes to etcd on the way down.
        for name in ("kube-apiserver", "etcd"):
            proc = self._procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    logger.warning("%s (pid %d) ignored SIGTERM; killing it", name, proc.pid)
                    proc.kill()
                    proc.wait()
            (self.workdir / f"{name}.pid").unlink(missing_ok=True)
        self._procs.clear()
        self._stop_watchdog()

    def _running_from_pidfiles(self) -> bool:
        return bool(_live_pids(self.workdir))


class _PortTaken(Exception):
    """A free port was taken by someone else between picking it and binding it."""


def _live_pids(workdir: Path) -> dict[str, int]:
    """The live processes recorded in ``workdir`` (pid files checked against the executable)."""
    try:
        state = json.loads((workdir / "state.json").read_text(encoding="utf-8"))
        exes: dict[str, str] = state["exes"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    live: dict[str, int] = {}
    for name in ("kube-apiserver", "etcd"):
        try:
            pid = int((workdir / f"{name}.pid").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if name in exes and _proc_is(pid, exes[name]):
            live[name] = pid
    return live


def _owner_of(workdir: Path) -> int | None:
    """The pid of the dead process that started the processes of ``workdir``, if they are stale.

    None when they are not stale: started detached (``stop`` is how they end), or their owner runs.
    """
    try:
        owner = json.loads((workdir / "state.json").read_text(encoding="utf-8")).get("owner")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(owner, int) or owner == os.getpid():
        return None
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return owner
    except PermissionError:
        return None
    return None


def stop_dir(workdir: Path, *, timeout: float = 15.0) -> list[str]:
    """Stop the processes a (detached) start left in ``workdir``; returns the names stopped.

    Used by the CLI's ``stop``, from a process that is not their parent: it polls /proc until they
    are gone (their parent, init, reaps them).
    """
    workdir = Path(workdir).absolute()
    live = _live_pids(workdir)
    try:
        exes: dict[str, str] = json.loads((workdir / "state.json").read_text(encoding="utf-8"))["exes"]
    except (OSError, ValueError, KeyError, TypeError):
        exes = {}
    stopped: list[str] = []
    for name in ("kube-apiserver", "etcd"):
        pid = live.get(name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _proc_is(pid, exes[name]) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _proc_is(pid, exes[name]):
                logger.warning("%s (pid %d) ignored SIGTERM; killing it", name, pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                while _proc_is(pid, exes[name]):
                    time.sleep(0.05)
            stopped.append(name)
        (workdir / f"{name}.pid").unlink(missing_ok=True)
    return stopped


# --- CLI ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lhdesk.demo.realapi",
        description=f"Run a real kube-apiserver {K8S_VERSION} + etcd {ETCD_VERSION} on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("start", "start it (detached) and print the API URL"),
        ("stop", "stop it"),
        ("env", "print `export KUBECONFIG=...`"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", type=Path, required=True, help="work dir: certs, tokens, logs, etcd data")
    sub.add_parser("status", help="say whether the binaries are built, and where")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="realapi: %(message)s")
    out = sys.stdout
    if args.command == "status":
        found = find_binaries()
        out.write(f"{'built' if found else 'not built'}: {cache_dir()}\n")
        return 0 if found else 1
    workdir: Path = args.dir.absolute()
    if args.command == "start":
        server = RealApiServer(workdir, detach=True)
        try:
            server.start()
        except RealApiServerError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        out.write(f"{server.url}\n")
        return 0
    if args.command == "stop":
        stopped = stop_dir(workdir)
        logger.info("stopped %s", ", ".join(stopped) if stopped else "nothing (not running)")
        return 0
    # env
    kubeconfig = workdir / "kubeconfig"
    if not kubeconfig.is_file():
        sys.stderr.write(f"error: no kubeconfig in {workdir}; run start first\n")
        return 1
    out.write(f"export KUBECONFIG={shlex.quote(str(kubeconfig))}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
