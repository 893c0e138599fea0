"""What the server serves: resource types (built-in and CRD-defined) and their discovery documents."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lhdesk.demo.apiserver import meta as metarules
from lhdesk.demo.apiserver.errors import FieldError, Qualified
from lhdesk.demo.apiserver.selectors import BASE_FIELDS, FieldGetter

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

Obj = dict[str, Any]
Hook = Callable[[Obj, "Obj | None"], None]
Validator = Callable[[Obj, "Obj | None"], list[FieldError]]


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    status: bool = False
    schema: dict[str, Any] | None = None
    custom: bool = False
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    generation: bool = False
    return_deleted: bool = False
    unconditional_update: bool = True
    name_rule: str = metarules.SUBDOMAIN
    field_getters: dict[str, FieldGetter] = field(default_factory=lambda: dict(BASE_FIELDS))
    virtual: bool = False
    storage_version: str = ""
    list_kind: str = ""
    # Strategy hooks (built-ins): defaults/normalisation on create and update, and extra validation.
    prepare: Hook | None = None
    validate: Validator | None = None
    # Patch media types accepted besides JSON patch and merge patch.
    strategic_merge: bool = True
    # Subresources other than status served as plain views of the object (e.g. namespaces/finalize).
    extra_subresources: tuple[str, ...] = ()
    # Top-level fields that Go's ``omitempty`` drops when empty (ConfigMap ``data``, ...); the
    # metadata's collections are dropped for every type.
    omit_empty: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage_version:
            self.storage_version = self.version
        if not self.list_kind:
            self.list_kind = self.kind + "List"

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified_resource(self) -> Qualified:
        return Qualified(self.plural, self.group)

    @property
    def qualified_kind(self) -> Qualified:
        return Qualified(self.kind, self.group)

    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.storage_version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        if not self.virtual:
            entry["storageVersionHash"] = self.storage_version_hash()
        out = [entry]
        if self.status:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        for sub in self.extra_subresources:
            out.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["update"],
                }
            )
        return out


class Registry:
    """Served resource types by group/version/plural, plus lookups by kind and short name."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        # Preferred version order of each group, as it appears in discovery.
        self._group_order: list[str] = []
        self._group_versions: dict[str, list[str]] = {}

    def add(self, rt: ResourceType) -> None:
        with self._lock:
            self._types[(rt.group, rt.version, rt.plural)] = rt
            if rt.group not in self._group_versions:
                self._group_versions[rt.group] = []
                self._group_order.append(rt.group)
            if rt.version not in self._group_versions[rt.group]:
                self._group_versions[rt.group].append(rt.version)

    def set_group_versions(self, group: str, versions: list[str]) -> None:
        with self._lock:
            if group not in self._group_order:
                self._group_order.append(group)
            self._group_versions[group] = list(versions)

    def remove_where(self, pred: Callable[[ResourceType], bool]) -> list[ResourceType]:
        with self._lock:
            gone = [rt for rt in self._types.values() if pred(rt)]
            for rt in gone:
                del self._types[(rt.group, rt.version, rt.plural)]
            for group in list(self._group_versions):
                live = [
                    v
                    for v in self._group_versions[group]
                    if any(t.group == group and t.version == v for t in self._types.values())
                ]
                if live:
                    self._group_versions[group] = live
                else:
                    del self._group_versions[group]
                    self._group_order.remove(group)
            return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def of_key(self, key: tuple[str, str]) -> list[ResourceType]:
        with self._lock:
            return [t for t in self._types.values() if t.key == key]

    def groups(self) -> list[tuple[str, list[str]]]:
        with self._lock:
            return [(g, list(self._group_versions[g])) for g in self._group_order]

    def versions(self, group: str) -> list[str]:
        with self._lock:
            return list(self._group_versions.get(group, []))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return [t for t in self._types.values() if t.group == group and t.version == version]

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        with self._lock:
            for t in self._types.values():
                if t.group == group and t.version == version and t.kind == kind:
                    return t
            return None


def api_versions_doc(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def group_list_doc(registry: Registry) -> dict[str, Any]:
    groups = [group_doc(g, vs) for g, vs in registry.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list_doc(registry: Registry, group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rt in sorted(registry.in_group_version(group, version), key=lambda t: t.plural):
        resources.extend(rt.discovery_entries())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
