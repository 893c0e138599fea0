"""Every failure of a cluster call, translated into ``lhdesk.core.errors`` classes.

The kubernetes client, urllib3, ssl, and exec login plugins each fail in their own way.
``translate`` turns any of those into a ``GatewayError`` subclass (defined in the pure
``lhdesk.core.errors`` and re-exported here) whose ``str()`` says what happened and what to do
next. No message ever holds a token or key: every text goes through ``redact`` first.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any, TypedDict

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from lhdesk.core.errors import (  # noqa: F401 (re-exported: callers catch them from here too)
    AlreadyExists,
    AuthPluginError,
    BadRequest,
    Conflict,
    Expired,
    Forbidden,
    GatewayError,
    Invalid,
    KubeconfigError,
    NotFound,
    ServerError,
    TlsError,
    Unauthorized,
    Unreachable,
    _secrets,
    redact,
    register_secret,
)

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
