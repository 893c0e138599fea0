"""Structural OpenAPI v3 schemas: pruning, defaulting and validation, as kube-apiserver does for CRs.

Only what a structural schema may say is implemented: types, nullable, enum, required, properties,
additionalProperties, items, the numeric/string/array/object bounds, pattern, a few formats,
``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-int-or-string`` and
``x-kubernetes-embedded-resource``; plus value-only ``allOf``/``anyOf``/``oneOf``/``not``.
CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from typing import Any

from lhdesk.demo.apiserver import errors
from lhdesk.demo.apiserver.errors import FieldError

Schema = dict[str, Any]

_META_FIELDS = ("apiVersion", "kind", "metadata")

# ObjectMeta fields kube keeps; anything else under metadata is pruned.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------- pruning


def prune(obj: dict[str, Any], schema: Schema | None) -> list[str]:
    """Drop every field the schema does not know (in place); return the dropped paths, sorted.

    The object is a resource root: ``apiVersion``, ``kind`` and ``metadata`` are always kept, and
    unknown ``metadata`` fields are dropped as kube drops them when decoding ObjectMeta.
    """
    unknown: list[str] = []
    root = dict(schema or {})
    root["x-kubernetes-embedded-resource"] = True
    _prune(obj, root, "", unknown)
    _prune_meta(obj, "", unknown)
    unknown.sort()
    return unknown


def _prune_meta(obj: Any, path: str, unknown: list[str]) -> None:
    if not isinstance(obj, dict):
        return
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in list(meta):
            if key not in OBJECT_META_FIELDS:
                unknown.append(_join(_join(path, "metadata"), key))
                del meta[key]


def _prune(x: Any, s: Schema | None, path: str, unknown: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_join(path, k))
                del x[k]
            return
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        for k in list(x):
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _join(path, k), unknown)
            elif isinstance(addl, dict):
                _prune(x[k], addl, _join(path, k), unknown)
            elif addl is True:
                continue
            else:
                if k not in _META_FIELDS or path:
                    unknown.append(_join(path, k))
                del x[k]
        if embedded and path:
            _prune_meta(x, path, unknown)
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items if isinstance(items, dict) else None, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, s: Schema, path: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(v, props[k], _join(path, k), unknown)
            elif isinstance(addl, dict):
                _prune(v, addl, _join(path, k), unknown)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", unknown)


# --------------------------------------------------------------------------- coercion + defaults


def coerce(x: Any, s: Schema | None) -> Any:
    """Drop ``null`` values of non-nullable, non-defaulted fields and make integral floats ints.

    kube's unstructured decoding reads ``1.0`` as an integer where the schema says ``integer``, and
    its schema coercer removes nulls that the schema does not allow; both are visible to clients.
    """
    if s is None:
        return x
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k in list(x):
            sub = props.get(k)
            if sub is None and isinstance(addl, dict):
                sub = addl
            if sub is None:
                continue
            v = x[k]
            if v is None and not sub.get("nullable") and "default" not in sub:
                if sub is not addl:
                    del x[k]
                continue
            x[k] = coerce(v, sub)
        return x
    if isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            return [coerce(v, items) for v in x]
        return x
    if isinstance(x, float) and x.is_integer() and s.get("type") == "integer":
        return int(x)
    return x


def apply_defaults(x: Any, s: Schema | None) -> None:
    """Fill ``default`` values of absent properties (in place), recursing into present values."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if (k not in x and "default" in sub) or (
                k in x and x[k] is None and "default" in sub and not sub.get("nullable")
            ):
                x[k] = copy.deepcopy(sub["default"])
            if k in x:
                apply_defaults(x[k], sub)
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k, v in x.items():
                if k not in props:
                    apply_defaults(v, addl)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for v in x:
                apply_defaults(v, items)


# --------------------------------------------------------------------------- validation

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _format_ok(fmt: str, value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if fmt == "date-time":
        if not _DATE_TIME.match(value):
            return False
        try:
            datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return False
        return True
    if fmt == "date":
        if not _DATE.match(value):
            return False
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return True


def _num(v: float) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _type_ok(expected: str, value: Any, s: Schema) -> bool:
    if value is None:
        return bool(s.get("nullable"))
    if s.get("x-kubernetes-int-or-string"):
        return (isinstance(value, (int, str)) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    actual = json_type(value)
    if expected == "number":
        return actual in ("integer", "number")
    return actual == expected


def validate(obj: Any, schema: Schema | None) -> list[FieldError]:
    """Validate a resource (root) against its schema; errors as kube reports them."""
    out: list[FieldError] = []
    if schema is None:
        return out
    _validate(obj, schema, "", out, root=True)
    return out


def _validate(x: Any, s: Schema, path: str, out: list[FieldError], root: bool = False) -> None:
    shown = path or "."
    expected = s.get("type")
    if x is None and s.get("nullable"):
        return
    if expected and not _type_ok(expected, x, s):
        out.append(
            errors.invalid(
                path, json_type(x), f'{shown} in body must be of type {expected}: "{json_type(x)}"'
            )
        )
        return
    if x is None and not expected:
        return
    if "enum" in s and s["enum"] is not None and x not in s["enum"]:
        valid = [v if isinstance(v, str) else json.dumps(v) for v in s["enum"]]
        out.append(errors.not_supported(path, x, valid))
    fmt = s.get("format")
    if fmt and not _format_ok(fmt, x):
        out.append(errors.invalid(path, x, f'{shown} in body must be of type {fmt}: "{x}"'))
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        _validate_number(x, s, path, shown, out)
    elif isinstance(x, str):
        _validate_string(x, s, path, shown, out)
    elif isinstance(x, list):
        _validate_array(x, s, path, shown, out)
    elif isinstance(x, dict):
        _validate_object(x, s, path, shown, out, root)
    _validate_combinators(x, s, path, shown, out)


def _validate_number(x: float, s: Schema, path: str, shown: str, out: list[FieldError]) -> None:
    if "maximum" in s:
        m = s["maximum"]
        if s.get("exclusiveMaximum") and x >= m:
            out.append(errors.invalid(path, x, f"{shown} in body should be less than {_num(m)}"))
        elif x > m:
            out.append(errors.invalid(path, x, f"{shown} in body should be less than or equal to {_num(m)}"))
    if "minimum" in s:
        m = s["minimum"]
        if s.get("exclusiveMinimum") and x <= m:
            out.append(errors.invalid(path, x, f"{shown} in body should be greater than {_num(m)}"))
        elif x < m:
            out.append(
                errors.invalid(path, x, f"{shown} in body should be greater than or equal to {_num(m)}")
            )
    if s.get("multipleOf"):
        m = s["multipleOf"]
        q = x / m
        if not float(q).is_integer():
            out.append(errors.invalid(path, x, f"{shown} in body should be a multiple of {_num(m)}"))


def _validate_string(x: str, s: Schema, path: str, shown: str, out: list[FieldError]) -> None:
    n = len(x)
    if "maxLength" in s and n > s["maxLength"]:
        out.append(errors.too_long(path, int(s["maxLength"])))
    if "minLength" in s and n < s["minLength"]:
        out.append(errors.invalid(path, x, f"{shown} in body should be at least {s['minLength']} chars long"))
    if "pattern" in s:
        try:
            ok = re.search(s["pattern"], x) is not None
        except re.error:
            ok = True
        if not ok:
            out.append(errors.invalid(path, x, f"{shown} in body should match '{s['pattern']}'"))


def _validate_array(x: list[Any], s: Schema, path: str, shown: str, out: list[FieldError]) -> None:
    if "maxItems" in s and len(x) > s["maxItems"]:
        out.append(errors.too_many(path, len(x), int(s["maxItems"])))
    if "minItems" in s and len(x) < s["minItems"]:
        out.append(errors.invalid(path, x, f"{shown} in body should have at least {s['minItems']} items"))
    if s.get("uniqueItems"):
        seen: list[str] = []
        for v in x:
            key = json.dumps(v, sort_keys=True)
            if key in seen:
                out.append(errors.FieldError("FieldValueDuplicate", path, v))
                break
            seen.append(key)
    items = s.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(x):
            _validate(v, items, f"{path}[{i}]", out)
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        seen2: set[str] = set()
        for i, v in enumerate(x):
            key = json.dumps(v, sort_keys=True)
            if key in seen2:
                out.append(errors.FieldError("FieldValueDuplicate", f"{path}[{i}]", v))
            seen2.add(key)
    elif list_type == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen3: set[str] = set()
        for i, v in enumerate(x):
            if not isinstance(v, dict):
                continue
            key = json.dumps([v.get(k) for k in keys])
            if key in seen3:
                out.append(
                    errors.FieldError("FieldValueDuplicate", f"{path}[{i}]", {k: v.get(k) for k in keys})
                )
            seen3.add(key)


def _validate_object(
    x: dict[str, Any], s: Schema, path: str, shown: str, out: list[FieldError], root: bool
) -> None:
    if "maxProperties" in s and len(x) > s["maxProperties"]:
        out.append(errors.too_many(path, len(x), int(s["maxProperties"])))
    if "minProperties" in s and len(x) < s["minProperties"]:
        out.append(
            errors.invalid(path, x, f"{shown} in body should have at least {s['minProperties']} properties")
        )
    for name in s.get("required") or []:
        if name not in x:
            out.append(errors.required(_join(path, name)))
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    for k, v in x.items():
        if root and k in _META_FIELDS:
            continue
        sub = props.get(k)
        if sub is None and isinstance(addl, dict):
            sub = addl
        if isinstance(sub, dict):
            _validate(v, sub, _join(path, k), out)


def _validate_combinators(x: Any, s: Schema, path: str, shown: str, out: list[FieldError]) -> None:
    for sub in s.get("allOf") or []:
        _validate(x, _value_only(sub), path, out)
    any_of = s.get("anyOf")
    if any_of and not any(not _errors_of(x, _value_only(sub), path) for sub in any_of):
        out.append(errors.invalid(path, x, f'"{shown}" must validate at least one schema (anyOf)'))
    one_of = s.get("oneOf")
    if one_of:
        matches = sum(1 for sub in one_of if not _errors_of(x, _value_only(sub), path))
        if matches != 1:
            out.append(errors.invalid(path, x, f'"{shown}" must validate one and only one schema (oneOf)'))
    neg = s.get("not")
    if isinstance(neg, dict) and not _errors_of(x, _value_only(neg), path):
        out.append(errors.invalid(path, x, f'"{shown}" must not validate the schema (not)'))


def _errors_of(x: Any, s: Schema, path: str) -> list[FieldError]:
    tmp: list[FieldError] = []
    _validate(x, s, path, tmp)
    return tmp


def _value_only(s: Any) -> Schema:
    return s if isinstance(s, dict) else {}


# --------------------------------------------------------------------------- helpers for kube's pipeline


def process(obj: dict[str, Any], schema: Schema | None) -> list[str]:
    """Prune, coerce and default ``obj`` in place, as kube does when it decodes a CR body.

    Returns the paths of the unknown fields that were dropped (for ``fieldValidation``).
    """
    unknown = prune(obj, schema)
    coerce(obj, schema)
    apply_defaults(obj, schema)
    return unknown
