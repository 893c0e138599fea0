"""The errors of cluster calls, as values every layer can catch: no client library in here.

``lhdesk.kube.errors.translate`` turns what the kubernetes client, urllib3, ssl and exec login
plugins raise into these classes; the UI and the scheduler catch them without importing any client.
``str(err)`` is the user-facing message (what happened, what to do next); ``status`` (HTTP code or
None), ``reason`` and ``server_message`` are kept for details views. Every text goes through
``redact`` first, so no message ever holds a token or key.
"""

from __future__ import annotations

import re
import threading

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
