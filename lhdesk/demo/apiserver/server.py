"""The HTTPS front end: authentication, authorization, routing, content negotiation and watches."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from lhdesk.demo.apiserver import errors, openapi, protobuf, tables
from lhdesk.demo.apiserver.cluster import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    Cluster,
    WriteOptions,
)
from lhdesk.demo.apiserver.errors import ApiError
from lhdesk.demo.apiserver.faults import Faults
from lhdesk.demo.apiserver.rbac import AUTHENTICATED, MASTERS, Attributes, User
from lhdesk.demo.apiserver.resources import (
    ResourceType,
    api_versions_doc,
    group_doc,
    group_list_doc,
    resource_list_doc,
)
from lhdesk.demo.apiserver.selectors import parse_field_selector, parse_label_selector
from lhdesk.demo.apiserver.store import Event, Watcher, encode
from lhdesk.demo.lifecycle import Service
from lhdesk.demo.pki import CertificateAuthority

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

ADMIN_USER = "demo-admin"
READONLY_USER = "demo-readonly"
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-lhdesk.demo",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "python",
    "compiler": "cpython",
    "platform": "linux/amd64",
}
DEFAULT_WATCH_TIMEOUT = 1800.0


class _Negotiated:
    def __init__(self, kind: str = "json", table_version: str = "", partial: str = "") -> None:
        self.kind = kind  # json / yaml
        self.table_version = table_version  # "" or v1 / v1beta1
        self.partial = partial  # "" / PartialObjectMetadata / PartialObjectMetadataList


def _negotiate(accept: str) -> _Negotiated:
    if not accept:
        return _Negotiated()
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io":
            continue
        if media in ("application/json", "application/yaml", "*/*", "application/*"):
            kind = "yaml" if media == "application/yaml" else "json"
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
                if params.get("v") in ("v1", "v1beta1"):
                    return _Negotiated(kind, table_version=params["v"])
                continue
            if (
                params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList")
                and params.get("g") == "meta.k8s.io"
            ):
                return _Negotiated(kind, partial=params["as"])
            if "as" in params:
                continue
            return _Negotiated(kind)
    raise errors.not_acceptable(
        ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    )


def _flag(q: dict[str, list[str]], name: str) -> bool:
    v = (q.get(name) or [""])[-1].lower()
    return v in ("true", "1")


def _one(q: dict[str, list[str]], name: str) -> str:
    return (q.get(name) or [""])[-1]


class _Route:
    """A parsed resource request (kube's RequestInfo)."""

    def __init__(self) -> None:
        self.group = ""
        self.version = ""
        self.namespace = ""
        self.resource = ""
        self.name = ""
        self.subresource = ""
        self.verb = ""
        self.watch_path = False


class ApiServer(Service):
    """A Kubernetes API server over HTTPS on loopback, in this process.

    ``start()`` returns once it listens; ``stop()`` closes the listener, ends open watches and joins
    every thread. Tokens and the CA are new on every start.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        watch_history: int = 5000,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._watch_history = watch_history
        self.bookmark_interval = bookmark_interval
        self.admin_token = ""
        self.readonly_token = ""
        self.ca_pem = b""
        self.faults = Faults(self._drop_watches)
        self.cluster: Cluster | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._openapi_cache: dict[str, tuple[bytes, str]] = {}
        self._openapi_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ApiServer:
        if self._httpd is not None:
            raise RuntimeError("the API server is already running")
        self._stopping.clear()
        ca = CertificateAuthority.generate("lhdesk-demo-apiserver-ca")
        leaf = ca.issue_server_cert([self.host, "localhost"] if self.host != "localhost" else ["localhost"])
        self.ca_pem = ca.cert_pem
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        leaf.load_into(context)
        context.set_alpn_protocols(["http/1.1"])
        self.admin_token = secrets.token_urlsafe(32)
        self.readonly_token = secrets.token_urlsafe(32)
        self.cluster = Cluster(
            history=self._watch_history,
            readonly_user=READONLY_USER,
            server_version=SERVER_VERSION["gitVersion"],
        )
        self.cluster.on_types_changed.append(self._invalidate_openapi)
        self._openapi_cache.clear()
        httpd = _Server((self.host, self._requested_port), _Handler, self, context)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="lhdesk-apiserver", daemon=True
        )
        self._thread.start()
        logger.info("demo API server listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self.cluster is not None:
            self.cluster.store.close_watchers()
        httpd.close_connections()
        httpd.join_threads(timeout=10.0)
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._httpd = None
        self._thread = None
        logger.info("demo API server stopped")

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the API server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path, namespace: str = "longhorn-system") -> Path:
        """Write a kubeconfig with contexts ``demo-admin`` (current) and ``demo-readonly`` (mode 0600)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        ca = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "demo", "cluster": {"server": self.url, "certificate-authority-data": ca}}],
            "users": [
                {"name": ADMIN_USER, "user": {"token": self.admin_token}},
                {"name": READONLY_USER, "user": {"token": self.readonly_token}},
            ],
            "contexts": [
                {
                    "name": ADMIN_USER,
                    "context": {"cluster": "demo", "user": ADMIN_USER, "namespace": namespace},
                },
                {
                    "name": READONLY_USER,
                    "context": {"cluster": "demo", "user": READONLY_USER, "namespace": namespace},
                },
            ],
            "current-context": ADMIN_USER,
            "preferences": {},
        }
        text = yaml.safe_dump(config, sort_keys=False)
        fd = target.open("w", encoding="utf-8")
        with fd:
            target.chmod(0o600)
            fd.write(text)
        return target

    # ------------------------------------------------------------------ internals used by the handler

    def user_for(self, token: str) -> User | None:
        if token and secrets.compare_digest(token, self.admin_token):
            return User(ADMIN_USER, (MASTERS, AUTHENTICATED), uid="demo-admin-uid")
        if token and secrets.compare_digest(token, self.readonly_token):
            return User(READONLY_USER, (AUTHENTICATED,), uid="demo-readonly-uid")
        return None

    def _drop_watches(self) -> int:
        if self.cluster is None:
            return 0
        return self.cluster.store.close_watchers(drop=True)

    def _invalidate_openapi(self) -> None:
        with self._openapi_lock:
            self._openapi_cache.clear()

    def openapi_v3(self, gv_path: str) -> tuple[bytes, str]:
        """(document bytes, hash) for ``api/v1`` or ``apis/<group>/<version>``."""
        assert self.cluster is not None
        with self._openapi_lock:
            cached = self._openapi_cache.get(gv_path)
            if cached is not None:
                return cached
        parts = gv_path.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise errors.no_such_path()
        if not self.cluster.registry.in_group_version(group, version):
            raise errors.no_such_path()
        doc = openapi.group_version_document(
            self.cluster.registry, group, version, SERVER_VERSION["gitVersion"]
        )
        raw = json.dumps(doc, separators=(",", ":")).encode()
        digest = openapi.document_hash(doc)
        with self._openapi_lock:
            self._openapi_cache[gv_path] = (raw, digest)
        return raw, digest

    def gv_paths(self) -> list[str]:
        assert self.cluster is not None
        out = []
        for group, versions in self.cluster.registry.groups():
            for v in versions:
                out.append(f"apis/{group}/{v}" if group else f"api/{v}")
        return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        api: ApiServer,
        context: ssl.SSLContext,
    ) -> None:
        self.api = api
        self._context = context
        self._conn_threads: set[threading.Thread] = set()
        self._conns: set[socket.socket] = set()
        self._track = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # Headers and body leave in separate writes; without this, Nagle + delayed ACK add 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._track:
            self._conns.add(tls)
        return tls, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._run, args=(request, client_address), daemon=True, name="lhdesk-apiserver-conn"
        )
        with self._track:
            self._conn_threads.add(t)
        t.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._track:
                self._conn_threads.discard(threading.current_thread())
                self._conns.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._track:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def join_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._track:
                threads = list(self._conn_threads)
            if not threads:
                return
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                logger.warning("%d API server connection threads did not stop", len(threads))
                return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 300
    wbufsize = 64 * 1024  # buffered: one TLS record per response (flushed per request and per watch event)
    server_version = "lhdesk-demo-apiserver"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.settimeout(15)
            self.connection.do_handshake()
            self.connection.settimeout(self.timeout)
        except (OSError, ssl.SSLError):
            self.close_connection = True
            raise

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ plumbing

    @property
    def api(self) -> ApiServer:
        return self.server.api

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in warnings or []:
            self.send_header("Warning", "299 - " + json.dumps(w))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_obj(
        self,
        code: int,
        obj: Any,
        neg: _Negotiated | None = None,
        warnings: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if neg is not None and neg.kind == "yaml":
            self._send(
                code, yaml.safe_dump(obj, sort_keys=True).encode(), "application/yaml", headers, warnings
            )
        else:
            self._send(code, encode(obj), "application/json", headers, warnings)

    def _send_error(self, err: ApiError) -> None:
        self._send(err.code, encode(err.status()), "application/json", err.headers)

    def _dispatch(self) -> None:
        try:
            parsed = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(parsed.path)
            query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            body = self._read_body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
        except (ValueError, OSError):
            self.close_connection = True
            return
        try:
            delay = self.api.faults.delay_for(path)
            if delay > 0 and self.api._stopping.wait(delay):
                raise errors.for_code(503, "the server is shutting down")
            rule = self.api.faults.error_for(self.command, path)
            if rule is not None:
                raise errors.for_code(rule.status, rule.message)
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            user = self.api.user_for(token)
            if user is None:
                raise errors.unauthorized()
            self._route(path, query, body, user)
        except ApiError as err:
            self._send_error(err)
        except errors.PageNotFound:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a bug here must not kill the connection thread silently
            logger.exception("internal error serving %s %s", self.command, path)
            self._send_error(errors.internal(f"{type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ routing

    def _authorize(self, attrs: Attributes) -> None:
        assert self.api.cluster is not None
        decision = self.api.cluster.authorizer.authorize(attrs)
        if decision.allowed:
            return
        msg = attrs.forbidden_message()
        if not attrs.resource_request:
            raise errors.ApiError(403, "Forbidden", f"forbidden: {msg}", {})
        raise errors.forbidden_error(errors.Qualified(attrs.resource, attrs.api_group), attrs.name, msg)

    def _route(self, path: str, query: dict[str, list[str]], body: bytes, user: User) -> None:
        parts = [p for p in path.split("/") if p]
        method = self.command
        if parts[:1] in (["api"], ["apis"]) and self._is_resource_path(parts):
            self._resource(parts, query, body, user)
            return
        verb = {
            "GET": "get",
            "HEAD": "head",
            "POST": "post",
            "PUT": "put",
            "PATCH": "patch",
            "DELETE": "delete",
        }[method]
        self._authorize(Attributes(user, verb, False, path=path if path else "/"))
        if method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        self._nonresource(parts, path, query)

    @staticmethod
    def _is_resource_path(parts: list[str]) -> bool:
        if parts[0] == "api":
            return len(parts) >= 3
        return len(parts) >= 4

    def _nonresource(self, parts: list[str], path: str, query: dict[str, list[str]]) -> None:
        assert self.api.cluster is not None
        cluster = self.api.cluster
        neg = _negotiate(self.headers.get("Accept", ""))
        if not parts:
            paths = (
                [
                    "/api",
                    "/api/v1",
                    "/apis",
                    "/healthz",
                    "/livez",
                    "/openapi/v2",
                    "/openapi/v3",
                    "/readyz",
                    "/version",
                ]
                + [f"/apis/{g}" for g, _ in cluster.registry.groups() if g]
                + [f"/{p}" for p in self.api.gv_paths() if p.startswith("apis/")]
            )
            self._send_obj(200, {"paths": sorted(paths)}, neg)
            return
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            if len(parts) > 1 and parts[1] not in ("ping", "log", "etcd", "poststarthook"):
                raise errors.no_such_path()
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if head == "version" and len(parts) == 1:
            self._send_obj(200, SERVER_VERSION, neg)
            return
        if head == "api" and len(parts) == 1:
            self._send_obj(200, api_versions_doc(f"{self.api.host}:{self.api.port}"), neg)
            return
        if head == "api" and len(parts) == 2:
            if parts[1] != "v1":
                raise errors.no_such_path()
            self._send_obj(200, resource_list_doc(cluster.registry, "", "v1"), neg)
            return
        if head == "apis" and len(parts) == 1:
            self._send_obj(200, group_list_doc(cluster.registry), neg)
            return
        if head == "apis" and len(parts) == 2:
            versions = cluster.registry.versions(parts[1])
            if not versions or not parts[1]:
                raise errors.PageNotFound()
            doc = group_doc(parts[1], versions)
            doc = {"kind": "APIGroup", "apiVersion": "v1", **doc}
            self._send_obj(200, doc, neg)
            return
        if head == "apis" and len(parts) == 3:
            if not cluster.registry.in_group_version(parts[1], parts[2]):
                raise errors.PageNotFound()
            self._send_obj(200, resource_list_doc(cluster.registry, parts[1], parts[2]), neg)
            return
        if head == "openapi":
            self._openapi(parts[1:], query)
            return
        raise errors.no_such_path()

    def _openapi(self, rest: list[str], query: dict[str, list[str]]) -> None:
        accept = self.headers.get("Accept", "")
        if rest == ["v2"]:
            if accept and "json" not in accept and "*/*" not in accept:
                raise errors.not_acceptable(["application/json"])
            assert self.api.cluster is not None
            doc = openapi.v2_document(self.api.cluster.registry, SERVER_VERSION["gitVersion"])
            self._send(200, encode(doc), "application/json")
            return
        if rest == ["v3"]:
            index: Obj = {"paths": {}}
            for p in self.api.gv_paths():
                _raw, digest = self.api.openapi_v3(p)
                index["paths"][p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={digest}"}
            self._send(200, encode(index), "application/json")
            return
        if len(rest) >= 2 and rest[0] == "v3":
            if accept and "json" not in accept and "*/*" not in accept:
                raise errors.not_acceptable(["application/json"])
            raw, digest = self.api.openapi_v3("/".join(rest[1:]))
            headers = {"Etag": f'"{digest}"'}
            if _one(query, "hash"):
                if _one(query, "hash") != digest:
                    self._send(
                        301,
                        b"",
                        "text/plain",
                        {"Location": f"/openapi/v3/{'/'.join(rest[1:])}?hash={digest}"},
                    )
                    return
                headers["Cache-Control"] = "public, immutable"
            self._send(200, raw, "application/json", headers)
            return
        raise errors.no_such_path()

    def _parse_resource(self, parts: list[str]) -> _Route:
        r = _Route()
        if parts[0] == "api":
            r.group, r.version, rest = "", parts[1], parts[2:]
        else:
            r.group, r.version, rest = parts[1], parts[2], parts[3:]
        if rest and rest[0] == "watch":
            r.watch_path = True
            rest = rest[1:]
        if len(rest) > 1 and rest[0] == "namespaces":
            r.namespace = rest[1]
            if len(rest) > 2 and rest[2] not in ("status", "finalize"):
                rest = rest[2:]
        if not rest or len(rest) > 3:
            raise errors.no_such_path()
        r.resource = rest[0]
        r.name = rest[1] if len(rest) > 1 else ""
        r.subresource = rest[2] if len(rest) > 2 else ""
        if r.resource == "namespaces" and r.name:
            r.namespace = r.name
        return r

    def _resource(self, parts: list[str], query: dict[str, list[str]], body: bytes, user: User) -> None:
        assert self.api.cluster is not None
        cluster = self.api.cluster
        r = self._parse_resource(parts)
        method = self.command
        watch = r.watch_path or _flag(query, "watch")
        if method in ("GET", "HEAD"):
            verb = "get" if r.name and not watch else ("watch" if watch else "list")
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        else:
            verb = "delete" if r.name else "deletecollection"
        self._authorize(
            Attributes(user, verb, True, r.group, r.version, r.resource, r.subresource, r.name, r.namespace)
        )
        rt = cluster.type_for(r.group, r.version, r.resource)
        if rt is None:
            served = cluster.registry.in_group_version(r.group, r.version)
            if r.group and (not served or all(t.custom for t in served)):
                raise errors.PageNotFound()
            raise errors.no_such_path()
        if r.subresource and not (
            (r.subresource == "status" and rt.status) or r.subresource in rt.extra_subresources
        ):
            if rt.custom:
                # The CR handler ignores what it does not serve and reports the object as missing.
                raise errors.not_found(rt.qualified_resource, r.name)
            raise errors.no_such_path()
        if (rt.namespaced and not r.namespace and (r.name or method != "GET")) or (
            not rt.namespaced and r.namespace and rt.key != ("", "namespaces")
        ):
            if rt.custom:
                raise errors.PageNotFound()
            raise errors.no_such_path()
        neg = _negotiate(self.headers.get("Accept", ""))
        if rt.virtual:
            if method != "POST" or r.name:
                raise errors.method_not_allowed()
            self._review(rt, body, user, neg)
            return
        if r.subresource == "finalize" and method != "PUT":
            raise errors.method_not_allowed()
        opts = self._write_options(query, method)
        ns = r.namespace if rt.namespaced else ""
        if method in ("GET", "HEAD"):
            if watch:
                self._watch(rt, ns, query, neg)
            elif r.name:
                self._send_one(200, cluster.get(rt, ns, r.name), rt, neg, query)
            else:
                self._list(rt, ns if r.namespace else None, query, neg)
            return
        if method == "POST":
            if r.name:
                raise errors.method_not_allowed()
            res = cluster.create(rt, ns, self._decode_object(body, rt), user, opts)
            self._send_one(res.code, res.obj, rt, neg, query, res.warnings)
            return
        if method == "PUT":
            if not r.name:
                raise errors.method_not_allowed()
            res = cluster.update(rt, ns, r.name, self._decode_object(body, rt), user, opts, r.subresource)
            self._send_one(res.code, res.obj, rt, neg, query, res.warnings)
            return
        if method == "PATCH":
            if not r.name:
                raise errors.method_not_allowed()
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + (
                [STRATEGIC_PATCH] if rt.strategic_merge else []
            )
            if ctype not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH) or (
                ctype == STRATEGIC_PATCH and not rt.strategic_merge
            ):
                raise errors.unsupported_media_type(ctype, accepted)
            if ctype == APPLY_PATCH:
                try:
                    patch_body = yaml.safe_load(body.decode("utf-8") or "{}")
                except (yaml.YAMLError, UnicodeDecodeError) as exc:
                    raise errors.bad_request(f"error decoding YAML: {exc}") from None
            else:
                try:
                    patch_body = self._decode(body, what="patch")
                except ApiError:
                    if ctype == JSON_PATCH:
                        raise
                    # What kube-apiserver answers for a merge patch that is not JSON.
                    raise ApiError(500, "", "Invalid JSON Patch") from None
            res = cluster.patch(rt, ns, r.name, ctype, patch_body, user, opts, r.subresource)
            self._send_one(res.code, res.obj, rt, neg, query, res.warnings)
            return
        # DELETE
        options = self._decode(body, what="delete options") if body.strip() else {}
        if not isinstance(options, dict):
            raise errors.bad_request("delete options must be an object")
        if "All" in (options.get("dryRun") or []):
            opts.dry_run = True
        if options.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
            raise errors.bad_request(
                f'propagationPolicy: Unsupported value: "{options["propagationPolicy"]}": '
                'supported values: "Foreground", "Background", "Orphan"'
            )
        if r.name:
            res = cluster.delete(rt, ns, r.name, options, user, opts)
            self._send_obj(res.code, res.obj, neg, res.warnings)
            return
        self._delete_collection(rt, ns if r.namespace else None, query, options, user, opts, neg)

    def _write_options(self, query: dict[str, list[str]], method: str) -> WriteOptions:
        opts = WriteOptions()
        dry = query.get("dryRun") or []
        if any(d != "All" for d in dry):
            options_kind = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(
                method, "DeleteOptions"
            )
            shown = "[]string{" + ", ".join(json.dumps(d) for d in dry) + "}"
            raise errors.invalid_object(
                errors.Qualified(options_kind, "meta.k8s.io"),
                "",
                [
                    errors.FieldError(
                        "FieldValueNotSupported", "dryRun", errors.Raw(shown), 'supported values: "All"'
                    )
                ],
            )
        opts.dry_run = bool(dry)
        fv = _one(query, "fieldValidation")
        if fv:
            if fv not in ("Strict", "Warn", "Ignore"):
                raise errors.bad_request(
                    f'fieldValidation: Invalid value: "{fv}": fieldValidation must be one of '
                    '"Ignore", "Warn", or "Strict"'
                )
            opts.field_validation = fv
        opts.field_manager = _one(query, "fieldManager")
        opts.force = _flag(query, "force")
        return opts

    def _decode(self, body: bytes, what: str = "body") -> Any:
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if ctype == protobuf.CONTENT_TYPE:
            return protobuf.decode(body)
        text = body.decode("utf-8", errors="replace")
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"error decoding YAML: {exc}") from None
        if ctype not in ("application/json", "", "*/*") and not ctype.endswith("+json"):
            raise errors.unsupported_media_type(ctype, ["application/json", "application/yaml"])
        try:
            return json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise errors.bad_request(f"error decoding {what}: {exc}") from None

    def _decode_object(self, body: bytes, rt: ResourceType) -> Any:
        """An object body; decoding failures worded as kube's decoder words them."""
        prefix = (
            f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get version/kind; "
        )
        summary = errors.summarize(body)
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if not body.strip():
            raise errors.bad_request(f"{prefix}json parse error: unexpected end of JSON input ({summary})")
        try:
            parsed = self._decode(body)
        except ApiError as err:
            if err.code != 400 or ctype == protobuf.CONTENT_TYPE:
                raise
            detail = err.message.split(": ", 1)[-1]
            raise errors.bad_request(f"{prefix}json parse error: {detail} ({summary})") from None
        if not isinstance(parsed, dict):
            raise errors.bad_request(
                f"{prefix}json parse error: json: cannot unmarshal {_json_kind(parsed)} into Go value of "
                f'type struct {{ APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
                f'"json:\\"kind,omitempty\\"" }} ({summary})'
            )
        return parsed

    # ------------------------------------------------------------------ output shaping

    def _send_one(
        self,
        code: int,
        obj: Obj,
        rt: ResourceType,
        neg: _Negotiated,
        query: dict[str, list[str]],
        warnings: list[str] | None = None,
    ) -> None:
        if neg.table_version:
            self._send_obj(code, self._table(rt, [obj], neg.table_version, query, None), neg, warnings)
            return
        if neg.partial == "PartialObjectMetadata":
            self._send_obj(code, _partial(obj), neg, warnings)
            return
        if neg.partial:
            raise errors.not_acceptable(["application/json"])
        self._send_obj(code, obj, neg, warnings)

    def _table(
        self,
        rt: ResourceType,
        objs: list[Obj],
        version: str,
        query: dict[str, list[str]],
        list_meta: Obj | None,
        no_headers: bool = False,
    ) -> Obj:
        include = _one(query, "includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise errors.bad_request(f'unrecognized includeObject value: "{include}"')
        cells: tables.Printer
        if rt.custom:
            columns = tables.crd_columns(rt.printer_columns)
            printer_columns = rt.printer_columns

            def crd_cells(o: Obj) -> list[Any]:
                return [o["metadata"].get("name", "")] + [tables.crd_cell(c, o) for c in printer_columns]

            cells = crd_cells
        else:
            columns, cells = tables.BUILTIN_TABLES.get(rt.plural, tables.DEFAULT_TABLE)
        rows = []
        for o in objs:
            row: Obj = {"cells": cells(o)}
            if include == "Object":
                row["object"] = o
            elif include == "Metadata":
                row["object"] = _partial(o, f"meta.k8s.io/{version}")
            rows.append(row)
        table: Obj = {
            "kind": "Table",
            "apiVersion": f"meta.k8s.io/{version}",
            "metadata": list_meta or {"resourceVersion": ""},
            "columnDefinitions": [] if no_headers else columns,
            "rows": rows,
        }
        return table

    def _list(
        self, rt: ResourceType, namespace: str | None, query: dict[str, list[str]], neg: _Negotiated
    ) -> None:
        assert self.api.cluster is not None
        labels = parse_label_selector(_one(query, "labelSelector"))
        fields = parse_field_selector(_one(query, "fieldSelector"), rt.field_getters)
        try:
            limit = int(_one(query, "limit") or 0)
        except ValueError:
            raise errors.bad_request(
                f'strconv.ParseInt: parsing "{_one(query, "limit")}": invalid syntax'
            ) from None
        rv_text = _one(query, "resourceVersion")
        if rv_text and not rv_text.isdigit():
            raise _bad_resource_version(rv_text)
        if rv_text == "0":
            limit = 0
        items, rv, cont, remaining = self.api.cluster.list_objects(
            rt, namespace, labels, fields, limit, _one(query, "continue")
        )
        base: Obj = {"continue": cont} if cont else {}
        base["resourceVersion"] = str(rv)
        if remaining is not None:
            base["remainingItemCount"] = remaining
        # A CR list (unstructured) always carries "continue", even when empty.
        meta: Obj = {"continue": cont, **base} if rt.custom else base
        if neg.table_version:
            self._send_obj(200, self._table(rt, items, neg.table_version, query, base), neg)
            return
        if neg.partial:
            doc = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": base,
                "items": [_partial(o) for o in items],
            }
            self._send_obj(200, doc, neg)
            return
        if neg.kind == "yaml":
            self._send_obj(
                200,
                {"apiVersion": rt.api_version, "items": items, "kind": rt.list_kind, "metadata": meta},
                neg,
            )
            return
        # Fast path: splice the cached JSON of each object.
        raw_items = []
        strip = not rt.custom
        store = self.api.cluster.store
        for o in items:
            if strip:
                raw_items.append(encode({k: v for k, v in o.items() if k not in ("apiVersion", "kind")}))
            else:
                raw_items.append(store.encoded(rt.key, o))
        head = encode({"apiVersion": rt.api_version, "kind": rt.list_kind, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(raw_items) + b"]}"
        self._send(200, body, "application/json")

    def _delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        query: dict[str, list[str]],
        options: Obj,
        user: User,
        opts: WriteOptions,
        neg: _Negotiated,
    ) -> None:
        assert self.api.cluster is not None
        labels = parse_label_selector(_one(query, "labelSelector"))
        fields = parse_field_selector(_one(query, "fieldSelector"), rt.field_getters)
        items, _rv, _c, _r = self.api.cluster.list_objects(rt, namespace, labels, fields)
        out = []
        for o in items:
            m = o["metadata"]
            try:
                res = self.api.cluster.delete(rt, m.get("namespace", ""), m["name"], options, user, opts)
            except ApiError as err:
                if err.code == 404:
                    continue
                raise
            out.append(res.obj if res.obj.get("kind") != "Status" else o)
        self._send_obj(
            200,
            {
                "apiVersion": rt.api_version,
                "kind": rt.list_kind,
                "metadata": ({"continue": ""} if rt.custom else {})
                | {"resourceVersion": str(self.api.cluster.store.resource_version)},
                "items": out,
            },
            neg,
        )

    # ------------------------------------------------------------------ reviews

    def _review(self, rt: ResourceType, body: bytes, user: User, neg: _Negotiated) -> None:
        assert self.api.cluster is not None
        cluster = self.api.cluster
        review = self._decode(body)
        if not isinstance(review, dict):
            raise errors.bad_request("the review must be an object")
        spec = review.get("spec") or {}
        out: Obj = {
            "kind": rt.kind,
            "apiVersion": rt.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
        }
        if rt.plural == "selfsubjectreviews":
            out.pop("spec")
            out["status"] = {"userInfo": user.info()}
        elif rt.plural == "selfsubjectrulesreviews":
            ns = str(spec.get("namespace") or "")
            out["spec"] = {}  # kube answers with an empty spec
            res_rules, nonres_rules = cluster.authorizer.rules_for(user, ns)
            out["status"] = {
                "resourceRules": res_rules,
                "nonResourceRules": nonres_rules,
                "incomplete": False,
            }
        else:
            subject = user
            if rt.plural == "subjectaccessreviews":
                subject = User(
                    str(spec.get("user") or ""), tuple(spec.get("groups") or ()), str(spec.get("uid") or "")
                )
            ra = spec.get("resourceAttributes")
            na = spec.get("nonResourceAttributes")
            if isinstance(ra, dict):
                attrs = Attributes(
                    subject,
                    str(ra.get("verb") or ""),
                    True,
                    str(ra.get("group") or ""),
                    str(ra.get("version") or ""),
                    str(ra.get("resource") or ""),
                    str(ra.get("subresource") or ""),
                    str(ra.get("name") or ""),
                    str(ra.get("namespace") or ""),
                )
            elif isinstance(na, dict):
                attrs = Attributes(subject, str(na.get("verb") or ""), False, path=str(na.get("path") or ""))
            else:
                raise errors.invalid_object(
                    errors.Qualified("", rt.group),
                    "",
                    [
                        errors.invalid(
                            "spec.resourceAttributes",
                            "null",
                            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                        )
                    ],
                )
            decision = cluster.authorizer.authorize(attrs)
            status: Obj = {"allowed": decision.allowed}
            if decision.reason:
                status["reason"] = decision.reason
            out["status"] = status
        self._send_obj(201, out, neg)

    # ------------------------------------------------------------------ watch

    def _watch(self, rt: ResourceType, namespace: str, query: dict[str, list[str]], neg: _Negotiated) -> None:
        assert self.api.cluster is not None
        store = self.api.cluster.store
        labels = parse_label_selector(_one(query, "labelSelector"))
        fields = parse_field_selector(_one(query, "fieldSelector"), rt.field_getters)
        rv_text = _one(query, "resourceVersion")
        bookmarks = _flag(query, "allowWatchBookmarks")
        initial_events = _flag(query, "sendInitialEvents")
        try:
            timeout = float(_one(query, "timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise errors.bad_request("timeoutSeconds must be an integer") from None
        since: int | None = None
        if rv_text not in ("", "0"):
            try:
                since = int(rv_text)
            except ValueError:
                raise _bad_resource_version(rv_text) from None
        ns_filter = namespace or None
        gone: ApiError | None = None
        watcher: Watcher | None = None
        backlog: list[Event] = []
        try:
            if initial_events:
                watcher, backlog = store.watch(rt.key, None, True, ns_filter)
            else:
                watcher, backlog = store.watch(rt.key, since, since is None, ns_filter)
        except ApiError as err:
            if err.code != 410:
                raise
            gone = err
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        # Send the headers now, as kube-apiserver does: a client knows at once that its watch
        # is open, and can close a quiet one without waiting for its first event.
        self.wfile.flush()
        self.close_connection = False
        state = {"headers_sent": False}
        try:
            if gone is not None:
                self._chunk(encode({"type": "ERROR", "object": gone.status()}) + b"\n")
                self._end_chunks()
                return
            assert watcher is not None
            self._stream(
                rt,
                watcher,
                backlog,
                labels,
                fields,
                ns_filter,
                neg,
                query,
                bookmarks,
                initial_events,
                timeout,
                state,
            )
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            if watcher is not None:
                store.unwatch(watcher)

    def _stream(
        self,
        rt: ResourceType,
        watcher: Watcher,
        backlog: list[Event],
        labels: Any,
        fields: Any,
        namespace: str | None,
        neg: _Negotiated,
        query: dict[str, list[str]],
        bookmarks: bool,
        initial_events: bool,
        timeout: float,
        state: dict[str, bool],
    ) -> None:
        assert self.api.cluster is not None
        store = self.api.cluster.store
        deadline = time.monotonic() + timeout
        last_rv = store.resource_version

        def visible(o: Obj | None) -> bool:
            if o is None:
                return False
            m = o.get("metadata") or {}
            if namespace is not None and m.get("namespace", "") != namespace:
                return False
            return bool(labels.matches(m.get("labels")) and fields.matches(o))

        def send(ev_type: str, o: Obj) -> None:
            o = self._as_version(rt, o)
            if neg.table_version:
                payload = self._table(
                    rt,
                    [o],
                    neg.table_version,
                    query,
                    {"resourceVersion": o["metadata"].get("resourceVersion", "")},
                    no_headers=state["headers_sent"],
                )
                state["headers_sent"] = True
            else:
                payload = o
            self._chunk(encode({"type": ev_type, "object": payload}) + b"\n")

        def deliver(item: Event) -> None:
            """Send one change as this watcher sees it through its selectors."""
            new_vis, old_vis = visible(item.obj), visible(item.old)
            if item.type == "DELETED":
                if old_vis or new_vis:
                    send("DELETED", item.obj)
            elif new_vis and old_vis:
                send(item.type, item.obj)
            elif new_vis:
                send("ADDED", item.obj)
            elif old_vis and item.old is not None:
                # Leaving the selection reads as a deletion of the object as it was last seen.
                gone = dict(item.old)
                gone["metadata"] = dict(item.old.get("metadata") or {}, resourceVersion=str(item.rv))
                send("DELETED", gone)

        for ev in backlog:
            deliver(ev)
            last_rv = max(last_rv, ev.rv) if not initial_events else last_rv
        if initial_events and bookmarks:
            self._chunk(
                encode(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {
                                "resourceVersion": str(last_rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
                + b"\n"
            )
        seen_rv = max((e.rv for e in backlog), default=0)
        last_bookmark = time.monotonic()
        while True:
            now_m = time.monotonic()
            if now_m >= deadline:
                if bookmarks:
                    # kube-apiserver sends a last bookmark when a watch times out.
                    self._bookmark(rt, max(last_rv, seen_rv))
                self._end_chunks()
                return
            wait = min(deadline - now_m, 1.0)
            try:
                item = watcher.queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is Watcher.CLOSED:
                if watcher.dropped.is_set():
                    self._drop_connection()
                    return
                self._end_chunks()
                return
            if isinstance(item, Event):
                if item.rv <= seen_rv:
                    continue
                seen_rv = item.rv
                last_rv = item.rv
                deliver(item)
            if bookmarks and time.monotonic() - last_bookmark >= self.api.bookmark_interval:
                last_bookmark = time.monotonic()
                self._bookmark(rt, max(last_rv, seen_rv))

    def _bookmark(self, rt: ResourceType, rv: int) -> None:
        event = {
            "type": "BOOKMARK",
            "object": {
                "kind": rt.kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(rv)},
            },
        }
        self._chunk(encode(event) + b"\n")

    def _as_version(self, rt: ResourceType, o: Obj) -> Obj:
        if o.get("apiVersion") == rt.api_version:
            return o
        return dict(o, apiVersion=rt.api_version)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _partial(o: Obj, api_version: str = "meta.k8s.io/v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": o.get("metadata") or {}}


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def _bad_resource_version(text: str) -> ApiError:
    # kube-apiserver answers an unparsable resourceVersion with a bare 500.
    return ApiError(
        500,
        "",
        f'resourceVersion: Invalid value: "{text}": strconv.ParseUint: parsing "{text}": invalid syntax',
    )
