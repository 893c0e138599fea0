"""Label and field selectors with kube's syntax and error wording."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lhdesk.demo.apiserver.errors import bad_request

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "=="):
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            if not present:
                return False
            try:
                have = int(str(value))
                want = int(self.values[0])
            except ValueError:
                return False
            return have > want if self.op == "gt" else have < want
        return False


class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _check_key(key: str) -> None:
    if not key or len(key) > 316 or not _KEY.match(key):
        raise bad_request(
            f'unable to parse requirement: <nil>: Invalid value: "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )


def _check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise bad_request(
            f'unable to parse requirement: values[0]: Invalid value: "{value}": a valid label must be an '
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character"
        )


_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (f,g),h notin (i),j,!k`` (raises 400 on bad syntax)."""
    if not text or not text.strip():
        return LabelSelector([])
    reqs: list[Requirement] = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise bad_request(f"unable to parse requirement: found '', expected: identifier in {text!r}")
        m = _SET_RE.match(part)
        if m:
            key, op, inner = m.group(1), m.group(2), m.group(3)
            values = tuple(v.strip() for v in inner.split(",")) if inner.strip() else ()
            _check_key(key)
            for v in values:
                _check_value(v)
            if not values and op == "in":
                raise bad_request(
                    "unable to parse requirement: values: Invalid value: []: for 'in', 'notin' "
                    "operators, values set can't be empty"
                )
            reqs.append(Requirement(key, op, values))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            continue
        for op in ("==", "!=", "=", ">", "<"):
            if op in part:
                key, _, value = part.partition(op)
                key, value = key.strip(), value.strip()
                _check_key(key)
                if op in (">", "<"):
                    try:
                        int(value)
                    except ValueError:
                        raise bad_request(
                            f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
                            f"integer: {value}"
                        ) from None
                    reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                else:
                    _check_value(value)
                    reqs.append(Requirement(key, "=" if op == "==" else op, (value,)))
                break
        else:
            _check_key(part)
            reqs.append(Requirement(part, "exists"))
    return LabelSelector(reqs)


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) as a selector; None matches all."""
    if not sel:
        return LabelSelector([])
    reqs: list[Requirement] = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append(Requirement(k, "=", (str(v),)))
    for expr in sel.get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        key = str(expr.get("key", ""))
        values = tuple(str(v) for v in expr.get("values") or [])
        mapped = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(op)
        if mapped is None:
            raise bad_request(f'"{op}" is not a valid label selector operator')
        reqs.append(Requirement(key, mapped, values))
    return LabelSelector(reqs)


FieldGetter = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement], getters: Mapping[str, FieldGetter]) -> None:
        self.requirements = requirements
        self._getters = getters

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict[str, Any]) -> bool:
        for r in self.requirements:
            got = self._getters[r.field](obj)
            text = "" if got is None else str(got)
            if (r.op == "=") != (text == r.value):
                return False
        return True

    def exact_name(self) -> str | None:
        for r in self.requirements:
            if r.field == "metadata.name" and r.op == "=":
                return r.value
        return None


def _meta(key: str) -> FieldGetter:
    return lambda o: (o.get("metadata") or {}).get(key)


BASE_FIELDS: dict[str, FieldGetter] = {
    "metadata.name": _meta("name"),
    "metadata.namespace": _meta("namespace"),
}


def _unescape(value: str) -> str:
    return value.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")


def parse_field_selector(text: str | None, getters: Mapping[str, FieldGetter]) -> FieldSelector:
    """Parse ``metadata.name=x,metadata.namespace!=y`` against the fields a resource supports."""
    if not text or not text.strip():
        return FieldSelector([], getters)
    reqs: list[FieldRequirement] = []
    for raw in re.split(r"(?<!\\),", text):
        part = raw.strip()
        if not part:
            continue
        for op in ("==", "!=", "="):
            if op in part:
                key, _, value = part.partition(op)
                key = key.strip()
                if key not in getters:
                    raise bad_request(f"field label not supported: {key}")
                reqs.append(FieldRequirement(key, "=" if op == "==" else op, _unescape(value.strip())))
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    return FieldSelector(reqs, getters)
