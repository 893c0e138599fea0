"""Local servers for the kube gateway tests: a tiny HTTPS API server, a black hole, a closed port.

Everything listens on 127.0.0.1 on a port picked at run time and is stopped (threads joined)
when the fixture ends.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from lhdesk.demo.pki import CertificateAuthority, ServerCert

SETTING_PATH = "/apis/longhorn.io/v1beta2/namespaces/longhorn-system/settings/current-longhorn-version"
SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
ALL = "*"


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


class _TlsServer(ThreadingHTTPServer):
    """HTTPS with the handshake in the handler thread, so a failing client never blocks accept().

    Handler threads are not daemons and are joined on close (HTTP/1.0: one request per connection).
    """

    daemon_threads = False

    def __init__(self, address: tuple[str, int], handler: Any, context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self._context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            tls = self._context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with tls:
            super().finish_request(tls, client_address)


def forbidden_message(user: str, verb: str, resource: str) -> str:
    return (
        f'{resource}.longhorn.io "current-longhorn-version" is forbidden: User "{user}" cannot {verb} '
        f'resource "{resource}" in API group "longhorn.io" in the namespace "longhorn-system"'
    )


@dataclass
class FakeApi:
    """Answers what a probe asks: /version, the Longhorn version setting, SelfSubjectAccessReviews.

    ``tokens`` maps bearer tokens to user names; ``grants`` maps a user to the set of
    (verb, resource) pairs allowed ("*" for everything). ``longhorn_version`` None means no
    Longhorn CRDs at all. ``requests`` records (method, path, user) for assertions.
    """

    cert: ServerCert
    tokens: dict[str, str]
    grants: dict[str, set[tuple[str, str]] | str]
    longhorn_version: str | None = "v1.12.1"
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def ca_data(self) -> str:
        return base64.b64encode(self.cert.ca_pem).decode()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Bearer "):
                    return "system:anonymous"
                return fake.tokens.get(header[len("Bearer ") :])

            def _handle(self, method: str) -> None:
                user = self._user()
                path = self.path.split("?")[0].rstrip("/") or "/"
                fake.requests.append((method, path, user or "?"))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if user is None:
                    self._send(401, status_body(401, "Unauthorized", "Unauthorized"))
                    return
                if method == "GET" and path == "/version":
                    self._send(
                        200, {"major": "1", "minor": "31", "gitVersion": "v1.31.4", "platform": "linux/amd64"}
                    )
                    return
                if method == "GET" and path == SETTING_PATH:
                    if fake.longhorn_version is None:
                        self._send(
                            404,
                            status_body(404, "NotFound", "the server could not find the requested resource"),
                        )
                    elif not fake.allowed(user, "get", "settings"):
                        self._send(
                            403,
                            status_body(
                                403,
                                "Forbidden",
                                forbidden_message(user, "get", "settings"),
                                {
                                    "name": "current-longhorn-version",
                                    "group": "longhorn.io",
                                    "kind": "settings",
                                },
                            ),
                        )
                    else:
                        self._send(
                            200,
                            {
                                "apiVersion": "longhorn.io/v1beta2",
                                "kind": "Setting",
                                "metadata": {
                                    "name": "current-longhorn-version",
                                    "namespace": "longhorn-system",
                                },
                                "value": fake.longhorn_version,
                            },
                        )
                    return
                if method == "POST" and path == SSAR_PATH:
                    review = json.loads(raw)
                    attrs = review["spec"]["resourceAttributes"]
                    review["status"] = {"allowed": fake.allowed(user, attrs["verb"], attrs["resource"])}
                    self._send(201, review)
                    return
                self._send(
                    404, status_body(404, "NotFound", "the server could not find the requested resource")
                )

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.cert.load_into(context)
        server = _TlsServer(("127.0.0.1", 0), Handler, context)
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-api", daemon=True
        )
        self.thread.start()

    def allowed(self, user: str, verb: str, resource: str) -> bool:
        grant = self.grants.get(user, set())
        return grant == ALL or (verb, resource) in grant

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate("lhdesk-test-ca")


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority.generate("some-other-ca")


READ_ONLY = {
    (verb, resource)
    for verb in ("get", "list", "watch")
    for resource in ("settings", "volumes", "recurringjobs", "systembackups", "systemrestores")
}


@pytest.fixture
def fake_api_factory(ca: CertificateAuthority) -> Iterator[Callable[..., FakeApi]]:
    started: list[FakeApi] = []

    def make(
        longhorn_version: str | None = "v1.12.1",
        hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
        issuer: CertificateAuthority | None = None,
    ) -> FakeApi:
        api = FakeApi(
            cert=(issuer or ca).issue_server_cert(list(hosts)),
            tokens={"admin-token-0123456789": "admin", "reader-token-0123456789": "reader"},
            grants={"admin": ALL, "reader": set(READ_ONLY)},
            longhorn_version=longhorn_version,
        )
        api.start()
        started.append(api)
        return api

    yield make
    for api in started:
        api.stop()


@pytest.fixture
def fake_api(fake_api_factory: Callable[..., FakeApi]) -> FakeApi:
    return fake_api_factory()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that takes connections into its backlog but never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def kubeconfig_doc(
    clusters: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]],
    contexts: dict[str, tuple[str, str]],
    current: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": body} for name, body in clusters.items()],
        "users": [{"name": name, "user": body} for name, body in users.items()],
        "contexts": [
            {"name": name, "context": {"cluster": cluster, "user": user, "namespace": "longhorn-system"}}
            for name, (cluster, user) in contexts.items()
        ],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


@pytest.fixture
def write_kubeconfig(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str = "config", **kwargs: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(kubeconfig_doc(**kwargs)))
        return path

    return write
