"""ObjectMeta rules kube-apiserver applies to every object: names, labels, annotations, finalizers."""

from __future__ import annotations

import re
import secrets
from typing import Any

from lhdesk.demo.apiserver import errors
from lhdesk.demo.apiserver.errors import FieldError

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QNAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LVALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_QNAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LVALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

# Name rules per resource kind of name.
SUBDOMAIN = "subdomain"
LABEL = "label"
PATH_SEGMENT = "path"

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


_OMIT_EMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def drop_empty_collections(obj: dict[str, Any], top_level: tuple[str, ...] = ()) -> None:
    """Go's ``omitempty`` as the stored object shows it: ``labels: {}`` and the like are not kept."""
    meta = obj.get("metadata")
    for holder, keys in ((meta, _OMIT_EMPTY_META), (obj, top_level)):
        if isinstance(holder, dict):
            for key in keys:
                if holder.get(key) in ({}, []):
                    del holder[key]


def generate_name(prefix: str) -> str:
    """``names.SimpleNameGenerator``: the prefix (cut to fit) plus five random characters."""
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def name_errors(name: str, rule: str, path: str = "metadata.name", prefix: bool = False) -> list[FieldError]:
    out: list[FieldError] = []
    check = name
    if prefix:
        check = name[:-1] if name.endswith("-") else name
        check = check + "a" if check else check
    if rule == PATH_SEGMENT:
        if name in (".", ".."):
            out.append(errors.invalid(path, name, f"may not be '{name}'"))
        for bad in ("/", "%"):
            if bad in name:
                out.append(errors.invalid(path, name, f"may not contain '{bad}'"))
        return out
    limit = 63 if rule == LABEL else 253
    if len(check) > limit:
        out.append(errors.invalid(path, name, f"must be no more than {limit} characters"))
    pattern, msg = (_LABEL, _LABEL_MSG) if rule == LABEL else (_SUBDOMAIN, _SUBDOMAIN_MSG)
    if not pattern.match(check):
        out.append(errors.invalid(path, name, msg))
    return out


def qualified_name_errors(value: str, path: str) -> list[FieldError]:
    """``IsQualifiedName``: an optional DNS-subdomain prefix, ``/``, and a name part."""
    out: list[FieldError] = []
    prefix, slash, name = value.rpartition("/")
    if not slash:
        prefix, name = "", value
    if slash and not prefix:
        out.append(errors.invalid(path, value, "prefix part must be non-empty"))
    elif prefix:
        if len(prefix) > 253:
            out.append(errors.invalid(path, value, "prefix part must be no more than 253 characters"))
        elif not _SUBDOMAIN.match(prefix):
            out.append(errors.invalid(path, value, "prefix part " + _SUBDOMAIN_MSG))
    if not name:
        out.append(errors.invalid(path, value, "name part must be non-empty"))
    elif len(name) > 63:
        out.append(errors.invalid(path, value, "name part must be no more than 63 characters"))
    elif not _QNAME.match(name):
        out.append(errors.invalid(path, value, _QNAME_MSG))
    return out


def _string_map_errors(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [errors.type_invalid(path, value, f"{path} in body must be of type object")]
    out: list[FieldError] = []
    for k, v in value.items():
        if not isinstance(v, str):
            out.append(errors.type_invalid(f"{path}[{k}]", v, "must be of type string"))
    return out


def label_errors(labels: Any, path: str = "metadata.labels") -> list[FieldError]:
    out = _string_map_errors(labels, path)
    if out or not labels:
        return out
    for k, v in labels.items():
        out.extend(qualified_name_errors(str(k), path))
        if len(v) > 63:
            out.append(errors.invalid(path, v, "must be no more than 63 characters"))
        elif not _LVALUE.match(v):
            out.append(errors.invalid(path, v, _LVALUE_MSG))
    return out


def annotation_errors(annotations: Any, path: str = "metadata.annotations") -> list[FieldError]:
    out = _string_map_errors(annotations, path)
    if out or not annotations:
        return out
    total = 0
    for k, v in annotations.items():
        out.extend(qualified_name_errors(str(k).lower(), path))
        total += len(k) + len(v)
    if total > 256 * 1024:
        out.append(errors.too_long(path, 256 * 1024))
    return out


def finalizer_errors(finalizers: Any, path: str = "metadata.finalizers") -> list[FieldError]:
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [errors.type_invalid(path, finalizers, f"{path} in body must be of type array")]
    out: list[FieldError] = []
    for i, f in enumerate(finalizers):
        if not isinstance(f, str):
            out.append(errors.type_invalid(f"{path}[{i}]", f, "must be of type string"))
            continue
        out.extend(qualified_name_errors(f, path))
    return out


def owner_reference_errors(refs: Any, path: str = "metadata.ownerReferences") -> list[FieldError]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [errors.type_invalid(path, refs, f"{path} in body must be of type array")]
    out: list[FieldError] = []
    controllers = 0
    for i, ref in enumerate(refs):
        p = f"{path}[{i}]"
        if not isinstance(ref, dict):
            out.append(errors.type_invalid(p, ref, "must be of type object"))
            continue
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                detail = {
                    "apiVersion": "version must not be empty",
                    "kind": "kind must not be empty",
                    "name": "name must not be empty",
                    "uid": "uid must not be empty",
                }[key]
                out.append(errors.invalid(f"{p}.{key}", ref.get(key, ""), detail))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        out.append(errors.invalid(path, refs, "Only one reference can have Controller set to true."))
    return out


def validate_object_meta(meta: dict[str, Any], name_rule: str, namespaced: bool) -> list[FieldError]:
    """``ValidateObjectMeta`` as far as clients can tell the difference."""
    out: list[FieldError] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        if meta.get("generateName"):
            out.extend(
                name_errors(str(meta["generateName"]), name_rule, "metadata.generateName", prefix=True)
            )
        else:
            out.append(errors.required("metadata.name", "name or generateName is required"))
    else:
        out.extend(name_errors(name, name_rule))
    if namespaced:
        ns = meta.get("namespace")
        if not ns:
            out.append(errors.required("metadata.namespace"))
    elif meta.get("namespace"):
        out.append(errors.forbidden("metadata.namespace", "not allowed on this type"))
    out.extend(label_errors(meta.get("labels")))
    out.extend(annotation_errors(meta.get("annotations")))
    out.extend(finalizer_errors(meta.get("finalizers")))
    out.extend(owner_reference_errors(meta.get("ownerReferences")))
    return out


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """``ValidateObjectMetaUpdate``: immutable identity and no new finalizers while deleting.

    kube runs this check twice (in the strategy and in the common metadata checks), so every
    problem appears twice among the causes; the message lists it once.
    """
    out: list[FieldError] = []
    for key in ("name", "namespace", "uid"):
        if new.get(key) != old.get(key):
            out.append(errors.invalid(f"metadata.{key}", new.get(key, ""), "field is immutable"))
    if old.get("deletionTimestamp"):
        old_f = set(old.get("finalizers") or [])
        added = [f for f in new.get("finalizers") or [] if f not in old_f]
        if added:
            out.append(
                errors.forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {_go_list(added)}",
                )
            )
    return [e for e in out for _ in range(2)]


def _go_list(items: list[str]) -> str:
    return "[]string{" + ", ".join(f'"{i}"' for i in items) + "}"
