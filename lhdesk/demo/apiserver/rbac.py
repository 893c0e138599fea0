"""Authentication (bearer tokens) and RBAC authorization over the stored RBAC objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lhdesk.demo.apiserver.store import Store

RBAC_GROUP = "rbac.authorization.k8s.io"
CLUSTER_ROLES = (RBAC_GROUP, "clusterroles")
CLUSTER_ROLE_BINDINGS = (RBAC_GROUP, "clusterrolebindings")
ROLES = (RBAC_GROUP, "roles")
ROLE_BINDINGS = (RBAC_GROUP, "rolebindings")

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        return out


@dataclass(frozen=True)
class Attributes:
    """What a request wants to do (kube's ``authorizer.Attributes``)."""

    user: User
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""

    def forbidden_message(self) -> str:
        if not self.resource_request:
            return f'User "{self.user.name}" cannot {self.verb} path "{self.path}"'
        res = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.namespace:
            return (
                f'User "{self.user.name}" cannot {self.verb} resource "{res}" in API group '
                f'"{self.api_group}" in the namespace "{self.namespace}"'
            )
        return (
            f'User "{self.user.name}" cannot {self.verb} resource "{res}" in API group "{self.api_group}" '
            "at the cluster scope"
        )


def _has(values: Iterable[str] | None, wanted: str, star: str = "*") -> bool:
    vals = list(values or [])
    return star in vals or wanted in vals


def _resource_matches(rule: dict[str, Any], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule.get("resources") or []:
        if r == "*" or r == combined:
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def _nonresource_matches(rule: dict[str, Any], path: str) -> bool:
    for u in rule.get("nonResourceURLs") or []:
        if u == "*" or u == path:
            return True
        if u.endswith("*") and path.startswith(u[:-1]):
            return True
    return False


def rule_allows(rule: dict[str, Any], a: Attributes) -> bool:
    if not _has(rule.get("verbs"), a.verb):
        return False
    if not a.resource_request:
        return _nonresource_matches(rule, a.path)
    if not _has(rule.get("apiGroups"), a.api_group):
        return False
    if not _resource_matches(rule, a.resource, a.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def _subject_matches(subject: dict[str, Any], user: User, binding_ns: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


@dataclass(frozen=True)
class _Grant:
    kind: str
    name: str
    role_kind: str
    role: str
    rules: list[dict[str, Any]]
    subject: str


def _describe(subject: dict[str, Any], binding_ns: str) -> str:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return f'ServiceAccount "{subject.get("namespace") or binding_ns}/{subject.get("name")}"'
    return f'{kind} "{subject.get("name")}"'


@dataclass
class Decision:
    allowed: bool
    reason: str = ""
    rules: list[dict[str, Any]] = field(default_factory=list)


class Authorizer:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _role_rules(self, ref: dict[str, Any], binding_ns: str) -> tuple[str, list[dict[str, Any]]]:
        kind = ref.get("kind")
        name = str(ref.get("name", ""))
        if kind == "ClusterRole":
            role = self._store.get(CLUSTER_ROLES, "", name)
        else:
            role = self._store.get(ROLES, binding_ns, name)
        if role is None:
            return name, []
        return name, [r for r in role.get("rules") or [] if isinstance(r, dict)]

    def _bindings(self, user: User, namespace: str) -> Iterable[_Grant]:
        """Every binding that names the user (directly, by group or as a service account)."""
        crbs, _ = self._store.items(CLUSTER_ROLE_BINDINGS)
        bindings: list[tuple[str, str, dict[str, Any]]] = [("ClusterRoleBinding", "", b) for b in crbs]
        if namespace:
            rbs, _ = self._store.items(ROLE_BINDINGS, namespace)
            bindings += [("RoleBinding", namespace, b) for b in rbs]
        for kind, ns, b in bindings:
            subject = next(
                (s for s in b.get("subjects") or [] if isinstance(s, dict) and _subject_matches(s, user, ns)),
                None,
            )
            if subject is None:
                continue
            ref = b.get("roleRef") or {}
            role, rules = self._role_rules(ref, ns)
            yield _Grant(
                kind, b["metadata"]["name"], str(ref.get("kind")), role, rules, _describe(subject, ns)
            )

    def authorize(self, a: Attributes) -> Decision:
        if MASTERS in a.user.groups:
            return Decision(True)
        for g in self._bindings(a.user, a.namespace if a.resource_request else ""):
            for rule in g.rules:
                if rule_allows(rule, a):
                    where = f' in namespace "{a.namespace}"' if g.kind == "RoleBinding" else ""
                    return Decision(
                        True,
                        f'RBAC: allowed by {g.kind} "{g.name}"{where} of {g.role_kind} "{g.role}" '
                        f"to {g.subject}",
                    )
        return Decision(False, "")

    def rules_for(self, user: User, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(resource rules, non-resource rules) that apply to ``user`` in ``namespace``."""
        if MASTERS in user.groups:
            return (
                [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            )
        res: list[dict[str, Any]] = []
        nonres: list[dict[str, Any]] = []
        for grant in self._bindings(user, namespace):
            for rule in grant.rules:
                if rule.get("nonResourceURLs"):
                    nonres.append(
                        {
                            "verbs": list(rule.get("verbs") or []),
                            "nonResourceURLs": list(rule["nonResourceURLs"]),
                        }
                    )
                else:
                    entry: dict[str, Any] = {"verbs": list(rule.get("verbs") or [])}
                    for k in ("apiGroups", "resources", "resourceNames"):
                        if rule.get(k):
                            entry[k] = list(rule[k])
                    res.append(entry)
        return res, nonres


def bootstrap_objects(readonly_user: str) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    """The RBAC objects a fresh server starts with: kube's discovery roles plus the demo's users."""
    discovery_urls = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ]
    out: list[tuple[tuple[str, str], dict[str, Any]]] = []

    def cr(name: str, rules: list[dict[str, Any]], bootstrap: bool = True) -> None:
        meta: dict[str, Any] = {"name": name}
        if bootstrap:
            meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
            meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        out.append(
            (
                CLUSTER_ROLES,
                {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules},
            )
        )

    def crb(name: str, role: str, subject: dict[str, Any], bootstrap: bool = True) -> None:
        meta: dict[str, Any] = {"name": name}
        if bootstrap:
            meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
            meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        out.append(
            (
                CLUSTER_ROLE_BINDINGS,
                {
                    "apiVersion": f"{RBAC_GROUP}/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": meta,
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
                    "subjects": [subject],
                },
            )
        )

    group = {"apiGroup": RBAC_GROUP, "kind": "Group"}
    cr(
        "cluster-admin",
        [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    )
    crb("cluster-admin", "cluster-admin", dict(group, name=MASTERS))
    cr("system:discovery", [{"nonResourceURLs": discovery_urls, "verbs": ["get"]}])
    crb("system:discovery", "system:discovery", dict(group, name=AUTHENTICATED))
    cr(
        "system:public-info-viewer",
        [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}],
    )
    crb("system:public-info-viewer", "system:public-info-viewer", dict(group, name=AUTHENTICATED))
    cr(
        "system:basic-user",
        [
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["selfsubjectreviews"],
                "verbs": ["create"],
            },
        ],
    )
    crb("system:basic-user", "system:basic-user", dict(group, name=AUTHENTICATED))
    cr(
        "lhdesk-demo-readonly",
        [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
        bootstrap=False,
    )
    crb(
        "lhdesk-demo-readonly",
        "lhdesk-demo-readonly",
        {"apiGroup": RBAC_GROUP, "kind": "User", "name": readonly_user},
        bootstrap=False,
    )
    return out
