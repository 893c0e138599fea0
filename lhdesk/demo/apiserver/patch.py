"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge patch is only offered for built-in types (kube answers 415 for it on CRs). It is
merge patch plus the directives kubectl sends, with merge-by-key for the few list fields of the
served built-in types that declare a patch merge key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from lhdesk.demo.apiserver.errors import ApiError, bad_request

# List fields of the served built-in types that kube merges by key instead of replacing.
MERGE_KEYS: dict[str, str] = {
    "ownerReferences": "uid",
    "webhooks": "name",
    "ports": "port",
    "secrets": "name",
    "imagePullSecrets": "name",
    "conditions": "type",
}
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})


def _unprocessable(message: str) -> ApiError:
    # Kube wraps JSON patch application errors in a generic 422 without the detail.
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ----------------------------------------------------------------------------- JSON patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _unprocessable(f"invalid array index {token!r}")
    i = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if i > limit:
        raise _unprocessable(f"array index {i} out of bounds")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise _unprocessable(f"missing path element {t!r}")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, False)]
        else:
            raise _unprocessable(f"cannot traverse into {t!r}")
    return cur


def _get(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"missing value at {last!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, False)]
    raise _unprocessable("invalid path")


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True), value)
    else:
        raise _unprocessable("invalid path")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    if not tokens:
        raise _unprocessable("cannot remove the root")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"missing value at {last!r}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, False))
    raise _unprocessable("invalid path")


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(ops) > 10000:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got "
            f"{len(ops)}",
        )
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("json: cannot unmarshal JSON patch operation")
        kind = op["op"]
        if "path" not in op:
            raise _unprocessable("missing path")
        path = _pointer(str(op["path"]))
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            out, _ = _remove(out, path)
        elif kind == "replace":
            _get(out, path)
            if not path:
                out = copy.deepcopy(op.get("value"))
            else:
                out, _ = _remove(out, path)
                out = _add(out, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            src = _pointer(str(op.get("from", "")))
            out, value = _remove(out, src)
            out = _add(out, path, value)
        elif kind == "copy":
            src = _pointer(str(op.get("from", "")))
            out = _add(out, path, copy.deepcopy(_get(out, src)))
        elif kind == "test":
            if _get(out, path) != op.get("value"):
                raise _unprocessable("testing value failed")
        else:
            raise _unprocessable(f"Unexpected kind: {kind}")
    return out


# ----------------------------------------------------------------------------- strategic merge patch


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise bad_request("unable to find api field in struct Unstructured for the json field")
    return _smp(target if isinstance(target, dict) else {}, patch)


def _smp(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "delete":
        return {}
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return {k: _strip_directives(v) for k, v in body.items()}
    result = dict(target)
    retain = body.pop("$retainKeys", None)
    for k, v in body.items():
        if k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(v, list):
                result[field] = [x for x in result[field] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            if v.get("$patch") == "delete":
                result.pop(k, None)
            else:
                cur = result.get(k)
                result[k] = _smp(cur if isinstance(cur, dict) else {}, v)
        elif isinstance(v, list) and k in MERGE_KEYS and isinstance(result.get(k), list):
            result[k] = _merge_list(result[k], v, MERGE_KEYS[k])
        elif isinstance(v, list) and k in PRIMITIVE_MERGE_LISTS and isinstance(result.get(k), list):
            merged = list(result[k])
            for item in v:
                if item not in merged:
                    merged.append(item)
            result[k] = merged
        else:
            result[k] = _strip_directives(v)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(_strip_directives(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = _smp(out[idx], item)
    return out


def _strip_directives(v: Any) -> Any:
    if isinstance(v, dict):
        return {
            k: _strip_directives(x)
            for k, x in v.items()
            if not (k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"))
        }
    if isinstance(v, list):
        return [_strip_directives(x) for x in v]
    return v


def parse_json(raw: bytes, what: str = "patch") -> Any:
    try:
        return json.loads(raw.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"error decoding {what}: {exc}") from None
