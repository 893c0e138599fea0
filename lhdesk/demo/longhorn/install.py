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
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from lhdesk.core.versions import parse_version
from lhdesk.demo.longhorn.admission import (
    LONGHORN_GROUP,
    LONGHORN_VERSION,
    recurring_job_tasks,
    webhook_rules,
)
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


# The kubernetes client's watch module has no type hints.
_Watch: Any = watch.Watch


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


def server_version(api_client: client.ApiClient) -> tuple[int, int] | None:
    """(major, minor) of the API server, from ``/version``; None if it does not say."""
    try:
        info: Any = client.VersionApi(api_client).get_code()
    except ApiException:
        return None
    parsed = parse_version(str(info.git_version or ""))
    if parsed is not None:
        return parsed.major, parsed.minor
    try:
        return int(str(info.major).rstrip("+")), int(str(info.minor).rstrip("+"))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Refusing a real Longhorn


def check_not_real_longhorn(api_client: client.ApiClient) -> None:
    """Raise RealLonghornError when the cluster runs a Longhorn that the demo did not install."""
    ext: Any = client.ApiextensionsV1Api(api_client)
    try:
        crds = ext.list_custom_resource_definition()
    except ApiException as exc:
        raise InstallError(f"cannot list CustomResourceDefinitions ({exc.status} {exc.reason})") from exc
    for crd in crds.items:
        if crd.spec.group != LONGHORN_GROUP:
            continue
        labels = crd.metadata.labels or {}
        if labels.get(DEMO_LABEL) != "true":
            raise RealLonghornError(
                f"Longhorn is installed on this cluster (CustomResourceDefinition {crd.metadata.name} "
                "was not created by the lhdesk demo). The demo cluster never attaches to a real Longhorn: "
                "use a cluster without Longhorn."
            )
    apps: Any = client.AppsV1Api(api_client)
    try:
        daemonsets = apps.list_daemon_set_for_all_namespaces(field_selector="metadata.name=longhorn-manager")
    except ApiException as exc:
        if exc.status == 404:
            return  # the server does not serve DaemonSets: nothing runs there
        raise InstallError(f"cannot list DaemonSets ({exc.status} {exc.reason})") from exc
    for ds in daemonsets.items:
        raise RealLonghornError(
            f"Longhorn is running on this cluster (DaemonSet {ds.metadata.namespace}/longhorn-manager). "
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

    api_client: client.ApiClient
    webhook: WebhookEndpoints
    s3: S3Config
    longhorn_version: str = "v1.12.1"
    namespace: str = NAMESPACE
    timeout: float = 30.0

    def install(self) -> None:
        """Create everything; idempotent on a cluster the demo already installed."""
        started = time.monotonic()
        check_not_real_longhorn(self.api_client)
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
        adm: Any = client.AdmissionregistrationV1Api(self.api_client)
        for delete, name in (
            (adm.delete_validating_webhook_configuration, VALIDATING_CONFIGURATION),
            (adm.delete_mutating_webhook_configuration, MUTATING_CONFIGURATION),
        ):
            try:
                delete(name)
            except ApiException as exc:
                if exc.status != 404:
                    logger.warning("could not delete webhook configuration %s: %s", name, exc.reason)

    # -- steps ------------------------------------------------------------------------------------

    def _namespace(self) -> None:
        core: Any = client.CoreV1Api(self.api_client)
        body: Any = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": DEMO_LABELS},
        }
        try:
            core.create_namespace(body)
        except ApiException as exc:
            if exc.status != 409:
                raise InstallError(f"cannot create namespace {self.namespace}: {_reason(exc)}") from exc

    def _crds(self) -> None:
        ext: Any = client.ApiextensionsV1Api(self.api_client)
        crds = load_crds(self.longhorn_version, server_version(self.api_client))
        names = []
        for crd in crds:
            name = crd["metadata"]["name"]
            names.append(name)
            try:
                ext.create_custom_resource_definition(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise InstallError(
                        f"cannot create CustomResourceDefinition {name}: {_reason(exc)}"
                    ) from exc
                current = ext.read_custom_resource_definition(name)
                crd["metadata"]["resourceVersion"] = current.metadata.resource_version
                ext.replace_custom_resource_definition(name, crd)
        self._wait_established(ext, set(names))

    def _wait_established(self, ext: Any, names: set[str]) -> None:
        deadline = time.monotonic() + self.timeout
        pending = set(names)
        listing = ext.list_custom_resource_definition()
        for crd in listing.items:
            if crd.metadata.name in pending and _established(crd):
                pending.discard(crd.metadata.name)
        resource_version = listing.metadata.resource_version
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise InstallError(
                    f"CRDs not Established after {self.timeout:.0f} s: {', '.join(sorted(pending))}"
                )
            w: Any = _Watch()
            try:
                for event in w.stream(
                    ext.list_custom_resource_definition,
                    resource_version=resource_version,
                    timeout_seconds=max(1, int(remaining)),
                    _request_timeout=remaining + 5,
                ):
                    crd = event["object"]
                    resource_version = crd.metadata.resource_version
                    if crd.metadata.name in pending and _established(crd):
                        pending.discard(crd.metadata.name)
                    if not pending:
                        break
            except ApiException as exc:
                if exc.status != 410:
                    raise
                listing = ext.list_custom_resource_definition()
                resource_version = listing.metadata.resource_version
                for crd in listing.items:
                    if crd.metadata.name in pending and _established(crd):
                        pending.discard(crd.metadata.name)
            finally:
                w.stop()

    def _webhook_configurations(self) -> None:
        adm: Any = client.AdmissionregistrationV1Api(self.api_client)
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
        validating: Any = {
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
        mutating: Any = {
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
        for body, create, read, replace in (
            (
                validating,
                adm.create_validating_webhook_configuration,
                adm.read_validating_webhook_configuration,
                adm.replace_validating_webhook_configuration,
            ),
            (
                mutating,
                adm.create_mutating_webhook_configuration,
                adm.read_mutating_webhook_configuration,
                adm.replace_mutating_webhook_configuration,
            ),
        ):
            name = body["metadata"]["name"]
            try:
                create(body)
            except ApiException as exc:
                if exc.status != 409:
                    raise InstallError(f"cannot create webhook configuration {name}: {_reason(exc)}") from exc
                body["metadata"]["resourceVersion"] = read(name).metadata.resource_version
                replace(name, body)

    def _wait_webhooks_active(self) -> None:
        """Wait until the API server calls both webhooks (kube-apiserver loads them asynchronously).

        Probe: a dry-run RecurringJob without concurrency must come back mutated (10), and one with a
        one-letter name must be refused by the validator.
        """
        custom: Any = client.CustomObjectsApi(self.api_client)
        probe = {
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
                    answer = custom.create_namespaced_custom_object(
                        LONGHORN_GROUP,
                        LONGHORN_VERSION,
                        self.namespace,
                        "recurringjobs",
                        probe,
                        dry_run="All",
                    )
                    mutated = (answer.get("spec") or {}).get("concurrency") == 10
                except ApiException as exc:
                    logger.info("webhook probe: %s", _reason(exc))
            if not refused:
                try:
                    custom.create_namespaced_custom_object(
                        LONGHORN_GROUP, LONGHORN_VERSION, self.namespace, "recurringjobs", bad, dry_run="All"
                    )
                except ApiException as exc:
                    refused = "validator.longhorn.io" in (exc.body or "")
            if mutated and refused:
                return
            if time.monotonic() > deadline:
                raise InstallError(
                    "the API server does not call the demo's admission webhooks "
                    f"({self.webhook.validation_url}); check that it can reach 127.0.0.1"
                )
            time.sleep(0.05)

    def _settings(self) -> None:
        custom: Any = client.CustomObjectsApi(self.api_client)

        def one(item: tuple[str, str]) -> None:
            name, value = item
            body: Any = {
                "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
                "kind": "Setting",
                "metadata": {"name": name, "labels": DEMO_LABELS},
                "value": value,
            }
            try:
                custom.create_namespaced_custom_object(
                    LONGHORN_GROUP, LONGHORN_VERSION, self.namespace, "settings", body
                )
            except ApiException as exc:
                if exc.status != 409:
                    raise InstallError(f"cannot create Setting {name}: {_reason(exc)}") from exc
                custom.patch_namespaced_custom_object(
                    LONGHORN_GROUP, LONGHORN_VERSION, self.namespace, "settings", name, {"value": value}
                )
            custom.patch_namespaced_custom_object_status(
                LONGHORN_GROUP,
                LONGHORN_VERSION,
                self.namespace,
                "settings",
                name,
                {"status": {"applied": True}},
            )

        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="install-settings") as pool:
            list(pool.map(one, settings_for(self.longhorn_version).items()))

    def _secret(self) -> None:
        core: Any = client.CoreV1Api(self.api_client)
        data = {
            k: base64.b64encode(v.encode()).decode("ascii")
            for k, v in self.s3.credential_secret_data().items()
        }
        body: Any = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": CREDENTIAL_SECRET, "namespace": self.namespace, "labels": DEMO_LABELS},
            "data": data,
        }
        try:
            core.create_namespaced_secret(self.namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise InstallError(f"cannot create the S3 credential Secret: {_reason(exc)}") from exc
            core.patch_namespaced_secret(CREDENTIAL_SECRET, self.namespace, {"data": data})

    def _backup_target(self) -> None:
        custom: Any = client.CustomObjectsApi(self.api_client)
        spec = {
            "backupTargetURL": self.s3.backup_target_url,
            "credentialSecret": CREDENTIAL_SECRET,
            "pollInterval": DEFAULT_POLL_INTERVAL,
        }
        body: Any = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "BackupTarget",
            "metadata": {"name": DEFAULT_BACKUP_TARGET, "labels": DEMO_LABELS},
            "spec": spec,
        }
        try:
            custom.create_namespaced_custom_object(
                LONGHORN_GROUP, LONGHORN_VERSION, self.namespace, "backuptargets", body
            )
        except ApiException as exc:
            if exc.status != 409:
                raise InstallError(f"cannot create BackupTarget default: {_reason(exc)}") from exc
            custom.patch_namespaced_custom_object(
                LONGHORN_GROUP,
                LONGHORN_VERSION,
                self.namespace,
                "backuptargets",
                DEFAULT_BACKUP_TARGET,
                {"spec": spec},
            )

    def _configmaps(self) -> None:
        core: Any = client.CoreV1Api(self.api_client)
        default_resource = (
            f'"backup-target": "{self.s3.backup_target_url}"\n'
            f'"backup-target-credential-secret": "{CREDENTIAL_SECRET}"\n'
            '"backupstore-poll-interval": "300"\n'
        )
        for name, key, text in (
            ("longhorn-default-setting", "default-setting.yaml", ""),
            ("longhorn-default-resource", "default-resource.yaml", default_resource),
        ):
            body: Any = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": self.namespace, "labels": DEMO_LABELS},
                "data": {key: text},
            }
            try:
                core.create_namespaced_config_map(self.namespace, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise InstallError(f"cannot create ConfigMap {name}: {_reason(exc)}") from exc


def _established(crd: Any) -> bool:
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def _reason(exc: ApiException) -> str:
    import json

    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        return f"{exc.status} {body['message']}"
    return f"{exc.status} {exc.reason}"
