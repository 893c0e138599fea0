"""Longhorn RecurringJob: the task registry, the spec model, validation and server defaults.

Facts come from shared/longhorn/recurring-jobs.md (Longhorn v1.12.1). ``validate`` applies
the "Rules a GUI form must enforce" from those notes: everything the admission webhook
refuses, plus stricter checks where the server lets a mistake through (concurrency < 1,
``_`` in names, unknown or badly typed parameters, group names that are not valid label
names, schedules that never run). ``mutate_like_server`` reproduces the mutating webhook's
defaults, so a manifest is checked as Longhorn would store it with
``validate(mutate_like_server(spec), facts)``.

Field names in ``FieldError`` are manifest paths: ``metadata.name``, ``spec.cron``,
``spec.groups[1]``, ``spec.labels.<key>``, ``spec.parameters.<key>``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

from lhdesk.core import cron
from lhdesk.core.versions import SYSTEM_BACKUP_JOB_SINCE, Capabilities, LonghornVersion

__all__ = [
    "API_VERSION",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_GROUP",
    "DEFAULT_MAX_RETENTION",
    "KIND",
    "MAX_RETENTION_LIMIT",
    "NAME_MAX_LENGTH",
    "PARAMETERS",
    "RESERVED_LABEL_KEYS",
    "SETTING_MAX_RETENTION",
    "TASKS",
    "ClusterFacts",
    "FieldError",
    "ManifestError",
    "ParameterChoice",
    "ParameterInfo",
    "RecurringJobSpec",
    "TaskInfo",
    "auto_correct_name",
    "mutate_like_server",
    "retain_bounds",
    "validate",
    "warnings_for",
]

logger = logging.getLogger(__name__)

API_VERSION = "longhorn.io/v1beta2"
KIND = "RecurringJob"
DEFAULT_NAMESPACE = "longhorn-system"
NAME_MAX_LENGTH = 40
"""``NameMaximumLength`` in longhorn-manager: spec.name, and so the job name, is at most 40."""
DEFAULT_CONCURRENCY = 10
"""What the mutating webhook writes when concurrency is 0 or absent."""
DEFAULT_GROUP = "default"
"""Volumes without any recurring-job label belong to this group (see core.coverage)."""
SETTING_MAX_RETENTION = "recurring-job-max-retention"
DEFAULT_MAX_RETENTION = 100
"""Default of the setting above; it accepts 1..MAX_RETENTION_LIMIT."""
MAX_RETENTION_LIMIT = 250
RESERVED_LABEL_KEYS: tuple[str, ...] = ("KubernetesStatus", "ranchervm-base-image", "RecurringJob")
"""The server refuses the first two; ``RecurringJob`` is overwritten at run time, so the GUI refuses it."""


# ---------------------------------------------------------------------------------------
# Registries


@dataclass(frozen=True)
class ParameterChoice:
    value: str
    explanation: str


@dataclass(frozen=True)
class ParameterInfo:
    """One ``spec.parameters`` key: which tasks take it and which values are valid."""

    key: str
    description: str
    tasks: tuple[str, ...]
    kind: Literal["int", "choice"]
    default: str
    """The value that absence of the key amounts to."""
    minimum: int | None = None
    """For ``int``: the smallest value the GUI accepts."""
    choices: tuple[ParameterChoice, ...] = ()
    """For ``choice``: the valid values, the default first."""

    def check(self, value: str) -> str | None:
        """An error message for a bad value, or None."""
        if self.kind == "int":
            if not re.fullmatch(r"[0-9]+", value, re.ASCII):
                return f"{self.key}:{value} must be a whole number of {self.minimum or 0} or more"
            if self.minimum is not None and int(value) < self.minimum:
                return f"{self.key}:{value} must be {self.minimum} or more"
            return None
        valid = [choice.value for choice in self.choices]
        if value not in valid:
            return f"{self.key}:{value} is not a valid value: supported values: {', '.join(valid)}"
        return None


PARAMETERS: Mapping[str, ParameterInfo] = MappingProxyType(
    {
        "full-backup-interval": ParameterInfo(
            key="full-backup-interval",
            description=(
                "Make every Nth backup a full backup: a run is full when the job's execution "
                "count is a multiple of N. 0 or absent means always incremental, 1 always full."
            ),
            tasks=("backup", "backup-force-create"),
            kind="int",
            default="0",
            minimum=0,
        ),
        "volume-backup-policy": ParameterInfo(
            key="volume-backup-policy",
            description="Which volumes get a fresh backup as part of the system backup.",
            tasks=("system-backup",),
            kind="choice",
            default="if-not-present",
            choices=(
                ParameterChoice(
                    "if-not-present",
                    "Back up only volumes whose last backup is missing or older than their newest data "
                    "(the default).",
                ),
                ParameterChoice("always", "Take a new snapshot and backup of every volume."),
                ParameterChoice(
                    "disabled", "Back up no volumes; only the Longhorn resources go into the system backup."
                ),
            ),
        ),
    }
)


@dataclass(frozen=True)
class TaskInfo:
    """What the editor needs to know about one ``spec.task`` value."""

    name: str
    title: str
    description: str
    retain_min: int
    """Smallest retain the GUI accepts (the server raises smaller values to this)."""
    retain_fixed: int | None
    """Retain is always this value (the server forces it); None when the user picks it."""
    retain_counts: str
    """What retain counts, for the label next to the field; empty when it is fixed."""
    uses_groups: bool
    uses_labels: bool
    uses_concurrency: bool
    parameters: tuple[str, ...]
    """Keys of ``PARAMETERS`` valid for this task."""
    force_variant: str | None = None
    """The ``*-force-create`` task offered as a checkbox on this one."""
    force_of: str | None = None
    """For a ``*-force-create`` task, the task it is a variant of."""
    since: LonghornVersion | None = None
    """First Longhorn release with this task, when newer than the baseline."""
    caveat: str = ""
    """A sentence the editor shows whenever this task is chosen."""


TASKS: Mapping[str, TaskInfo] = MappingProxyType(
    {
        "snapshot": TaskInfo(
            name="snapshot",
            title="Snapshot",
            description=(
                "Takes a snapshot of each volume and keeps this job's newest snapshots; if removing "
                "old ones fails, no snapshot is taken."
            ),
            retain_min=1,
            retain_fixed=None,
            retain_counts="snapshots kept per volume",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=(),
            force_variant="snapshot-force-create",
        ),
        "snapshot-force-create": TaskInfo(
            name="snapshot-force-create",
            title="Snapshot (force create)",
            description="Like Snapshot, but takes the snapshot even when old snapshots cannot be removed.",
            retain_min=1,
            retain_fixed=None,
            retain_counts="snapshots kept per volume",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=(),
            force_of="snapshot",
        ),
        "snapshot-cleanup": TaskInfo(
            name="snapshot-cleanup",
            title="Snapshot Cleanup",
            description=(
                "Purges each volume's removed and system snapshots; it deletes no snapshots by count."
            ),
            retain_min=0,
            retain_fixed=0,
            retain_counts="",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=(),
        ),
        "snapshot-delete": TaskInfo(
            name="snapshot-delete",
            title="Snapshot Delete",
            description=(
                "Keeps the newest snapshots of each volume, whoever made them, and deletes the rest."
            ),
            retain_min=0,
            retain_fixed=None,
            retain_counts="snapshots kept per volume (0 deletes all)",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=(),
        ),
        "backup": TaskInfo(
            name="backup",
            title="Backup",
            description=(
                "Takes a snapshot and a backup of each volume, then keeps this job's newest backups."
            ),
            retain_min=1,
            retain_fixed=None,
            retain_counts="backups kept per volume",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=("full-backup-interval",),
            force_variant="backup-force-create",
        ),
        "backup-force-create": TaskInfo(
            name="backup-force-create",
            title="Backup (force create)",
            description="Like Backup, but backs up even when old snapshots cannot be removed first.",
            retain_min=1,
            retain_fixed=None,
            retain_counts="backups kept per volume",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=("full-backup-interval",),
            force_of="backup",
        ),
        "filesystem-trim": TaskInfo(
            name="filesystem-trim",
            title="Filesystem Trim",
            description="Trims the filesystem of each volume to give unused space back.",
            retain_min=0,
            retain_fixed=0,
            retain_counts="",
            uses_groups=True,
            uses_labels=True,
            uses_concurrency=True,
            parameters=(),
        ),
        "system-backup": TaskInfo(
            name="system-backup",
            title="System Backup",
            description=(
                "Creates one SystemBackup of the whole Longhorn system on the default backup target "
                "and keeps this job's newest ones."
            ),
            retain_min=1,
            retain_fixed=None,
            retain_counts="system backups kept (Ready or Error ones of this job)",
            uses_groups=False,
            uses_labels=False,
            uses_concurrency=False,
            parameters=("volume-backup-policy",),
            since=SYSTEM_BACKUP_JOB_SINCE,
            caveat=(
                "Each run needs the default backup target to be available, otherwise it fails. "
                "Retention counts only this job's Ready and Error system backups and removes failed "
                "ones first; deleting a system backup also deletes it from the backup store."
            ),
        ),
    }
)
"""The 8 task values, in the CRD's order of the Go constants."""


# ---------------------------------------------------------------------------------------
# The spec


@dataclass(frozen=True)
class FieldError:
    """One problem, at a manifest path such as ``spec.cron``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ManifestError(ValueError):
    """A manifest whose fields have the wrong types, so no RecurringJobSpec can be made."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class ClusterFacts:
    """What validation needs to know about the target cluster."""

    longhorn_version: LonghornVersion | None = None
    """None when unknown: then no version-dependent check is made."""
    max_retention: int = DEFAULT_MAX_RETENTION
    """Value of the setting ``recurring-job-max-retention``."""


@dataclass(frozen=True)
class RecurringJobSpec:
    """A RecurringJob as the user means it. ``name`` is metadata.name (= spec.name).

    ``labels`` and ``parameters`` are (key, value) pairs in the order given; use
    ``labels_dict`` / ``parameters_dict`` for mappings. Missing numbers are 0, as Go's
    zero values, so ``mutate_like_server`` can apply the server's defaults.
    """

    name: str
    task: str
    cron: str
    retain: int = 0
    concurrency: int = 0
    groups: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def parameters_dict(self) -> dict[str, str]:
        return dict(self.parameters)

    @property
    def info(self) -> TaskInfo | None:
        return TASKS.get(self.task)

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any]) -> RecurringJobSpec:
        """Read a RecurringJob object (dict from YAML/JSON or the API).

        Missing fields become empty values. The name is ``metadata.name``, or ``spec.name``
        when metadata has none. Raises ManifestError for fields of the wrong type (the API
        server's schema would refuse them too), e.g. a parameter value that is a number.
        """
        errors: list[FieldError] = []
        metadata = _mapping(obj.get("metadata"), "metadata", errors)
        spec = _mapping(obj.get("spec"), "spec", errors)
        name = _string(metadata.get("name"), "metadata.name", errors)
        if not name:
            name = _string(spec.get("name"), "spec.name", errors)
        result = cls(
            name=name,
            task=_string(spec.get("task"), "spec.task", errors),
            cron=_string(spec.get("cron"), "spec.cron", errors),
            retain=_integer(spec.get("retain"), "spec.retain", errors),
            concurrency=_integer(spec.get("concurrency"), "spec.concurrency", errors),
            groups=_string_list(spec.get("groups"), "spec.groups", errors),
            labels=_string_map(spec.get("labels"), "spec.labels", errors),
            parameters=_string_map(spec.get("parameters"), "spec.parameters", errors),
        )
        if errors:
            raise ManifestError(errors)
        return result

    def to_manifest(self, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
        """The object to send: every spec field present, as the mutator would leave it."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": namespace},
            "spec": {
                "name": self.name,
                "task": self.task,
                "cron": self.cron,
                "retain": self.retain,
                "concurrency": self.concurrency,
                "groups": list(self.groups),
                "labels": dict(self.labels),
                "parameters": dict(self.parameters),
            },
        }


def _mapping(value: object, path: str, errors: list[FieldError]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    errors.append(FieldError(path, f"must be a mapping, not {_kind(value)}"))
    return {}


def _kind(value: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _string(value: object, path: str, errors: list[FieldError]) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errors.append(FieldError(path, f"must be a string, not {_kind(value)}"))
    return ""


def _integer(value: object, path: str, errors: list[FieldError]) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    errors.append(FieldError(path, f"must be an integer, not {_kind(value)}"))
    return 0


def _string_list(value: object, path: str, errors: list[FieldError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        errors.append(FieldError(path, f"must be a list of strings, not {_kind(value)}"))
        return ()
    items: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            items.append(item)
        else:
            errors.append(FieldError(f"{path}[{index}]", f"must be a string, not {_kind(item)}"))
    return tuple(items)


def _string_map(value: object, path: str, errors: list[FieldError]) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"must be a mapping of strings, not {_kind(value)}"))
        return ()
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if not isinstance(key, str):
            errors.append(FieldError(f"{path}.{key}", f"key must be a string, not {_kind(key)}"))
        elif not isinstance(item, str):
            hint = " (quote it)" if isinstance(item, int | float) else ""
            errors.append(FieldError(f"{path}.{key}", f"must be a string, not {_kind(item)}{hint}"))
        else:
            pairs.append((key, item))
    return tuple(pairs)


# ---------------------------------------------------------------------------------------
# Server defaults


def auto_correct_name(name: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """longhorn-manager's ``util.AutoCorrectName``, applied to metadata.name on Create.

    Lowercases; a name longer than ``max_length`` is cut and gets ``-`` plus the first 8
    hex digits of the SHA-512 of the original name. (Go measures bytes; this measures
    characters, which is the same for the ASCII names Kubernetes allows.)
    """
    corrected = name.lower()
    if len(name) > max_length:
        suffix = "-" + hashlib.sha512(name.encode("utf-8")).hexdigest()[:8]
        corrected = corrected[: max_length - len(suffix)].rstrip("-") + suffix
    return corrected


def mutate_like_server(spec: RecurringJobSpec) -> RecurringJobSpec:
    """The defaults Longhorn's mutating webhook applies on Create and Update.

    * concurrency 0 becomes 10 (a negative value is left alone);
    * retain: ``snapshot-cleanup`` and ``filesystem-trim`` get 0 whatever was sent;
      ``snapshot-delete`` below 0 gets 0; every other task (unknown ones included) below 1
      gets 1;
    * nil groups/labels/parameters become empty: already the case in this model.

    The Create-only rename of metadata.name (``auto_correct_name``) is not applied: it only
    changes names that ``validate`` refuses anyway, and the server then still checks the
    original name as spec.name.
    """
    concurrency = DEFAULT_CONCURRENCY if spec.concurrency == 0 else spec.concurrency
    retain = spec.retain
    if spec.task in ("snapshot-cleanup", "filesystem-trim"):
        retain = 0
    elif spec.task == "snapshot-delete":
        retain = max(retain, 0)
    else:
        retain = max(retain, 1)
    if (concurrency, retain) == (spec.concurrency, spec.retain):
        return spec
    return replace(spec, concurrency=concurrency, retain=retain)


# ---------------------------------------------------------------------------------------
# Validation

_NAME_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_NAME_LABEL}(?:\.{_NAME_LABEL})*", re.ASCII)
_GROUP = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", re.ASCII)
_LABEL_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", re.ASCII)
_LABEL_NAME_MAX = 63
_DNS_SUBDOMAIN_MAX = 253


def retain_bounds(task: str, facts: ClusterFacts | None = None) -> tuple[int, int]:
    """(minimum, maximum) retain the GUI accepts for a task; (0, 0) when it is fixed at 0."""
    max_retention = (facts or ClusterFacts()).max_retention
    info = TASKS.get(task)
    if info is None:
        return (1, max_retention)
    if info.retain_fixed is not None:
        return (info.retain_fixed, info.retain_fixed)
    return (info.retain_min, max_retention)


def _check_name(name: str) -> str | None:
    if not name:
        return "required"
    if len(name) < 2:
        return "must be at least 2 characters"
    if len(name) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters (Longhorn's limit for job names)"
    if "_" in name:
        return "must not contain '_': Kubernetes object names cannot hold it"
    if not _DNS_SUBDOMAIN.fullmatch(name):
        return "must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    return None


def _check_group(group: str) -> str | None:
    if len(group) > _LABEL_NAME_MAX:
        return f"group {group!r} is longer than {_LABEL_NAME_MAX} characters (it becomes a label key)"
    if not _GROUP.fullmatch(group) or not group[-1].isalnum():
        return (
            f"invalid group name {group!r}: use 2-{_LABEL_NAME_MAX} letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _check_label_key(key: str) -> str | None:
    if key in RESERVED_LABEL_KEYS:
        if key == "RecurringJob":
            return (
                "RecurringJob is reserved: Longhorn sets RecurringJob=<job name> on everything the job makes"
            )
        return f"{key} is a reserved label key"
    parts = key.split("/")
    if len(parts) > 2:
        return f"invalid label key {key!r}: at most one '/' (an optional DNS prefix, then a name)"
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return f"invalid label key {key!r}: the prefix before '/' must not be empty"
        if len(prefix) > _DNS_SUBDOMAIN_MAX or not _DNS_SUBDOMAIN.fullmatch(prefix):
            return (
                f"invalid label key {key!r}: the prefix must be a lowercase DNS subdomain "
                f"of at most {_DNS_SUBDOMAIN_MAX} characters"
            )
    label_name = parts[-1]
    if not label_name:
        return f"invalid label key {key!r}: the name part must not be empty"
    if len(label_name) > _LABEL_NAME_MAX:
        return f"invalid label key {key!r}: the name part must be at most {_LABEL_NAME_MAX} characters"
    if not _LABEL_NAME.fullmatch(label_name):
        return (
            f"invalid label key {key!r}: the name part must be letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _task_supported(info: TaskInfo, version: LonghornVersion | None) -> bool:
    """Whether a known cluster version has the task; an unknown version is not held against it."""
    if version is None or info.since is None:
        return True
    if info.name == "system-backup":
        return Capabilities.for_version(version).system_backup_job
    return version.core >= info.since.core


def validate(spec: RecurringJobSpec, facts: ClusterFacts | None = None) -> list[FieldError]:
    """Every problem with the spec; an empty list means the server will accept it as is.

    Checks the spec as given: to check a manifest the way Longhorn stores it (concurrency
    0 meaning 10, retain raised to the task's minimum), pass ``mutate_like_server(spec)``.
    Version checks are made only when ``facts.longhorn_version`` is known.
    """
    facts = facts or ClusterFacts()
    errors: list[FieldError] = []

    def error(path: str, message: str) -> None:
        errors.append(FieldError(path, message))

    name_problem = _check_name(spec.name)
    if name_problem:
        error("metadata.name", name_problem)

    info = TASKS.get(spec.task)
    if not spec.task:
        error("spec.task", "required")
    elif info is None:
        error("spec.task", f"recurring job task {spec.task} is not valid: use one of {', '.join(TASKS)}")
    elif info.since is not None and not _task_supported(info, facts.longhorn_version):
        error(
            "spec.task",
            f"the {info.name} task needs Longhorn {info.since} or later; "
            f"this cluster runs {facts.longhorn_version}",
        )

    if not spec.cron:
        error("spec.cron", "required")
    else:
        try:
            schedule = cron.parse(spec.cron)
        except cron.CronError as exc:
            error("spec.cron", str(exc))
        else:
            for warning in schedule.warnings:
                error("spec.cron", warning)

    low, high = retain_bounds(spec.task, facts)
    if spec.retain > high and not (info and info.retain_fixed is not None):
        error(
            "spec.retain",
            f"retain value should be less than or equal to {high} (setting {SETTING_MAX_RETENTION})",
        )
    elif info is not None and info.retain_fixed is not None and spec.retain != info.retain_fixed:
        error("spec.retain", f"must be {info.retain_fixed} for task {info.name}, which keeps nothing")
    elif spec.retain < low:
        error("spec.retain", f"must be at least {low} for task {spec.task}")

    if (info is None or info.uses_concurrency) and spec.concurrency < 1:
        error("spec.concurrency", "must be at least 1")

    if info is not None and not info.uses_groups:
        if spec.groups:
            error("spec.groups", f"the {info.name} task does not use groups; leave it empty")
    else:
        seen_groups: set[str] = set()
        for index, group in enumerate(spec.groups):
            problem = _check_group(group)
            if problem is None and group in seen_groups:
                problem = f"duplicate group {group!r}"
            seen_groups.add(group)
            if problem:
                error(f"spec.groups[{index}]", problem)

    if info is not None and not info.uses_labels:
        if spec.labels:
            error("spec.labels", f"the {info.name} task does not use labels; leave it empty")
    else:
        seen_keys: set[str] = set()
        for key, value in spec.labels:
            problem = _check_label_key(key)
            if problem is None and key in seen_keys:
                problem = f"duplicate label key {key!r}"
            if problem is None and value == "":
                problem = f"value for label with key {key} cannot be empty"
            seen_keys.add(key)
            if problem:
                error(f"spec.labels.{key}", problem)

    if info is not None:
        seen_params: set[str] = set()
        for key, value in spec.parameters:
            path = f"spec.parameters.{key}"
            if key not in info.parameters:
                valid = f" (valid: {', '.join(info.parameters)})" if info.parameters else ""
                error(path, f"{key}:{value} is not a valid parameter for task {info.name}{valid}")
            elif key in seen_params:
                error(path, f"duplicate parameter {key!r}")
            else:
                problem = PARAMETERS[key].check(value)
                if problem:
                    error(path, problem)
            seen_params.add(key)
    return errors


def warnings_for(spec: RecurringJobSpec) -> list[FieldError]:
    """Things that are valid but deserve a sentence next to the field (see also TaskInfo.caveat)."""
    notes: list[FieldError] = []
    if spec.task == "snapshot-delete" and spec.retain == 0:
        notes.append(FieldError("spec.retain", "0 deletes every snapshot of each volume the job covers"))
    if (
        spec.task in ("backup", "backup-force-create")
        and spec.parameters_dict.get("full-backup-interval") == "1"
    ):
        notes.append(FieldError("spec.parameters.full-backup-interval", "1 makes every backup a full backup"))
    return notes
