"""Every failure of a cluster call, as one exception hierarchy with messages a person can act on.

The kubernetes client, urllib3, ssl, and exec login plugins each fail in their own way.
``translate`` turns any of those into a ``GatewayError`` subclass whose ``str()`` says what
happened and what to do next. ``status`` (HTTP code or None), ``reason`` (the API server's
Status reason, or a short cause such as "connection refused") and ``server_message`` (what the
server said) are kept for details views. No message ever holds a token or key: every text goes
through ``redact`` first.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, TypedDict

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

# --- redaction ---------------------------------------------------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LEN = 8
_REDACTED = "<redacted>"
_PATTERNS = (
    # PEM blocks: keys, certificates.
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S), "<redacted PEM>"),
    # Authorization headers and the like.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + _REDACTED),
    # JSON web tokens (service-account and OIDC tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), _REDACTED),
    # key: value / key=value for names that hold secrets.
    (
        re.compile(
            r"(?i)\b((?:access[_-]?)?token|id-token|refresh-token|password|passwd|secret|client-key-data"
            r"|clientKeyData|secret[_-]?access[_-]?key|api[_-]?key)(\"?\s*[:=]\s*\"?)[^\s\",}]+"
        ),
        r"\1\2" + _REDACTED,
    ),
)


def register_secret(value: str | None) -> None:
    """Remember a credential so that ``redact`` removes it wherever it turns up."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` without registered secrets, bearer tokens, JWTs, PEM blocks or key=value secrets."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- the hierarchy -----------------------------------------------------------------------------


class GatewayError(Exception):
    """A cluster call failed. ``str(err)`` is the user-facing message."""

    def __init__(
        self, message: str, *, status: int | None = None, reason: str = "", server_message: str = ""
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.reason = redact(reason)
        self.server_message = redact(server_message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, reason={self.reason!r}, message={self.message!r})"
        )


class KubeconfigError(GatewayError):
    """The kubeconfig entry cannot be used (missing file, cluster, user, bad data)."""


class AuthPluginError(GatewayError):
    """An exec login plugin is missing, failed, timed out or answered nonsense."""

    def __init__(self, message: str, *, command: str = "", reason: str = "") -> None:
        super().__init__(message, reason=reason)
        self.command = command


class Unauthorized(GatewayError):
    """401: the server does not accept the credentials."""


class Forbidden(GatewayError):
    """403: authenticated, but not allowed. ``verb``/``resource``/``group`` when the server said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 403,
        reason: str = "Forbidden",
        server_message: str = "",
        verb: str = "",
        resource: str = "",
        group: str = "",
        user: str = "",
    ) -> None:
        super().__init__(message, status=status, reason=reason, server_message=server_message)
        self.verb = verb
        self.resource = resource
        self.group = group
        self.user = user


class NotFound(GatewayError):
    """404: the object, or the resource type itself (``resource_missing``), does not exist."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 404,
        reason: str = "NotFound",
        server_message: str = "",
        kind: str = "",
        name: str = "",
        resource_missing: bool = False,
    ) -> None:
        super().__init__(message, status=status, reason=reason, server_message=server_message)
        self.kind = kind
        self.name = name
        self.resource_missing = resource_missing


class Conflict(GatewayError):
    """409: the object changed since it was read (stale resourceVersion). Reload, never overwrite."""


class AlreadyExists(GatewayError):
    """409 AlreadyExists: an object with that name is already there."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 409,
        reason: str = "AlreadyExists",
        server_message: str = "",
        kind: str = "",
        name: str = "",
    ) -> None:
        super().__init__(message, status=status, reason=reason, server_message=server_message)
        self.kind = kind
        self.name = name


class Invalid(GatewayError):
    """422: the server (or an admission webhook) rejected fields; ``causes`` are (field, message)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 422,
        reason: str = "Invalid",
        server_message: str = "",
        causes: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message, status=status, reason=reason, server_message=server_message)
        self.causes = tuple((field, redact(text)) for field, text in causes)


class BadRequest(GatewayError):
    """400: the request itself was malformed."""


class Expired(GatewayError):
    """410: a watch (or continue token) is too old. List again and watch from the new version."""


class ServerError(GatewayError):
    """5xx (or 429): the API server or something behind it failed."""


class Unreachable(GatewayError):
    """No HTTP answer: connection refused, name not resolved, timed out, reset. ``reason`` says which."""


class TlsError(GatewayError):
    """The TLS handshake failed. ``problem`` is one of: unknown-ca, hostname-mismatch, expired,
    not-yet-valid, client-certificate, not-tls, handshake."""

    def __init__(self, message: str, *, problem: str, reason: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status, reason=reason or problem)
        self.problem = problem


# --- translation -------------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes/contexts, and urllib3's wrapped ``reason``s, without loops."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = current.__dict__.get("reason") if hasattr(current, "__dict__") else None
        if isinstance(wrapped, BaseException):
            todo.append(wrapped)
        if isinstance(current, urllib3.exceptions.ProxyError) and isinstance(
            current.original_error, BaseException
        ):
            todo.append(current.original_error)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def _where(exc: BaseException, server: str | None) -> str:
    if server:
        return server
    for item in _chain(exc):
        conn = item.__dict__.get("conn") or item.__dict__.get("pool")
        host = getattr(conn, "host", None)
        if host:
            port = getattr(conn, "port", None)
            return f"{host}:{port}" if port else str(host)
    return "the API server"


def _status_body(exc: ApiException) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return {"message": str(body)[:500]}
    return data if isinstance(data, dict) else {}


_FORBIDDEN_RE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<ns>[^"]*)")?'
)


def _object_ref(details: dict[str, Any]) -> str:
    kind = str(details.get("kind") or "object")
    name = details.get("name")
    return f"{kind} '{name}'" if name else kind


class _Common(TypedDict):
    status: int | None
    reason: str
    server_message: str


def _from_api_exception(exc: ApiException, server: str | None) -> GatewayError:
    status = int(exc.status or 0)
    if status == 0:
        tls = _tls_from_chain(exc, server)
        if tls is not None:
            return tls
        unreachable = _network_from_chain(exc, server)
        if unreachable is not None:
            return unreachable
        return GatewayError(
            f"The request failed before reaching the server: {exc.reason}", reason=str(exc.reason)
        )
    data = _status_body(exc)
    server_message = str(data.get("message") or "")
    reason = str(data.get("reason") or exc.reason or "")
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    assert isinstance(details, dict)
    said = f" The server said: {server_message}" if server_message else ""
    common: _Common = {"status": status, "reason": reason, "server_message": server_message}
    if status == 401:
        return Unauthorized(
            "The server did not accept the credentials (401 Unauthorized): the token or certificate is wrong "
            "or has expired. Log in again (renew the token or run your cloud login), then check again.",
            **common,
        )
    if status == 403:
        match = _FORBIDDEN_RE.search(server_message)
        if match:
            group = match.group("group") or ""
            what = match.group("resource") + (f".{group}" if group else "")
            where = f" in namespace {match.group('ns')}" if match.group("ns") else ""
            text = (
                f"Not allowed: {match.group('user')} cannot {match.group('verb')} {what}{where}. "
                "Ask a cluster admin for this permission, or use another context."
            )
            return Forbidden(
                text,
                verb=match.group("verb"),
                resource=match.group("resource"),
                group=group,
                user=match.group("user"),
                **common,
            )
        return Forbidden(f"Not allowed (403 Forbidden).{said} Ask a cluster admin for access.", **common)
    if status == 404:
        if details.get("name"):
            return NotFound(
                f"{_object_ref(details)} was not found; it may have been deleted. Refresh the list.",
                kind=str(details.get("kind") or ""),
                name=str(details.get("name")),
                **common,
            )
        return NotFound(
            "The server does not know this resource type (404): the CRD is not installed. "
            "Is Longhorn installed on this cluster?",
            resource_missing=True,
            **common,
        )
    if status == 409:
        ref = _object_ref(details)
        if reason == "AlreadyExists":
            return AlreadyExists(
                f"{ref} already exists. Pick another name, or open the existing one.",
                kind=str(details.get("kind") or ""),
                name=str(details.get("name") or ""),
                **common,
            )
        return Conflict(
            f"{ref} was changed by someone else since it was loaded (409 Conflict). "
            "Reload it and apply your change again.",
            **common,
        )
    if status == 410:
        return Expired("The watch or list is too old (410 Gone): list again and watch from there.", **common)
    if status == 422:
        causes = tuple(
            (str(c.get("field") or ""), str(c.get("message") or c.get("reason") or ""))
            for c in details.get("causes") or ()
            if isinstance(c, dict)
        )
        listed = "; ".join(f"{field}: {text}" if field else text for field, text in causes) or server_message
        return Invalid(
            f"The server rejected {_object_ref(details)}: {listed}. Correct it and try again.",
            causes=causes,
            **common,
        )
    if status == 400:
        return BadRequest(f"The server refused the request as malformed (400).{said}", **common)
    if status == 429:
        return ServerError(
            f"The server is busy (429 Too Many Requests). Try again in a moment.{said}", **common
        )
    if status >= 500:
        return ServerError(
            f"The API server failed ({status} {exc.reason or ''}).{said} Try again; if it keeps failing, "
            "look at the API server and webhook logs.",
            **common,
        )
    return GatewayError(f"The server answered {status} {exc.reason or ''}.{said}", **common)


# OpenSSL verify codes (X509_V_ERR_*).
_CA_CODES = {2, 18, 19, 20, 21, 27, 28}
_EXPIRED_CODES = {10}
_NOT_YET_CODES = {9}
_HOST_CODES = {62, 64}


def _tls_problem(text: str, verify_code: int | None) -> str:
    lowered = text.lower()
    if verify_code in _EXPIRED_CODES or "certificate has expired" in lowered:
        return "expired"
    if verify_code in _NOT_YET_CODES or "not yet valid" in lowered:
        return "not-yet-valid"
    if verify_code in _HOST_CODES or "hostname mismatch" in lowered or "ip address mismatch" in lowered:
        return "hostname-mismatch"
    if (
        verify_code in _CA_CODES
        or "unable to get local issuer" in lowered
        or "self-signed" in lowered
        or "self signed" in lowered
        or "unable to verify the first certificate" in lowered
    ):
        return "unknown-ca"
    if "wrong version number" in lowered or "record layer failure" in lowered or "http request" in lowered:
        return "not-tls"
    if any(
        word in lowered
        for word in (
            "alert unknown ca",
            "alert bad certificate",
            "alert certificate required",
            "certificate unknown",
        )
    ):
        return "client-certificate"
    return "handshake"


_TLS_MESSAGES = {
    "unknown-ca": (
        "the server's certificate is not signed by a CA this kubeconfig trusts. Check the cluster's "
        "certificate-authority(-data); do not turn verification off"
    ),
    "hostname-mismatch": (
        "the server's certificate is not valid for this address (hostname mismatch). Use the address "
        "the certificate names, or set tls-server-name"
    ),
    "expired": (
        "the server's certificate has expired. Renew the API server certificate, "
        "or check this computer's clock"
    ),
    "not-yet-valid": "the server's certificate is not valid yet. Check this computer's clock",
    "client-certificate": (
        "the server rejected the client certificate. Check client-certificate and client-key for this user"
    ),
    "not-tls": "the server does not speak TLS on this port. Check the server address (https:// and the port)",
    "handshake": "the TLS handshake failed. Check the server address and certificates",
}


def _tls_from_chain(exc: BaseException, server: str | None) -> TlsError | None:
    texts: list[str] = []
    code: int | None = None
    found = False
    for item in _chain(exc):
        if isinstance(item, ssl.SSLCertVerificationError):
            found = True
            code = item.verify_code
            texts.append(str(item.verify_message or item))
        elif isinstance(item, ssl.SSLError | urllib3.exceptions.SSLError | ssl.CertificateError):
            found = True
            texts.append(str(item))
        elif isinstance(item, ApiException) and str(item.reason or "").startswith("SSLError"):
            found = True
            texts.append(str(item.reason))
    if not found:
        return None
    detail = " ".join(texts)
    problem = _tls_problem(detail, code)
    where = _where(exc, server)
    short = next((t for t in texts if t), "")
    short = re.sub(r"\s*\(_ssl\.c:\d+\)", "", short.replace("SSLError\n", "")).strip()
    message = f"TLS error talking to {where}: {_TLS_MESSAGES[problem]}."
    return TlsError(message, problem=problem, reason=short[:300] or problem)


_NETWORK_ERRNOS = {
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
    errno.EADDRNOTAVAIL,
}


def _network_from_chain(exc: BaseException, server: str | None) -> Unreachable | None:
    where = _where(exc, server)
    for item in _chain(exc):
        if isinstance(item, urllib3.exceptions.NameResolutionError | socket.gaierror):
            return Unreachable(
                f"Cannot reach {where}: its host name does not resolve. "
                "Check the server address, DNS or VPN.",
                reason="name not resolved",
            )
    for item in _chain(exc):
        if isinstance(item, urllib3.exceptions.ProxyError):
            return Unreachable(
                f"Cannot reach {where} through the proxy (proxy-url): {item.original_error}. "
                "Check the proxy.",
                reason="proxy error",
            )
        if isinstance(item, ConnectionRefusedError) or (
            isinstance(item, urllib3.exceptions.NewConnectionError) and "refused" in str(item).lower()
        ):
            return Unreachable(
                f"Cannot reach {where}: connection refused. Is the API server running, and are the address "
                "and port right?",
                reason="connection refused",
            )
    for item in _chain(exc):
        if isinstance(
            item,
            urllib3.exceptions.ConnectTimeoutError
            | urllib3.exceptions.ReadTimeoutError
            | urllib3.exceptions.TimeoutError
            | TimeoutError,
        ) and not isinstance(item, urllib3.exceptions.NewConnectionError):
            return Unreachable(
                f"Cannot reach {where}: no answer in time. Check the network, VPN or firewall.",
                reason="timed out",
            )
    for item in _chain(exc):
        if isinstance(item, ConnectionResetError | ConnectionAbortedError | urllib3.exceptions.ProtocolError):
            return Unreachable(
                f"The connection to {where} was closed before an answer. Check the address and any proxy.",
                reason="connection closed",
            )
        if isinstance(item, urllib3.exceptions.NewConnectionError | ConnectionError) or (
            isinstance(item, OSError) and item.errno in _NETWORK_ERRNOS
        ):
            text = str(getattr(item, "_message", "") or item)
            text = text.split("Failed to establish a new connection: ")[-1]
            return Unreachable(f"Cannot reach {where}: {text}. Check the network.", reason=text[:200])
    return None


def translate(exc: BaseException, *, server: str | None = None) -> GatewayError:
    """The ``GatewayError`` for anything a cluster call can raise. ``server`` names it in messages."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, ApiException):
        return _from_api_exception(exc, server)
    if isinstance(exc, ConfigException):
        return KubeconfigError(f"The kubeconfig entry cannot be used: {exc}.", reason="invalid kubeconfig")
    tls = _tls_from_chain(exc, server)
    if tls is not None:
        return tls
    network = _network_from_chain(exc, server)
    if network is not None:
        return network
    return GatewayError(f"Unexpected error: {type(exc).__name__}: {exc}", reason=type(exc).__name__)
