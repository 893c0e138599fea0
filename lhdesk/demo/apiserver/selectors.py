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


def _check_key(key: str) -> None:
    if not key or len(key) > 316 or not _KEY.match(key):
        raise _Problem(
            f"key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or "
            "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )


def _check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise _Problem(
            f'values[0]: Invalid value: "{value}": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )


_SPECIAL = "=!(),><"
_OPERATORS = {"!": "not", "!=": "!=", "=": "=", "==": "==", ">": ">", "<": "<", "(": "(", ")": ")", ",": ","}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal): kind is an operator, "in", "notin", "id", "end" or "error"."""
    out: list[tuple[str, str]] = []
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            out.append(("end", ""))
            return out
        if text[i] in _SPECIAL:
            j = i
            best = ""
            while j < n and text[j] in _SPECIAL:
                if text[i : j + 1] in _OPERATORS:
                    best = text[i : j + 1]
                elif best:
                    break
                j += 1
            if not best:
                out.append(("error", f"error expected: keyword found '{text[i:j]}'"))
                return out
            out.append((_OPERATORS[best], best))
            i += len(best)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in " \t\r\n":
            j += 1
        word = text[i:j]
        out.append((word if word in ("in", "notin") else "id", word))
        i = j


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.items[min(self.pos, len(self.items) - 1)]
        if values and kind in ("in", "notin"):
            kind = "id"
        return kind, lit

    def take(self, values: bool = True) -> tuple[str, str]:
        got = self.peek(values)
        self.pos += 1
        return got

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind in ("id", "not"):
                try:
                    reqs.append(self.requirement())
                except _Problem as exc:
                    raise bad_request(f"unable to parse requirement: {exc}") from None
                kind2, lit2 = self.take()
                if kind2 == "end":
                    return reqs
                if kind2 == ",":
                    kind3, lit3 = self.peek()
                    if kind3 not in ("id", "not"):
                        raise bad_request(f"found '{lit3}', expected: identifier after ','")
                    continue
                raise bad_request(f"found '{lit2}', expected: ',' or 'end of string'")
            if kind == "end":
                return reqs
            if kind == "error":
                raise bad_request(lit)
            raise bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        kind, lit = self.take()
        negated = kind == "not"
        if negated:
            kind, lit = self.take()
        if kind != "id":
            raise _Problem(f"found '{lit}', expected: identifier")
        _check_key(lit)
        key = lit
        if self.peek()[0] in ("end", ","):
            return Requirement(key, "!" if negated else "exists")
        kind, lit = self.take(values=False)
        ops = {"in": "in", "notin": "notin", "=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}
        if kind not in ops:
            raise _Problem(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[kind]
        values = self.value_set() if op in ("in", "notin") else self.exact_value()
        for v in values:
            if op in ("gt", "lt"):
                try:
                    int(v)
                except ValueError:
                    raise _Problem(f"for 'Gt', 'Lt' operators, the value must be an integer: {v}") from None
            else:
                _check_value(v)
        return Requirement(key, op, tuple(values))

    def value_set(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise _Problem(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.take()
            return [""]
        if kind not in ("id", ","):
            raise _Problem(f"found '{lit}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            kind, lit = self.take()
            if kind == "id":
                values.append(lit)
                k2, l2 = self.peek()
                if k2 == ",":
                    continue
                if k2 == ")":
                    self.take()
                    return sorted(set(values))
                raise _Problem(f"found '{l2}', expected: ',' or ')'")
            if kind == ",":
                if not values:
                    values.append("")
                k2, _l2 = self.peek()
                if k2 == ")":
                    values.append("")
                    self.take()
                    return sorted(set(values))
                if k2 == ",":
                    values.append("")
                continue
            raise _Problem(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        kind, lit = self.peek()
        if kind in ("end", ","):
            return [""]
        kind, lit = self.take()
        if kind == "id":
            return [lit]
        raise _Problem(f"found '{lit}', expected: identifier")


class _Problem(Exception):
    pass


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``a=b,c!=d,e in (f,g),h notin (i),j,!k`` as kube's selector parser does (400 if bad)."""
    if not text or not text.strip():
        return LabelSelector([])
    return LabelSelector(_Parser(text).parse())


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
