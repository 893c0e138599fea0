"""What lhdesk knows about the clusters in a kubeconfig: contexts, their probed state, access rules.

These are the plain frozen values the UI, the CLI and the tests see. The code that reads kubeconfig
files and talks to servers lives in ``lhdesk.kube``; it fills these in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lhdesk.core.versions import Capabilities

LONGHORN_NAMESPACE = "longhorn-system"


class ContextState(enum.StrEnum):
    """Where a kubeconfig context stands, from lhdesk's point of view."""

    CONNECTED = "connected"
    NO_LONGHORN = "no-longhorn"
    AUTH_REQUIRED = "auth-required"
    FORBIDDEN = "forbidden"
    UNREACHABLE = "unreachable"
    TLS_ERROR = "tls-error"
    INVALID = "invalid"
    #: Not probed yet.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ContextInfo:
    """One kubeconfig context as loaded (no network involved).

    ``error`` is set when the entry itself is broken (missing cluster or user, a certificate file
    that does not exist, an exec plugin not on PATH, a file that does not parse…); ``error_state``
    is then the state that error implies: ``invalid``, or ``auth-required`` when only the login
    plugin is missing. ``namespace`` is "" when the context sets none. ``insecure`` is True when
    the cluster turns TLS verification off (``insecure-skip-tls-verify``): it works but is flagged.
    """

    name: str
    cluster: str
    server: str
    user: str
    namespace: str
    source_file: Path | None
    error: str | None = None
    error_state: ContextState | None = None
    insecure: bool = False
    #: How the user authenticates: "token", "client-certificate", "exec: <command>",
    #: "auth-provider: <name>", "basic", or "" for none. Never the credential itself.
    auth: str = ""

    def __post_init__(self) -> None:
        if (self.error is None) != (self.error_state is None):
            raise ValueError("error and error_state go together")

    @property
    def valid(self) -> bool:
        return self.error is None

    def unprobed(self) -> ProbeResult:
        """The result to show before any probe: ``unknown``, or the state the load error implies."""
        if self.error is not None and self.error_state is not None:
            return ProbeResult(context=self.name, state=self.error_state, message=self.error)
        return ProbeResult(context=self.name, state=ContextState.UNKNOWN, message="Not checked yet.")


@dataclass(frozen=True)
class KubeconfigSet:
    """The merged view of the kubeconfig files, as kubectl would see them.

    ``contexts`` keeps file order (first file first); ``current`` is the current-context from the
    first file that sets one; ``files`` are the files the set was read from, in order, including
    listed files that do not exist (yet): watch their directories to notice them appear.
    ``problems`` are file-level warnings that belong to no context (an entry without a name, a
    duplicate name inside one file). ``raw`` is opaque data for ``lhdesk.kube``; it holds
    credentials and is never printed.
    """

    contexts: tuple[ContextInfo, ...]
    current: str | None
    files: tuple[Path, ...]
    problems: tuple[str, ...] = ()
    raw: object = field(default=None, repr=False, compare=False)

    def context(self, name: str) -> ContextInfo | None:
        for info in self.contexts:
            if info.name == name:
                return info
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(info.name for info in self.contexts)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe of a context found. ``message`` is one line a person can act on."""

    context: str
    state: ContextState
    message: str
    kubernetes_version: str | None = None
    longhorn_version: str | None = None
    #: What the cluster's Longhorn version can do; None when Longhorn was not found or not read.
    capabilities: Capabilities | None = None
    #: Missing access as "verb resource.group" strings, e.g. "create systembackups.longhorn.io".
    missing_permissions: tuple[str, ...] = ()
    checked_at: datetime | None = None


@dataclass(frozen=True)
class AccessCheck:
    """One verb on one resource in the Longhorn namespace, asked with a SelfSubjectAccessReview."""

    verb: str
    resource: str
    group: str = "longhorn.io"

    @property
    def label(self) -> str:
        return f"{self.verb} {self.resource}.{self.group}" if self.group else f"{self.verb} {self.resource}"

    @property
    def is_read(self) -> bool:
        return self.verb in READ_VERBS


READ_VERBS = frozenset({"get", "list", "watch"})

#: The access lhdesk needs in longhorn-system, in the order messages name it.
REQUIRED_ACCESS: tuple[AccessCheck, ...] = (
    AccessCheck("get", "settings"),
    AccessCheck("list", "volumes"),
    AccessCheck("list", "recurringjobs"),
    AccessCheck("watch", "recurringjobs"),
    AccessCheck("create", "recurringjobs"),
    AccessCheck("update", "recurringjobs"),
    AccessCheck("delete", "recurringjobs"),
    AccessCheck("list", "systembackups"),
    AccessCheck("watch", "systembackups"),
    AccessCheck("create", "systembackups"),
    AccessCheck("delete", "systembackups"),
    AccessCheck("list", "systemrestores"),
    AccessCheck("create", "systemrestores"),
)

_KIND_NAMES = {
    "settings": "Settings",
    "volumes": "Volumes",
    "recurringjobs": "RecurringJobs",
    "systembackups": "SystemBackups",
    "systemrestores": "SystemRestores",
    "backuptargets": "BackupTargets",
}


def _or_join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def describe_missing_access(
    missing: Iterable[AccessCheck], required: Iterable[AccessCheck] = REQUIRED_ACCESS
) -> str:
    """Say, per resource, what the user cannot do, e.g. "can read but not create SystemBackups".

    Resources come in the order of ``required``; verbs keep their order there too.
    """
    missing_set = set(missing)
    required_list = list(required)
    universe = required_list + sorted(missing_set - set(required_list), key=lambda c: c.label)
    by_resource: dict[tuple[str, str], list[AccessCheck]] = {}
    for check in universe:
        by_resource.setdefault((check.group, check.resource), []).append(check)
    phrases: list[str] = []
    for (group, resource), checks in by_resource.items():
        lacking = [c for c in checks if c in missing_set]
        if not lacking:
            continue
        kind = _KIND_NAMES.get(resource, resource) if group == "longhorn.io" else resource
        reads_needed = [c.verb for c in checks if c.is_read]
        reads_lacking = [c.verb for c in lacking if c.is_read]
        writes_lacking = [c.verb for c in lacking if not c.is_read]
        if not reads_lacking:
            phrases.append(f"can read but not {_or_join(writes_lacking)} {kind}")
        elif reads_lacking == reads_needed:
            verbs = f"read or {_or_join(writes_lacking)}" if writes_lacking else "read"
            phrases.append(f"cannot {verbs} {kind}")
        else:
            phrases.append(f"cannot {_or_join(reads_lacking + writes_lacking)} {kind}")
    return "; ".join(phrases)


def access_verdict(
    allowed: Mapping[AccessCheck, bool], namespace: str = LONGHORN_NAMESPACE
) -> tuple[tuple[str, ...], str | None]:
    """From SelfSubjectAccessReview answers, the missing permissions and the message to show.

    Returns ``((), None)`` when nothing lhdesk needs is missing. A check absent from ``allowed``
    counts as granted (it could not be asked).
    """
    missing = [c for c in REQUIRED_ACCESS if allowed.get(c) is False]
    missing += sorted(
        (c for c, ok in allowed.items() if not ok and c not in REQUIRED_ACCESS), key=lambda c: c.label
    )
    if not missing:
        return (), None
    read_only = all(not c.is_read for c in missing)
    prefix = "Read-only access" if read_only else "Missing access"
    message = (
        f"{prefix} in {namespace}: {describe_missing_access(missing)}. "
        "Ask a cluster admin to grant these verbs, or pick another context."
    )
    return tuple(c.label for c in missing), message
