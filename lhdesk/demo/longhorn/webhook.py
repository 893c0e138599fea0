"""The demo's Longhorn admission webhook server: AdmissionReview v1 over HTTPS with its own CA.

It plays longhorn-manager's admission webhook: ``/v1/webhook/validation`` and
``/v1/webhook/mutation`` on 127.0.0.1, registered with the API server in the
``longhorn-webhook-validator`` / ``longhorn-webhook-mutator`` configurations (see
:mod:`lhdesk.demo.longhorn.install`). The API server, built-in or real, calls it exactly as
kube-apiserver calls longhorn-manager. Cluster state is read back through the ``kubernetes`` client.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.lifecycle import Service
from lhdesk.demo.longhorn.admission import (
    Admission,
    AdmissionDenied,
    AdmissionRequest,
    ClusterError,
    CronCheck,
    internal,
    review_response,
)
from lhdesk.demo.longhorn.controllers import kube as k
from lhdesk.demo.longhorn.controllers.kube import Kube, Resource
from lhdesk.demo.pki import CertificateAuthority

logger = logging.getLogger(__name__)

VALIDATION_PATH = "/v1/webhook/validation"
MUTATION_PATH = "/v1/webhook/mutation"
HEALTHZ_PATH = "/v1/healthz"
VALIDATING_CONFIGURATION = "longhorn-webhook-validator"
MUTATING_CONFIGURATION = "longhorn-webhook-mutator"
VALIDATING_WEBHOOK = "validator.longhorn.io"
MUTATING_WEBHOOK = "mutator.longhorn.io"
_MAX_BODY = 16 * 1024 * 1024


def robfig_cron_check(expression: str) -> str | None:
    """robfig/cron v1.2.0 ``ParseStandard``'s error text for ``expression``, or None when it parses."""
    from lhdesk.core import cron

    try:
        cron.parse(expression)
    except cron.CronError as exc:
        # robfig's own words, without the core's GUI hint: that is what Longhorn's webhook prints.
        return exc.robfig
    return None


class KubernetesReader:
    """:class:`~lhdesk.demo.longhorn.admission.ClusterReader` over the ``kubernetes`` client (raw JSON)."""

    def __init__(self, api_client: ApiClient, namespace: str) -> None:
        self._kube = Kube(api_client, request_timeout=8.0)
        self._namespace = namespace

    def _get(self, res: Resource, name: str) -> Mapping[str, Any] | None:
        try:
            return self._kube.get(res, name, self._namespace)
        except ApiException as exc:
            raise ClusterError(_api_error_text(exc)) from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ClusterError(str(exc)) from exc

    def _list(self, res: Resource, label_selector: str = "") -> list[Mapping[str, Any]]:
        try:
            return list(self._kube.items(res, self._namespace, label_selector=label_selector))
        except ApiException as exc:
            if exc.status == 404:
                # The CRD is not installed: nothing of that kind exists.
                return []
            raise ClusterError(_api_error_text(exc)) from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ClusterError(str(exc)) from exc

    def get_setting(self, name: str) -> Mapping[str, Any] | None:
        return self._get(k.SETTINGS, name)

    def get_backup_target(self, name: str) -> Mapping[str, Any] | None:
        return self._get(k.BACKUP_TARGETS, name)

    def list_backup_targets(self) -> list[Mapping[str, Any]]:
        return self._list(k.BACKUP_TARGETS)

    def get_secret_data(self, name: str) -> Mapping[str, bytes] | None:
        secret = self._get(k.SECRETS, name)
        if secret is None:
            return None
        return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}

    def list_volumes(self) -> list[Mapping[str, Any]]:
        return self._list(k.VOLUMES)

    def list_system_restores(self, label_selector: str) -> list[Mapping[str, Any]]:
        return self._list(k.SYSTEM_RESTORES, label_selector)

    def get_system_backup(self, name: str) -> Mapping[str, Any] | None:
        return self._get(k.SYSTEM_BACKUPS, name)


def _api_error_text(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"{exc.status} {exc.reason}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY the body waits ~40 ms for the
    # client's delayed ACK (Nagle), on every review.
    disable_nagle_algorithm = True
    # Idle keep-alive connections end after this, so a stopping server never waits long for them.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("webhook %s: " + format, self.client_address[0], *args)

    def _send_json(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == HEALTHZ_PATH:
            self._send_json(200, {"status": "ok"})
        else:
            self._send_json(404, {"message": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > _MAX_BODY:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": "an AdmissionReview body is required"})
            return
        raw = self.rfile.read(length)
        # kube-apiserver appends ``?timeout=10s``.
        path = urlsplit(self.path).path
        if path not in (VALIDATION_PATH, MUTATION_PATH):
            self._send_json(404, {"message": f"no webhook at {self.path}"})
            return
        try:
            review = json.loads(raw)
            request = AdmissionRequest.from_review(review)
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"cannot decode AdmissionReview: {exc}"})
            return
        self._send_json(200, self.server.webhook.review(request, mutate=path == MUTATION_PATH))


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], webhook: WebhookServer) -> None:
        self.webhook = webhook
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints these to stderr; a dropped or refused TLS connection is not news.
        logger.debug("webhook connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class WebhookServer(Service):
    """Longhorn's validating and mutating admission webhooks on an HTTPS loopback port.

    ``api_client`` is a ``kubernetes.client.ApiClient`` with rights to read Longhorn objects and
    Secrets in ``namespace``. ``cron_check`` defaults to the core's robfig/cron v1 parser.
    """

    def __init__(
        self,
        api_client: ApiClient,
        namespace: str = "longhorn-system",
        *,
        longhorn_version: str = "v1.12.1",
        host: str = "127.0.0.1",
        port: int = 0,
        cron_check: CronCheck | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self.namespace = namespace
        self.longhorn_version = longhorn_version
        self.admission = Admission(
            reader=KubernetesReader(api_client, namespace),
            cron_check=cron_check or robfig_cron_check,
            longhorn_version=longhorn_version,
        )
        ca = CertificateAuthority.generate("lhdesk-demo-longhorn-webhook-ca")
        self._cert = ca.issue_server_cert([host, "localhost"] if host != "localhost" else [host])
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_pem(self) -> bytes:
        """The CA that signed the server certificate: the webhook configurations' ``caBundle``."""
        return self._cert.ca_pem

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the webhook server is not started")
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

    @property
    def validation_url(self) -> str:
        return self.url + VALIDATION_PATH

    @property
    def mutation_url(self) -> str:
        return self.url + MUTATION_PATH

    def start(self) -> None:
        """Listen and serve in a background thread."""
        if self._server is not None:
            return
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.load_into(context)
        server = _Server((self._host, self._port), self)
        # The handshake happens in the connection's own thread, on its first read, never in accept().
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="longhorn-webhook", daemon=True)
        self._thread.start()
        logger.info("Longhorn admission webhook listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving, close open connections and join every thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        self.join()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def review(self, request: AdmissionRequest, *, mutate: bool) -> dict[str, Any]:
        """Answer one AdmissionReview (the HTTP handler's work, callable directly)."""
        kind = "mutation" if mutate else "validation"
        try:
            if mutate:
                ops = self.admission.mutate(request)
                answer = review_response(request.uid, ops, None)
            else:
                self.admission.validate(request)
                answer = review_response(request.uid, None, None)
        except AdmissionDenied as denied:
            logger.info(
                "Rejected %s %s %s/%s: %s",
                kind,
                request.operation,
                request.resource,
                request.name,
                denied.message,
            )
            return review_response(request.uid, None, denied)
        except Exception as exc:  # a bug must not look like a refusal with no reason
            logger.exception("webhook %s failed for %s %s", kind, request.operation, request.resource)
            return review_response(request.uid, None, internal(str(exc)))
        logger.debug("Admitted %s %s %s/%s", kind, request.operation, request.resource, request.name)
        return answer
