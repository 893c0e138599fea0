"""Longhorn's admission rules (longhorn-manager v1.12.1), as the demo's webhook applies them.

Each rule is written from the research notes in ``shared/longhorn/`` and from the wording of
longhorn-manager's validators and mutators: the messages, HTTP codes and reasons are Longhorn's, so
a refusal seen through the demo reads exactly like one seen on a real cluster. The functions here
are pure: they read cluster state only through a :class:`ClusterReader`, which the webhook server
backs with the ``kubernetes`` client.

Two deliberate differences from longhorn-manager, both invisible in the stored object:

- Patches use ``add`` where Longhorn sends ``replace`` on keys that may be missing. kube-apiserver's
  JSON-patch library tolerates that ``replace``; a strict RFC 6902 patcher does not, and ``add`` gives
  the same result on both.
- Go iterates maps in random order, so when several labels are invalid Longhorn names a random one;
  the demo names the first in sorted order.

Not simulated: the webhooks of the other Longhorn kinds (Setting, Volume, Node, ...); the BackupTarget
validator's AWS IAM-role annotation handling (it edits pods and secrets); and version differences other
than the ``system-backup`` task (since v1.9.0): every version gets v1.12.1's messages and mutations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from lhdesk.core.versions import Capabilities

LONGHORN_GROUP = "longhorn.io"
LONGHORN_VERSION = "v1beta2"
LONGHORN_FINALIZER = "longhorn.io"
DEFAULT_BACKUP_TARGET = "default"
NAME_MAXIMUM_LENGTH = 40
DEFAULT_RECURRING_JOB_CONCURRENCY = 10
SETTING_MAX_RETENTION = "recurring-job-max-retention"
SETTING_MAX_RETENTION_DEFAULT = "100"
LABEL_SYSTEM_RESTORE = "longhorn.io/system-restore"
SYSTEM_RESTORE_IN_PROGRESS = "InProgress"
ANNOTATION_DELETE_BACKUP_TARGET = "longhorn.io/delete-backup-target-from-longhorn"

TASKS_V1_12: tuple[str, ...] = (
    "snapshot",
    "snapshot-force-create",
    "snapshot-cleanup",
    "snapshot-delete",
    "backup",
    "backup-force-create",
    "filesystem-trim",
    "system-backup",
)
VOLUME_BACKUP_POLICIES = ("always", "if-not-present", "disabled")
RESERVED_SNAPSHOT_LABELS = ("KubernetesStatus", "ranchervm-base-image")
CREDENTIAL_KEYS = (
    "iam.amazonaws.com/role",
    "AWS_IAM_ROLE_ARN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINTS",
    "AWS_CERT",
    "CIFS_USERNAME",
    "CIFS_PASSWORD",
    "AZBLOB_ACCOUNT_NAME",
    "AZBLOB_ACCOUNT_KEY",
    "AZBLOB_ENDPOINT",
    "AZBLOB_CERT",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "VIRTUAL_HOSTED_STYLE",
)
STORES_REQUIRING_CREDENTIAL = ("s3", "cifs", "azblob")

_VALID_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]+")
_VALID_STRING = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(_LABEL_KEY_FMT)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character"
)


# --------------------------------------------------------------------------------------------------
# Errors, shaped like longhorn-manager's webhook/error package.


class AdmissionDenied(Exception):
    """A refusal: becomes ``response.allowed=false`` with ``result`` as a metav1.Status."""

    def __init__(self, message: str, code: int, reason: str, *, cause: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.cause = cause

    def as_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.cause:
            # Longhorn's NewInvalidError carries one FieldValueInvalid cause with an empty field,
            # which metav1.StatusCause's omitempty drops from the JSON.
            status["details"] = {"causes": [{"reason": "FieldValueInvalid", "message": self.message}]}
        return status


def invalid(message: str) -> AdmissionDenied:
    """422 Invalid (``werror.NewInvalidError``)."""
    return AdmissionDenied(message, 422, "Invalid", cause=True)


def bad_request(message: str) -> AdmissionDenied:
    """400 BadRequest (``werror.NewBadRequest``)."""
    return AdmissionDenied(message, 400, "BadRequest")


def internal(message: str) -> AdmissionDenied:
    """500 InternalError: what Longhorn answers for any error that is not an AdmitError."""
    return AdmissionDenied(message, 500, "InternalError")


class ClusterError(Exception):
    """Reading cluster state failed for a reason other than "not found"."""


# --------------------------------------------------------------------------------------------------
# Cluster state, as the validators need it.


class ClusterReader(Protocol):
    """What the rules read from the cluster. Methods return None for "not found"."""

    def get_setting(self, name: str) -> Mapping[str, Any] | None: ...

    def get_backup_target(self, name: str) -> Mapping[str, Any] | None: ...

    def list_backup_targets(self) -> list[Mapping[str, Any]]: ...

    def get_secret_data(self, name: str) -> Mapping[str, bytes] | None: ...

    def list_volumes(self) -> list[Mapping[str, Any]]: ...

    def list_system_restores(self, label_selector: str) -> list[Mapping[str, Any]]: ...

    def get_system_backup(self, name: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of an AdmissionReview v1 request the rules use."""

    uid: str
    operation: str
    group: str
    version: str
    resource: str
    sub_resource: str
    name: str
    namespace: str
    obj: Mapping[str, Any] | None
    old_obj: Mapping[str, Any] | None
    dry_run: bool = False

    @classmethod
    def from_review(cls, review: Mapping[str, Any]) -> AdmissionRequest:
        request = review.get("request")
        if not isinstance(request, Mapping):
            raise ValueError("AdmissionReview has no request")
        resource = request.get("resource") or {}
        return cls(
            uid=str(request.get("uid", "")),
            operation=str(request.get("operation", "")),
            group=str(resource.get("group", "")),
            version=str(resource.get("version", "")),
            resource=str(resource.get("resource", "")),
            sub_resource=str(request.get("subResource", "") or ""),
            name=str(request.get("name", "") or ""),
            namespace=str(request.get("namespace", "") or ""),
            obj=request.get("object") if isinstance(request.get("object"), Mapping) else None,
            old_obj=request.get("oldObject") if isinstance(request.get("oldObject"), Mapping) else None,
            dry_run=bool(request.get("dryRun", False)),
        )


PatchOp = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Go-compatible helpers (formatting and parsing as longhorn-manager's Go code does them).


class DecodeError(Exception):
    """The object does not decode into Longhorn's Go type (Longhorn answers 500)."""


def _go_string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}.{key} of type string"
        )
    return value


def _go_int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}.{key} of type int"
        )
    if isinstance(value, float):
        if not value.is_integer():
            raise DecodeError(
                f"json: cannot unmarshal number {value} into Go struct field {where}.{key} of type int"
            )
        return int(value)
    return int(value)


def _go_string_list(obj: Mapping[str, Any], key: str, where: str) -> list[str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}.{key} of type []string"
        )
    return list(value)


def _go_string_map(obj: Mapping[str, Any], key: str, where: str) -> dict[str, str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}.{key} "
            "of type map[string]string"
        )
    return {str(k): str(v) for k, v in value.items()}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


def go_quote(text: str) -> str:
    """``strconv.Quote`` for the printable-ASCII case, escaping the rest like Go does."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


class GoNumError(ValueError):
    """A ``strconv.NumError``: its str() is Go's error text."""


def go_parse_int(text: str, func: str = "Atoi") -> int:
    """``strconv.Atoi`` / ``strconv.ParseInt(s, 10, 64)``: sign allowed, no spaces, no underscores."""
    if not _DECIMAL.fullmatch(text) or not text.isascii():
        raise GoNumError(f"strconv.{func}: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise GoNumError(f"strconv.{func}: parsing {go_quote(text)}: value out of range")
    return value


def _go_slice(values: Sequence[str] | None) -> str:
    return "[" + " ".join(values or ()) + "]"


def _go_map(values: Mapping[str, str] | None) -> str:
    items = values or {}
    return "map[" + " ".join(f"{k}:{items[k]}" for k in sorted(items)) + "]"


# --------------------------------------------------------------------------------------------------
# Kubernetes validation helpers with apimachinery's wording.


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return (
        msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"
    )


def is_qualified_name(value: str) -> list[str]:
    """``validation.IsQualifiedName`` (apimachinery's label-key rule), error strings in its words."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            sub: list[str] = []
            if len(prefix) > 253:
                sub.append("must be no more than 253 bytes")
            if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
                sub.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
            errs.extend("prefix part " + m for m in sub)
    else:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _LABEL_KEY.fullmatch(name):
        errs.append(
            "name part " + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def validate_name(name: str) -> bool:
    """``util.ValidateName``: lowercase, at least 2 characters, alphanumeric first."""
    return _VALID_NAME.fullmatch(name) is not None


def validate_string(text: str) -> bool:
    """``util.ValidateString``: like a name but mixed case is allowed."""
    return _VALID_STRING.fullmatch(text) is not None


def auto_correct_name(name: str, max_length: int = NAME_MAXIMUM_LENGTH) -> str:
    """``util.AutoCorrectName``: lowercase; over-long names are cut and given a SHA-512 suffix."""
    new_name = name.lower()
    if len(name) > max_length:
        suffix = "-" + hashlib.sha512(name.encode()).hexdigest()[:8]
        new_name = new_name[: max_length - len(suffix)].rstrip("-") + suffix
    return new_name


# --------------------------------------------------------------------------------------------------
# Versions.


def recurring_job_tasks(longhorn_version: str) -> tuple[str, ...]:
    """The RecurringJob task values the given Longhorn version knows (system-backup since v1.9.0)."""
    if Capabilities.for_version(longhorn_version).system_backup_job:
        return TASKS_V1_12
    return tuple(t for t in TASKS_V1_12 if t != "system-backup")


# --------------------------------------------------------------------------------------------------
# RecurringJob


@dataclass
class RecurringJobSpec:
    """``longhorn.RecurringJobSpec`` as Go decodes it (nil vs empty kept apart)."""

    name: str = ""
    groups: list[str] | None = None
    task: str = ""
    cron: str = ""
    retain: int = 0
    concurrency: int = 0
    labels: dict[str, str] | None = None
    parameters: dict[str, str] | None = None

    @classmethod
    def decode(cls, obj: Mapping[str, Any]) -> RecurringJobSpec:
        spec = obj.get("spec")
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise DecodeError(
                f"json: cannot unmarshal {_json_kind(spec)} into Go struct field RecurringJob.spec"
            )
        where = "RecurringJob.spec"
        return cls(
            name=_go_string(spec, "name", where),
            groups=_go_string_list(spec, "groups", where),
            task=_go_string(spec, "task", where),
            cron=_go_string(spec, "cron", where),
            retain=_go_int(spec, "retain", where),
            concurrency=_go_int(spec, "concurrency", where),
            labels=_go_string_map(spec, "labels", where),
            parameters=_go_string_map(spec, "parameters", where),
        )

    def go_repr(self) -> str:
        """Go's ``%+v`` of the struct, as it appears in "invalid job {...}"."""
        return (
            f"{{Name:{self.name} Groups:{_go_slice(self.groups)} Task:{self.task} Cron:{self.cron} "
            f"Retain:{self.retain} Concurrency:{self.concurrency} Labels:{_go_map(self.labels)} "
            f"Parameters:{_go_map(self.parameters)}}}"
        )


CronCheck = Callable[[str], str | None]
"""Returns robfig/cron v1 ``ParseStandard``'s error text for an expression, or None when it parses."""


def _max_retention(reader: ClusterReader) -> int:
    """``ds.GetSettingAsInt(recurring-job-max-retention)``: default 100 when the Setting is absent."""
    try:
        setting = reader.get_setting(SETTING_MAX_RETENTION)
    except ClusterError as exc:
        raise invalid(str(exc)) from exc
    value = SETTING_MAX_RETENTION_DEFAULT if setting is None else str(setting.get("value", ""))
    try:
        return go_parse_int(value, "ParseInt")
    except GoNumError as exc:
        raise invalid(str(exc)) from exc


def _validate_backup_parameter(key: str, value: str) -> str | None:
    if key == "full-backup-interval":
        try:
            go_parse_int(value)
        except GoNumError as exc:
            return f"{key}:{value} is not number: {exc}"
        return None
    if key == "volume-backup-policy":
        if value not in VOLUME_BACKUP_POLICIES:
            return (
                f"{key}:{value} is not a valid value: supported values: [{' '.join(VOLUME_BACKUP_POLICIES)}]"
            )
        return None
    return f"{key}:{value} is not a valid parameter"


def validate_recurring_job_spec(
    spec: RecurringJobSpec, tasks: Sequence[str], cron_check: CronCheck
) -> str | None:
    """``datastore.ValidateRecurringJob``: the first problem, in Longhorn's words, or None."""
    if not spec.cron or not spec.task or not spec.name:
        return f"invalid job {spec.go_repr()}"
    if spec.task not in tasks:
        return f"recurring job task {spec.task} is not valid"
    cron_error = cron_check(spec.cron)
    if cron_error is not None:
        return f"invalid cron format({spec.cron}): {cron_error}"
    if len(spec.name.encode()) > NAME_MAXIMUM_LENGTH:
        return f"job name {spec.name} must be {NAME_MAXIMUM_LENGTH} characters or less"
    for group in spec.groups or ():
        if not validate_string(group):
            return f"invalid group name {group}"
    if spec.labels is not None:
        for key in sorted(spec.labels):
            errs = is_qualified_name(key)
            if errs:
                return (
                    f"at least one error encountered while validating backup label with key {key}: {errs[0]}"
                )
            if spec.labels[key] == "":
                return f"value for label with key {key} cannot be empty"
        for key in RESERVED_SNAPSHOT_LABELS:
            if key in spec.labels:
                return f"specified snapshot backup labels contain reserved keyword {key}"
    if spec.parameters is not None and spec.task in ("backup", "backup-force-create"):
        for key in sorted(spec.parameters):
            problem = _validate_backup_parameter(key, spec.parameters[key])
            if problem is not None:
                return f"failed to validate recurring job backup task parameters: {problem}"
    return None


def validate_recurring_job(
    request: AdmissionRequest, reader: ClusterReader, tasks: Sequence[str], cron_check: CronCheck
) -> None:
    """The RecurringJob validator (Create and Update)."""
    obj = request.obj or {}
    try:
        spec = RecurringJobSpec.decode(obj)
    except DecodeError as exc:
        raise internal(str(exc)) from exc
    if request.operation == "CREATE":
        name = str((obj.get("metadata") or {}).get("name", "") or "")
        if not validate_name(name):
            raise invalid(f"invalid name {name}")
    max_retain = _max_retention(reader)
    if spec.retain > max_retain:
        raise invalid(f"retain value should be less than or equal to {max_retain}")
    problem = validate_recurring_job_spec(spec, tasks, cron_check)
    if problem is not None:
        raise invalid(problem)
    # ValidateRecurringJobs also sums retain over the jobs it is given; the webhook gives it one.
    if spec.retain > max_retain:
        raise invalid(f"job can't retain more than {max_retain} snapshots")


def mutate_recurring_job(request: AdmissionRequest) -> list[PatchOp]:
    """The RecurringJob mutator: name correction (Create), defaults, retain corrections."""
    obj = request.obj or {}
    try:
        spec = RecurringJobSpec.decode(obj)
    except DecodeError as exc:
        raise internal(str(exc)) from exc
    ops: list[PatchOp] = []
    metadata_name = str((obj.get("metadata") or {}).get("name", "") or "")
    if not isinstance(obj.get("spec"), Mapping):
        ops.append({"op": "add", "path": "/spec", "value": {}})
    if request.operation == "CREATE":
        corrected = auto_correct_name(metadata_name)
        if corrected != metadata_name:
            ops.append({"op": "add", "path": "/metadata/name", "value": corrected})
    if spec.name == "":
        ops.append({"op": "add", "path": "/spec/name", "value": metadata_name})
    if spec.groups is None:
        ops.append({"op": "add", "path": "/spec/groups", "value": []})
    if spec.labels is None:
        ops.append({"op": "add", "path": "/spec/labels", "value": {}})
    if spec.parameters is None:
        ops.append({"op": "add", "path": "/spec/parameters", "value": {}})
    if spec.concurrency == 0:
        ops.append({"op": "add", "path": "/spec/concurrency", "value": DEFAULT_RECURRING_JOB_CONCURRENCY})
    if spec.task in ("snapshot-cleanup", "filesystem-trim"):
        if spec.retain != 0:
            ops.append({"op": "add", "path": "/spec/retain", "value": 0})
    elif spec.task == "snapshot-delete":
        if spec.retain < 0:
            ops.append({"op": "add", "path": "/spec/retain", "value": 0})
    elif spec.retain < 1:
        ops.append({"op": "add", "path": "/spec/retain", "value": 1})
    return ops


# --------------------------------------------------------------------------------------------------
# Finalizers and owner references.


def _finalizer_op(obj: Mapping[str, Any]) -> PatchOp | None:
    """``common.GetLonghornFinalizerPatchOpIfNeeded``: not on an object that is being deleted."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return None
    finalizers = [str(f) for f in (metadata.get("finalizers") or [])]
    if LONGHORN_FINALIZER not in finalizers:
        finalizers.append(LONGHORN_FINALIZER)
    # Longhorn always emits the op, even when the list does not change.
    return {"op": "add", "path": "/metadata/finalizers", "value": finalizers}


def _get_default_backup_target(reader: ClusterReader) -> Mapping[str, Any] | None:
    try:
        return reader.get_backup_target(DEFAULT_BACKUP_TARGET)
    except ClusterError as exc:
        raise bad_request(str(exc)) from exc


def _not_found(resource: str, name: str) -> str:
    return f'{resource}.{LONGHORN_GROUP} "{name}" not found'


# --------------------------------------------------------------------------------------------------
# SystemBackup


def mutate_system_backup(request: AdmissionRequest, reader: ClusterReader) -> list[PatchOp]:
    """The SystemBackup mutator: finalizer, policy default, ownerReference to BackupTarget default."""
    obj = request.obj or {}
    ops: list[PatchOp] = []
    finalizer = _finalizer_op(obj)
    if finalizer is not None:
        ops.append(finalizer)
    spec = obj.get("spec")
    policy = spec.get("volumeBackupPolicy") if isinstance(spec, Mapping) else None
    if not policy:
        if not isinstance(spec, Mapping):
            ops.append({"op": "add", "path": "/spec", "value": {}})
        ops.append({"op": "add", "path": "/spec/volumeBackupPolicy", "value": "if-not-present"})
    if request.operation == "CREATE" and not (obj.get("metadata") or {}).get("ownerReferences"):
        try:
            target = reader.get_backup_target(DEFAULT_BACKUP_TARGET)
        except ClusterError as exc:
            raise internal(str(exc)) from exc
        if target is None:
            raise internal(_not_found("backuptarget", DEFAULT_BACKUP_TARGET))
        meta = target.get("metadata") or {}
        owner = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "BackupTarget",
            "name": str(meta.get("name", DEFAULT_BACKUP_TARGET)),
            "uid": str(meta.get("uid", "")),
        }
        ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": [owner]})
    return ops


def validate_system_backup(request: AdmissionRequest, reader: ClusterReader) -> None:
    """The SystemBackup validator (Create): BackupTarget default must be usable."""
    target = _get_default_backup_target(reader)
    if target is None:
        raise bad_request(_not_found("backuptarget", DEFAULT_BACKUP_TARGET))
    spec = target.get("spec") or {}
    status = target.get("status") or {}
    url = str(spec.get("backupTargetURL", "") or "")
    if url == "" or not status.get("available"):
        raise invalid(f"backup target {DEFAULT_BACKUP_TARGET} is not available")
    scheme = urlsplit(url).scheme.lower()
    if scheme in STORES_REQUIRING_CREDENTIAL and not spec.get("credentialSecret"):
        raise bad_request(f"cannot access {scheme} without credential secret")


# --------------------------------------------------------------------------------------------------
# SystemRestore


def validate_system_restore(request: AdmissionRequest, reader: ClusterReader) -> None:
    """The SystemRestore validator (Create): volumes detached, one restore at a time, backup exists."""
    obj = request.obj or {}
    try:
        volumes = reader.list_volumes()
    except ClusterError as exc:
        raise invalid(f"failed to list volumes: {exc}") from exc
    for volume in volumes:
        if (volume.get("status") or {}).get("state") != "detached":
            raise invalid("all volumes need to be detached before creating SystemRestore")
    try:
        running = reader.list_system_restores(f"{LABEL_SYSTEM_RESTORE}={SYSTEM_RESTORE_IN_PROGRESS}")
    except ClusterError as exc:
        raise invalid(str(exc)) from exc
    if running:
        raise invalid(f"found {len(running)} SystemRestore in progress")
    spec = obj.get("spec") or {}
    backup_name = str(spec.get("systemBackup", "") or "") if isinstance(spec, Mapping) else ""
    try:
        backup = reader.get_system_backup(backup_name) if backup_name else None
    except ClusterError as exc:
        raise invalid(str(exc)) from exc
    if backup is None:
        raise invalid(_not_found("systembackup", backup_name))


# --------------------------------------------------------------------------------------------------
# BackupTarget


def _backup_target_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("azblob", "s3"):
        return url.lower()
    if parts.scheme in ("cifs", "nfs"):
        return (parts.netloc + parts.path).rstrip("/").lower()
    raise invalid(f"url {url} with the unsupported protocol {parts.scheme}")


def _validate_backup_target_url(reader: ClusterReader, name: str, url: str) -> None:
    """``ds.ValidateBackupTargetURL``: no ``$``/``,`` in the path, not used by another target."""
    if url == "":
        return
    parts = urlsplit(url)
    forbidden = "," if parts.scheme == "cifs" else "$,"
    shown = urlunsplit(parts)  # Go's url.String(): the scheme comes back lower-cased
    found = [ch for ch in parts.path if ch in forbidden]
    if found:
        raise invalid(f"url {shown}, contains {' or '.join(found)}")
    new_path = _backup_target_path(url)
    try:
        targets = reader.list_backup_targets()
    except ClusterError as exc:
        raise invalid(str(exc)) from exc
    for target in targets:
        other_url = str((target.get("spec") or {}).get("backupTargetURL", "") or "")
        other_name = str((target.get("metadata") or {}).get("name", ""))
        if urlsplit(other_url).scheme != parts.scheme:
            continue
        if _backup_target_path(other_url) == new_path and other_name != name:
            raise invalid(f"url {shown} is the same to backup target {other_name}")


def _validate_credential_secret(reader: ClusterReader, secret_name: str) -> None:
    """Credential values must not start or end with a space or a newline (longhorn/longhorn#7159)."""
    if not secret_name:
        return
    try:
        data = reader.get_secret_data(secret_name)
    except ClusterError as exc:
        raise invalid(
            f"failed to get the secret before modifying backup target credential secret: {exc}"
        ) from exc
    if data is None:
        return
    problems: list[str] = []
    for key in CREDENTIAL_KEYS:
        if key not in data:
            continue
        text = data[key].decode("utf-8", errors="replace")
        if text.strip() == text:
            continue
        if text.startswith(" "):
            problems.append(f"invalid leading whitespace in {key}")
        if text.endswith(" "):
            problems.append(f"invalid trailing whitespace in {key}")
        if text.startswith("\n"):
            problems.append(f"invalid leading newline in {key}")
        if text.endswith("\n"):
            problems.append(f"invalid trailing newline in {key}")
    if problems:
        raise invalid(f"credential validation error(s): {'; '.join(problems)}")


def _validate_no_dr_volumes(reader: ClusterReader) -> None:
    try:
        volumes = reader.list_volumes()
    except ClusterError as exc:
        raise invalid(f"failed to list standby volume when modifying BackupTarget: {exc}") from exc
    standby = sorted(
        str((v.get("metadata") or {}).get("name", ""))
        for v in volumes
        if (v.get("spec") or {}).get("Standby")
    )
    if standby:
        names = " ".join(f"{n}:{{}}" for n in standby)
        raise invalid(f"cannot modify BackupTarget since there are existing standby volumes: map[{names}]")


def validate_backup_target(request: AdmissionRequest, reader: ClusterReader) -> None:
    """The BackupTarget validator: Create, Update and Delete."""
    if request.operation == "DELETE":
        old = request.old_obj or {}
        meta = old.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        if (
            meta.get("name", request.name) == DEFAULT_BACKUP_TARGET
            and ANNOTATION_DELETE_BACKUP_TARGET not in annotations
        ):
            raise invalid("deleting default backup target is not allowed")
        _validate_no_dr_volumes(reader)
        return
    obj = request.obj or {}
    name = str((obj.get("metadata") or {}).get("name", "") or "")
    spec = obj.get("spec") or {}
    url = str(spec.get("backupTargetURL", "") or "")
    secret = str(spec.get("credentialSecret", "") or "")
    if request.operation == "CREATE":
        if not validate_name(name):
            raise invalid(f"invalid name {name}")
        _validate_backup_target_url(reader, name, url)
        _validate_credential_secret(reader, secret)
        return
    old_spec = (request.old_obj or {}).get("spec") or {}
    url_changed = url != str(old_spec.get("backupTargetURL", "") or "")
    secret_changed = secret != str(old_spec.get("credentialSecret", "") or "")
    if url_changed:
        _validate_backup_target_url(reader, name, url)
    if secret_changed:
        _validate_credential_secret(reader, secret)
    if url_changed or secret_changed:
        _validate_no_dr_volumes(reader)


def _nfs_soft_mount_defaults(url: str) -> str | None:
    """The mutator's NFS rule: when ``nfsOptions`` is given, drop ``hard``, add soft/timeo/retry."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "nfs":
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    if "nfsOptions" not in query:
        return None
    opts = [o for v in query["nfsOptions"] for o in v.split(",") if o]
    if not opts:
        del query["nfsOptions"]
    else:
        merged = [o for o in opts if o != "hard"]
        if "soft" not in merged:
            merged.append("soft")
        if not any(o.startswith("timeo=") for o in merged):
            merged.append("timeo=300")
        if not any(o.startswith("retry=") for o in merged):
            merged.append("retry=2")
        if merged == opts:
            return None
        query["nfsOptions"] = [",".join(merged)]
    encoded = urlencode(sorted((k, v) for k, vs in query.items() for v in vs))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, encoded, parts.fragment))


def mutate_backup_target(request: AdmissionRequest) -> list[PatchOp]:
    """The BackupTarget mutator: finalizer and NFS soft-mount options."""
    obj = request.obj or {}
    ops: list[PatchOp] = []
    finalizer = _finalizer_op(obj)
    if finalizer is not None:
        ops.append(finalizer)
    spec = obj.get("spec") or {}
    new_url = _nfs_soft_mount_defaults(str(spec.get("backupTargetURL", "") or ""))
    if new_url is not None:
        ops.append({"op": "add", "path": "/spec/backupTargetURL", "value": new_url})
    return ops


# --------------------------------------------------------------------------------------------------
# Dispatch and webhook registration.


@dataclass(frozen=True)
class Rule:
    """One resource the webhook registers, with the operations per admission type."""

    resource: str
    validate: tuple[str, ...]
    mutate: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule("recurringjobs", validate=("CREATE", "UPDATE"), mutate=("CREATE", "UPDATE")),
    Rule("systembackups", validate=("CREATE",), mutate=("CREATE", "UPDATE")),
    Rule("systemrestores", validate=("CREATE",), mutate=()),
    Rule("backuptargets", validate=("CREATE", "UPDATE", "DELETE"), mutate=("CREATE", "UPDATE")),
)


def webhook_rules(kind: str) -> list[dict[str, Any]]:
    """``rules`` for the Validating (``kind="validate"``) or Mutating (``"mutate"``) configuration."""
    out: list[dict[str, Any]] = []
    for rule in RULES:
        ops = rule.validate if kind == "validate" else rule.mutate
        if not ops:
            continue
        out.append(
            {
                "operations": list(ops),
                "apiGroups": [LONGHORN_GROUP],
                "apiVersions": [LONGHORN_VERSION],
                "resources": [rule.resource],
                "scope": "Namespaced",
            }
        )
    return out


@dataclass
class Admission:
    """Longhorn's admission logic for one Longhorn version, reading state through ``reader``."""

    reader: ClusterReader
    cron_check: CronCheck
    longhorn_version: str = "v1.12.1"
    tasks: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = recurring_job_tasks(self.longhorn_version)

    def _applies(self, request: AdmissionRequest, kind: str) -> Rule | None:
        if request.group != LONGHORN_GROUP or request.sub_resource:
            return None
        for rule in RULES:
            if rule.resource == request.resource:
                ops = rule.validate if kind == "validate" else rule.mutate
                return rule if request.operation in ops else None
        return None

    def validate(self, request: AdmissionRequest) -> None:
        """Raise AdmissionDenied when Longhorn's validators refuse the request."""
        rule = self._applies(request, "validate")
        if rule is None:
            return
        if rule.resource == "recurringjobs":
            validate_recurring_job(request, self.reader, self.tasks, self.cron_check)
        elif rule.resource == "systembackups":
            validate_system_backup(request, self.reader)
        elif rule.resource == "systemrestores":
            validate_system_restore(request, self.reader)
        elif rule.resource == "backuptargets":
            validate_backup_target(request, self.reader)

    def mutate(self, request: AdmissionRequest) -> list[PatchOp]:
        """The JSON patch Longhorn's mutators return (may be empty); raises AdmissionDenied."""
        rule = self._applies(request, "mutate")
        if rule is None:
            return []
        if rule.resource == "recurringjobs":
            return mutate_recurring_job(request)
        if rule.resource == "systembackups":
            return mutate_system_backup(request, self.reader)
        if rule.resource == "backuptargets":
            return mutate_backup_target(request)
        return []


def review_response(
    uid: str, ops: Iterable[PatchOp] | None, denied: AdmissionDenied | None
) -> dict[str, Any]:
    """An AdmissionReview v1 response body."""
    response: dict[str, Any] = {"uid": uid, "allowed": denied is None}
    if denied is not None:
        response["status"] = denied.as_status()
    else:
        patch = list(ops or ())
        if patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode("ascii")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
