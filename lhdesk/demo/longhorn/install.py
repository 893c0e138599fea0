"""Install the simulated Longhorn into a cluster, through the Kubernetes API only.

What it creates, in order: the ``longhorn-system`` namespace; Longhorn's CRDs (loaded from the
YAML data files shipped in :mod:`lhdesk.demo.longhorn`, and waited on until Established); the
admission webhook configurations pointing at the demo's webhook server; the Settings; the S3
credential Secret; the BackupTarget ``default``; and the ConfigMaps a Longhorn install carries.

Everything the demo creates carries the label ``lhdesk.io/demo=true``. Installation refuses to
touch a cluster where a real Longhorn runs: longhorn.io CRDs without that label, or a
``longhorn-manager`` DaemonSet.

Adjustments made at install time, never in the data files:

- ``--longhorn-version`` below v1.9.0: ``system-backup`` is removed from the RecurringJob ``task``
  enum, as the CRD of those versions has it.
- API servers older than Kubernetes 1.25 do not know CEL: ``x-kubernetes-validations`` (used by
  volumes.yaml for immutable fields) are stripped before creating the CRD. kube-apiserver 1.20 would
  drop them silently anyway; stripping makes that explicit, and such a server does not enforce them.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from lhdesk.core.versions import parse_version
from lhdesk.demo.longhorn.admission import (
    LONGHORN_GROUP,
    LONGHORN_VERSION,
    recurring_job_tasks,
    webhook_rules,
)
from lhdesk.demo.longhorn.controllers import kube as k
from lhdesk.demo.longhorn.controllers.kube import JSON, Kube, Resource
from lhdesk.demo.longhorn.webhook import (
    MUTATING_CONFIGURATION,
    MUTATING_WEBHOOK,
    VALIDATING_CONFIGURATION,
    VALIDATING_WEBHOOK,
)
from lhdesk.demo.s3 import S3Config

logger = logging.getLogger(__name__)

NAMESPACE = "longhorn-system"
DEMO_LABEL = "lhdesk.io/demo"
DEMO_LABELS = {DEMO_LABEL: "true"}
CREDENTIAL_SECRET = "lhdesk-demo-s3-credentials"
DEFAULT_BACKUP_TARGET = "default"
DEFAULT_POLL_INTERVAL = "5m0s"
CEL_SINCE = (1, 25)
_ADMISSION = "admissionregistration.k8s.io"
VALIDATING = Resource(
    _ADMISSION, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False
)
MUTATING = Resource(_ADMISSION, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False)
CRD_FILES = (
    "settings.yaml",
    "volumes.yaml",
    "recurringjobs.yaml",
    "backuptargets.yaml",
    "backupvolumes.yaml",
    "backups.yaml",
    "systembackups.yaml",
    "systemrestores.yaml",
)


class InstallError(RuntimeError):
    """The demo could not be installed; the message says why and what to do."""


class RealLonghornError(InstallError):
    """A real Longhorn is installed on the cluster: the demo will not touch it."""


@dataclass(frozen=True)
class WebhookEndpoints:
    """Where the API server reaches the demo's admission webhooks."""

    validation_url: str
    mutation_url: str
    ca_pem: bytes


# --------------------------------------------------------------------------------------------------
# CRDs


def load_crds(
    longhorn_version: str = "v1.12.1", server_version: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """Longhorn's CRD documents, adjusted for ``longhorn_version`` and the API server's version."""
    package = resources.files("lhdesk.demo.longhorn") / "crds"
    crds: list[dict[str, Any]] = []
    tasks = recurring_job_tasks(longhorn_version)
    strip_cel = server_version is not None and server_version < CEL_SINCE
    for filename in CRD_FILES:
        doc = yaml.safe_load((package / filename).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            raise InstallError(f"{filename} is not a CustomResourceDefinition")
        labels = doc.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(DEMO_LABELS)
        if doc["spec"]["names"]["plural"] == "recurringjobs":
            _set_task_enum(doc, tasks)
        if strip_cel:
            _strip_key(doc, "x-kubernetes-validations")
        crds.append(doc)
    return crds


def _set_task_enum(crd: dict[str, Any], tasks: Sequence[str]) -> None:
    for version in crd["spec"]["versions"]:
        task = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["task"]
        task["enum"] = [t for t in task["enum"] if t in tasks]


def _strip_key(node: Any, key: str) -> None:
    if isinstance(node, dict):
        node.pop(key, None)
        for value in node.values():
            _strip_key(value, key)
    elif isinstance(node, list):
        for value in node:
            _strip_key(value, key)


def server_version(kube: Kube) -> tuple[int, int] | None:
    """(major, minor) of the API server, from ``/version``; None if it does not say."""
    try:
        info = kube.request("GET", "/version") or {}
    except ApiException:
        return None
    parsed = parse_version(str(info.get("gitVersion") or ""))
    if parsed is not None:
        return parsed.major, parsed.minor
    try:
        return int(str(info.get("major")).rstrip("+")), int(str(info.get("minor")).rstrip("+"))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Refusing a real Longhorn


def check_not_real_longhorn(kube: Kube) -> None:
    """Raise RealLonghornError when the cluster runs a Longhorn that the demo did not install."""
    try:
        crds = kube.items(k.CRDS)
    except ApiException as exc:
        raise InstallError(f"cannot list CustomResourceDefinitions ({_reason(exc)})") from exc
    for crd in crds:
        if (crd.get("spec") or {}).get("group") != LONGHORN_GROUP:
            continue
        if k.labels_of(crd).get(DEMO_LABEL) != "true":
            raise RealLonghornError(
                f"Longhorn is installed on this cluster (CustomResourceDefinition {k.name_of(crd)} "
                "was not created by the lhdesk demo). The demo cluster never attaches to a real Longhorn: "
                "use a cluster without Longhorn."
            )
    try:
        daemonsets = kube.items(k.DAEMON_SETS, field_selector="metadata.name=longhorn-manager")
    except ApiException as exc:
        if exc.status == 404:
            return  # the server does not serve DaemonSets: nothing runs there
        raise InstallError(f"cannot list DaemonSets ({_reason(exc)})") from exc
    for ds in daemonsets:
        where = f"{k.meta(ds).get('namespace')}/longhorn-manager"
        raise RealLonghornError(
            f"Longhorn is running on this cluster (DaemonSet {where}). "
            "The demo cluster never attaches to a real Longhorn: use a cluster without Longhorn."
        )


# --------------------------------------------------------------------------------------------------
# Settings


def settings_for(longhorn_version: str) -> dict[str, str]:
    """The Settings the demo installs: Longhorn's defaults, plus the demo's version and images."""
    version = longhorn_version
    values = {
        "current-longhorn-version": version,
        "latest-longhorn-version": version,
        "stable-longhorn-versions": version,
        "crd-api-version": "longhorn.io/v1beta2",
        "default-engine-image": f"longhornio/longhorn-engine:{version}",
        "support-bundle-manager-image": "longhornio/support-bundle-kit:v0.0.79",
        "default-data-path": "/var/lib/longhorn/",
        "default-replica-count": '{"v1":"3","v2":"3"}',
        "default-data-locality": "disabled",
        "replica-soft-anti-affinity": "false",
        "replica-auto-balance": "disabled",
        "storage-over-provisioning-percentage": "100",
        "storage-minimal-available-percentage": "25",
        "storage-reserved-percentage-for-default-disk": "30",
        "upgrade-checker": "false",
        "auto-salvage": "true",
        "registry-secret": "",
        "taint-toleration": "",
        "system-managed-components-node-selector": "",
        "priority-class": "longhorn-critical",
        "concurrent-replica-rebuild-per-node-limit": "5",
        "concurrent-backing-image-replenish-per-node-limit": "5",
        "concurrent-volume-backup-restore-per-node-limit": "5",
        "backup-compression-method": "lz4",
        "backup-concurrent-limit": "2",
        "restore-concurrent-limit": "2",
        "backup-execution-timeout": "1",
        "failed-backup-ttl": "1440",
        "restore-volume-recurring-jobs": "false",
        "allow-recurring-job-while-volume-detached": "false",
        "auto-cleanup-system-generated-snapshot": "true",
        "auto-cleanup-recurring-job-backup-snapshot": "true",
        "recurring-successful-jobs-history-limit": "1",
        "recurring-failed-jobs-history-limit": "1",
        "recurring-job-max-retention": "100",
        "snapshot-max-count": "250",
        "log-level": "Info",
    }
    parsed = parse_version(version)
    if parsed is not None and (parsed.major, parsed.minor) < (1, 8):
        # Before v1.8.0 the default backup target was configured through these settings.
        values["backup-target"] = ""
        values["backup-target-credential-secret"] = CREDENTIAL_SECRET
        values["backupstore-poll-interval"] = "300"
    return values


# --------------------------------------------------------------------------------------------------
# Installation


@dataclass
class Installer:
    """Installs (and for attach mode, removes the webhooks of) the simulated Longhorn."""

    api_client: ApiClient
    webhook: WebhookEndpoints
    s3: S3Config
    longhorn_version: str = "v1.12.1"
    namespace: str = NAMESPACE
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.kube = Kube(self.api_client)

    def install(self) -> None:
        """Create everything; idempotent on a cluster the demo already installed."""
        started = time.monotonic()
        check_not_real_longhorn(self.kube)
        self._namespace()
        self._crds()
        self._webhook_configurations()
        self._wait_webhooks_active()
        self._settings()
        self._secret()
        self._backup_target()
        self._configmaps()
        logger.info(
            "Installed simulated Longhorn %s in %.2f s", self.longhorn_version, time.monotonic() - started
        )

    def remove_webhooks(self) -> None:
        """Delete the webhook configurations (attach mode: a stopped simulator must not block writes)."""
        for res, name in ((VALIDATING, VALIDATING_CONFIGURATION), (MUTATING, MUTATING_CONFIGURATION)):
            try:
                self.kube.delete(res, name)
            except ApiException as exc:
                logger.warning("could not delete webhook configuration %s: %s", name, _reason(exc))

    # -- steps ------------------------------------------------------------------------------------

    def _create_or_replace(self, res: Resource, body: JSON, namespace: str | None = None) -> None:
        """Create ``body``; when it exists (a re-install), replace it with this version."""
        name = k.name_of(body)
        try:
            self.kube.create(res, body, namespace)
        except ApiException as exc:
            if exc.status != 409:
                raise InstallError(f"cannot create {res.kind} {name}: {_reason(exc)}") from exc
            current = self.kube.get(res, name, namespace)
            if current is None:
                raise InstallError(f"{res.kind} {name} exists and is gone again: retry") from exc
            replacement = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": k.meta(current)["resourceVersion"]},
            }
            self.kube.replace(res, replacement, namespace)

    def _create_if_missing(self, res: Resource, body: JSON, namespace: str | None = None) -> bool:
        try:
            self.kube.create(res, body, namespace)
        except ApiException as exc:
            if exc.status != 409:
                raise InstallError(f"cannot create {res.kind} {k.name_of(body)}: {_reason(exc)}") from exc
            return False
        return True

    def _namespace(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": DEMO_LABELS},
        }
        self._create_if_missing(k.NAMESPACES, body)

    def _crds(self) -> None:
        crds = load_crds(self.longhorn_version, server_version(self.kube))
        for crd in crds:
            self._create_or_replace(k.CRDS, crd)
        self._wait_established({k.name_of(crd) for crd in crds})

    def _wait_established(self, names: set[str]) -> None:
        """Poll until every CRD is Established (kube-apiserver needs a moment; the built-in one none)."""
        deadline = time.monotonic() + self.timeout
        pending = set(names)
        while True:
            for crd in self.kube.items(k.CRDS):
                if k.name_of(crd) in pending and _established(crd):
                    pending.discard(k.name_of(crd))
            if not pending:
                return
            if time.monotonic() > deadline:
                raise InstallError(
                    f"CRDs not Established after {self.timeout:.0f} s: {', '.join(sorted(pending))}"
                )
            time.sleep(0.05)

    def _webhook_configurations(self) -> None:
        ca_bundle = base64.b64encode(self.webhook.ca_pem).decode("ascii")
        common = {
            "failurePolicy": "Fail",
            "matchPolicy": "Exact",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
            "namespaceSelector": {},
            "objectSelector": {},
        }
        validating: JSON = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": VALIDATING_CONFIGURATION, "labels": DEMO_LABELS},
            "webhooks": [
                {
                    "name": VALIDATING_WEBHOOK,
                    "clientConfig": {"url": self.webhook.validation_url, "caBundle": ca_bundle},
                    "rules": webhook_rules("validate"),
                    **common,
                }
            ],
        }
        mutating: JSON = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": MUTATING_CONFIGURATION, "labels": DEMO_LABELS},
            "webhooks": [
                {
                    "name": MUTATING_WEBHOOK,
                    "clientConfig": {"url": self.webhook.mutation_url, "caBundle": ca_bundle},
                    "rules": webhook_rules("mutate"),
                    "reinvocationPolicy": "Never",
                    **common,
                }
            ],
        }
        self._create_or_replace(VALIDATING, validating)
        self._create_or_replace(MUTATING, mutating)

    def _wait_webhooks_active(self) -> None:
        """Wait until the API server calls both webhooks (kube-apiserver loads them asynchronously).

        Probe: a dry-run RecurringJob without concurrency must come back mutated (10), and one with a
        one-letter name must be refused by the validator.
        """
        path = k.RECURRING_JOBS.path(self.namespace)
        probe: JSON = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "RecurringJob",
            "metadata": {"name": "lhdesk-demo-webhook-probe"},
            "spec": {"task": "snapshot", "cron": "0 0 * * *", "retain": 1},
        }
        bad = {**probe, "metadata": {"name": "x"}}
        deadline = time.monotonic() + self.timeout
        mutated = refused = False
        while True:
            if not mutated:
                try:
                    answer = self.kube.request("POST", path, query={"dryRun": "All"}, body=probe)
                    mutated = (answer.get("spec") or {}).get("concurrency") == 10
                except ApiException as exc:
                    logger.debug("webhook probe: %s", _reason(exc))
            if not refused:
                try:
                    self.kube.request("POST", path, query={"dryRun": "All"}, body=bad)
                except ApiException as exc:
                    # Only the validator refuses a one-letter name (a valid object name otherwise).
                    refused = exc.status == 422
            if mutated and refused:
                return
            if time.monotonic() > deadline:
                raise InstallError(
                    "the API server does not call the demo's admission webhooks "
                    f"({self.webhook.validation_url}); check that it can reach 127.0.0.1"
                )
            time.sleep(0.05)

    def _settings(self) -> None:
        def one(item: tuple[str, str]) -> None:
            name, value = item
            body = {
                "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
                "kind": "Setting",
                "metadata": {"name": name, "labels": DEMO_LABELS},
                "value": value,
            }
            if not self._create_if_missing(k.SETTINGS, body, self.namespace):
                self.kube.merge_patch(k.SETTINGS, name, {"value": value}, self.namespace)
            self.kube.merge_patch(
                k.SETTINGS, name, {"status": {"applied": True}}, self.namespace, sub="status"
            )

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="install-settings") as pool:
            list(pool.map(one, settings_for(self.longhorn_version).items()))

    def _secret(self) -> None:
        data = {
            k_: base64.b64encode(v.encode()).decode("ascii")
            for k_, v in self.s3.credential_secret_data().items()
        }
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": CREDENTIAL_SECRET, "namespace": self.namespace, "labels": DEMO_LABELS},
            "data": data,
        }
        if not self._create_if_missing(k.SECRETS, body, self.namespace):
            self.kube.merge_patch(k.SECRETS, CREDENTIAL_SECRET, {"data": data}, self.namespace)

    def _backup_target(self) -> None:
        spec = {
            "backupTargetURL": self.s3.backup_target_url,
            "credentialSecret": CREDENTIAL_SECRET,
            "pollInterval": DEFAULT_POLL_INTERVAL,
        }
        body = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "BackupTarget",
            "metadata": {"name": DEFAULT_BACKUP_TARGET, "labels": DEMO_LABELS},
            "spec": spec,
        }
        if not self._create_if_missing(k.BACKUP_TARGETS, body, self.namespace):
            self.kube.merge_patch(k.BACKUP_TARGETS, DEFAULT_BACKUP_TARGET, {"spec": spec}, self.namespace)

    def _configmaps(self) -> None:
        default_resource = (
            f'"backup-target": "{self.s3.backup_target_url}"\n'
            f'"backup-target-credential-secret": "{CREDENTIAL_SECRET}"\n'
            '"backupstore-poll-interval": "300"\n'
        )
        for name, key, text in (
            ("longhorn-default-setting", "default-setting.yaml", ""),
            ("longhorn-default-resource", "default-resource.yaml", default_resource),
        ):
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": self.namespace, "labels": DEMO_LABELS},
                "data": {key: text},
            }
            self._create_if_missing(k.CONFIG_MAPS, body, self.namespace)


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _reason(exc: ApiException) -> str:
    import json

    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        return f"{exc.status} {body['message']}"
    return f"{exc.status} {exc.reason}"
