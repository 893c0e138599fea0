"""Kubernetes ``Status`` errors, worded as kube-apiserver words them.

Clients (kubectl, the ``kubernetes`` client, the app's error mapping) read ``code`` and ``reason``
and show ``message``; keeping those exactly as kube-apiserver writes them is what makes the demo
indistinguishable from a real cluster when something is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Qualified:
    """A group-qualified resource or kind (``recurringjobs.longhorn.io``, ``configmaps``)."""

    name: str
    group: str

    def __str__(self) -> str:
        return f"{self.name}.{self.group}" if self.group else self.name


# field.ErrorType values (what goes into StatusCause.reason) and their human strings.
FIELD_TYPES: dict[str, str] = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}

_NO_VALUE_TYPES = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError"}

_OMIT = object()


class Raw(str):
    """A bad value that Go prints verbatim (``0x0``, ``[]string{"x"}``), not as a quoted string."""


def _go_value(value: Any) -> str:
    """Render a bad value the way apimachinery's field.Error does."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class FieldError:
    """One field-level validation error (apimachinery ``field.Error``)."""

    type: str
    field: str
    bad_value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        human = FIELD_TYPES.get(self.type, self.type)
        if self.type in _NO_VALUE_TYPES or self.bad_value is _OMIT:
            text = human
        else:
            text = f"{human}: {_go_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, detail=detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def type_invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", path, value, detail)


def not_supported(path: str, value: Any, valid: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in valid) if valid else ""
    return FieldError("FieldValueNotSupported", path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail=detail)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, detail=f"may not be more than {max_length} bytes")


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    return FieldError("FieldValueTooMany", path, actual, f"must have at most {maximum} items")


def aggregate(errors: list[FieldError]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message, or ``[a, b]`` for several."""
    seen: list[str] = []
    for err in errors:
        text = str(err)
        if text not in seen:
            seen.append(text)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


@dataclass
class ApiError(Exception):
    """An error answered to the client as a ``Status`` object."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.details is not None:
            out["details"] = self.details
        out["code"] = self.code
        return out


def _details(qr: Qualified, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if qr.group:
        d["group"] = qr.group
    d["kind"] = qr.name
    return d


def not_found(qr: Qualified, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qr} "{name}" not found', _details(qr, name))


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


class PageNotFound(Exception):
    """A path no API group serves: kube's mux answers it with a plain-text ``404 page not found``."""


def already_exists(qr: Qualified, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qr} "{name}" already exists', _details(qr, name))


def conflict(qr: Qualified, name: str, why: str) -> ApiError:
    return ApiError(
        409, "Conflict", f'Operation cannot be fulfilled on {qr} "{name}": {why}', _details(qr, name)
    )


def stale(qr: Qualified, name: str) -> ApiError:
    return conflict(
        qr,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )


def invalid_object(kind: Qualified, name: str, errors: list[FieldError]) -> ApiError:
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    details: dict[str, Any] = {"name": name} if name else {}
    if kind.group:
        details["group"] = kind.group
    if kind.name:
        details["kind"] = kind.name
    details["causes"] = causes
    message = f'{kind} "{name}" is invalid'
    if errors:
        message += f": {aggregate(errors)}"
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def summarize(data: bytes, limit: int = 30) -> str:
    """apiserver's summarizeData: a body as it appears in decoding errors."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        text = data.decode("utf-8", errors="replace")
        return text[:limit] + " ..." if len(data) > limit else text
    return data[:limit].hex() + " ..." if len(data) > limit else data.hex()


def forbidden_error(qr: Qualified, name: str, why: str) -> ApiError:
    message = f'{qr} "{name}" is forbidden: {why}' if name else f"{qr} is forbidden: {why}"
    return ApiError(403, "Forbidden", message, _details(qr, name))


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
        None,
    )


def not_acceptable(accepted: list[str]) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
        None,
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def internal(message: str) -> ApiError:
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the "
    "request",
}


def for_code(code: int, message: str | None = None) -> ApiError:
    """A generic error for ``code`` (used by the fault knobs)."""
    reason = _REASONS.get(code, "")
    text = message or _MESSAGES.get(code) or f"injected fault: HTTP {code}"
    headers = {"Retry-After": "1"} if code in (429, 503) else {}
    details: dict[str, Any] | None = {"retryAfterSeconds": 1} if code in (429, 503) else None
    return ApiError(code, reason, text, details, headers)
