"""The simulator's Kubernetes access: raw JSON requests and informers (list + watch) over the client.

Everything goes through ``kubernetes.client.ApiClient`` (its configuration, TLS and bearer token), with
objects kept as the JSON dicts the server sends, so one code path serves core, RBAC, CRDs and Longhorn
resources alike. An ``Informer`` lists, then watches from the list's resourceVersion, re-watches from the
last seen version when a watch ends, and relists on 410 Gone, as client-go's reflector does.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

JSON = dict[str, Any]
LONGHORN_GROUP = "longhorn.io"
LONGHORN_VERSION = "v1beta2"


@dataclass(frozen=True)
class Resource:
    """One API resource type: where it lives and what its objects are called."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if sub:
                base += f"/{sub}"
        return base


def _lh(plural: str, kind: str) -> Resource:
    return Resource(LONGHORN_GROUP, LONGHORN_VERSION, plural, kind)


SETTINGS = _lh("settings", "Setting")
VOLUMES = _lh("volumes", "Volume")
BACKUPS = _lh("backups", "Backup")
BACKUP_VOLUMES = _lh("backupvolumes", "BackupVolume")
BACKUP_TARGETS = _lh("backuptargets", "BackupTarget")
RECURRING_JOBS = _lh("recurringjobs", "RecurringJob")
SYSTEM_BACKUPS = _lh("systembackups", "SystemBackup")
SYSTEM_RESTORES = _lh("systemrestores", "SystemRestore")
ENGINE_IMAGES = _lh("engineimages", "EngineImage")
BACKING_IMAGES = _lh("backingimages", "BackingImage")

NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
SERVICES = Resource("", "v1", "services", "Service")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = Resource("", "v1", "events", "Event")
PERSISTENT_VOLUMES = Resource("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False)
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
DAEMON_SETS = Resource("apps", "v1", "daemonsets", "DaemonSet")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
RBAC = "rbac.authorization.k8s.io"
CLUSTER_ROLES = Resource(RBAC, "v1", "clusterroles", "ClusterRole", namespaced=False)
CLUSTER_ROLE_BINDINGS = Resource(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False)
ROLES = Resource(RBAC, "v1", "roles", "Role")
ROLE_BINDINGS = Resource(RBAC, "v1", "rolebindings", "RoleBinding")
STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False)
CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False
)

ALL_RESOURCES: tuple[Resource, ...] = (
    SETTINGS,
    VOLUMES,
    BACKUPS,
    BACKUP_VOLUMES,
    BACKUP_TARGETS,
    RECURRING_JOBS,
    SYSTEM_BACKUPS,
    SYSTEM_RESTORES,
    ENGINE_IMAGES,
    BACKING_IMAGES,
    NAMESPACES,
    SECRETS,
    CONFIG_MAPS,
    SERVICES,
    SERVICE_ACCOUNTS,
    EVENTS,
    PERSISTENT_VOLUMES,
    PERSISTENT_VOLUME_CLAIMS,
    DAEMON_SETS,
    DEPLOYMENTS,
    CLUSTER_ROLES,
    CLUSTER_ROLE_BINDINGS,
    ROLES,
    ROLE_BINDINGS,
    STORAGE_CLASSES,
    CRDS,
)


def resource_for_kind(kind: str) -> Resource | None:
    for res in ALL_RESOURCES:
        if res.kind == kind:
            return res
    return None


def is_status(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, ApiException) and exc.status in codes


def meta(obj: Mapping[str, Any]) -> JSON:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    value = meta(obj).get("labels")
    return dict(value) if isinstance(value, dict) else {}


def status_of(obj: Mapping[str, Any]) -> JSON:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def spec_of(obj: Mapping[str, Any]) -> JSON:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def _rv_int(obj: Mapping[str, Any]) -> int:
    try:
        return int(str(meta(obj).get("resourceVersion") or "0"))
    except ValueError:
        return 0


class Kube:
    """JSON requests against the API server through a ``kubernetes`` ApiClient."""

    def __init__(self, api_client: ApiClient, request_timeout: float = 30.0) -> None:
        self.api_client = api_client
        self._timeout = request_timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        """Send one request; returns the decoded JSON body. Non-2xx raises ApiException."""
        resp = self._send(method, path, query=query, body=body, content_type=content_type, timeout=timeout)
        data = resp.data
        resp.release_conn()
        if not data:
            return None
        return json.loads(data)

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None,
        body: Any,
        content_type: str,
        timeout: float | tuple[float, float] | None,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        params = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.api_client.call_api(*params, _request_timeout=timeout or self._timeout)
        raw: urllib3.BaseHTTPResponse = resp.response
        if not 200 <= resp.status <= 299:
            raw.read()
            raise ApiException(http_resp=raw)
        return raw

    # ---- object verbs --------------------------------------------------------------------------

    def get(self, res: Resource, name: str, namespace: str | None = None) -> JSON | None:
        try:
            obj: JSON = self.request("GET", res.path(namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def list_object(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> JSON:
        """The List object (``items``, ``metadata.resourceVersion``) as the server sends it."""
        query: dict[str, str | int] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        result: JSON = self.request("GET", res.path(namespace), query=query)
        if not isinstance(result.get("items"), list):
            result["items"] = []
        return result

    def items(self, res: Resource, namespace: str | None = None, **selectors: str) -> list[JSON]:
        items: list[JSON] = self.list_object(res, namespace, **selectors)["items"]
        return items

    def create(self, res: Resource, obj: JSON, namespace: str | None = None) -> JSON:
        body = dict(obj)
        body.setdefault("apiVersion", res.api_version)
        body.setdefault("kind", res.kind)
        created: JSON = self.request("POST", res.path(namespace), body=body)
        return created

    def replace(self, res: Resource, obj: JSON, namespace: str | None = None) -> JSON:
        """PUT the whole object; its metadata.resourceVersion makes a stale write a 409."""
        updated: JSON = self.request("PUT", res.path(namespace, name_of(obj)), body=obj)
        return updated

    def replace_status(self, res: Resource, obj: JSON, namespace: str | None = None) -> JSON:
        updated: JSON = self.request("PUT", res.path(namespace, name_of(obj), "status"), body=obj)
        return updated

    def merge_patch(
        self, res: Resource, name: str, patch: JSON, namespace: str | None = None, sub: str | None = None
    ) -> JSON:
        patched: JSON = self.request(
            "PATCH", res.path(namespace, name, sub), body=patch, content_type="application/merge-patch+json"
        )
        return patched

    def delete(self, res: Resource, name: str, namespace: str | None = None) -> bool:
        """Delete; False when it was already gone."""
        try:
            self.request("DELETE", res.path(namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def open_watch(
        self, res: Resource, namespace: str | None, resource_version: str, timeout_seconds: int
    ) -> urllib3.BaseHTTPResponse:
        query: dict[str, str | int] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": "true",
        }
        return self._send(
            "GET",
            res.path(namespace),
            query=query,
            body=None,
            content_type="application/json",
            timeout=(self._timeout, timeout_seconds + 15.0),
        )


def _iter_lines(resp: urllib3.BaseHTTPResponse) -> Iterator[str]:
    buffer = bytearray()
    for chunk in resp.stream(amt=None, decode_content=False):
        buffer.extend(chunk)
        while True:
            index = buffer.find(b"\n")
            if index < 0:
                break
            line = bytes(buffer[:index]).decode("utf-8", errors="replace").strip()
            del buffer[: index + 1]
            if line:
                yield line
    tail = bytes(buffer).decode("utf-8", errors="replace").strip()
    if tail:
        yield tail


EventHandler = Callable[[str, JSON], None]


class Informer:
    """Keeps a cache of one resource type in sync (list + watch) and reports every change.

    ``handler(event_type, obj)`` runs on the informer's thread for ADDED / MODIFIED / DELETED (the
    initial list reports ADDED; objects gone after a relist report DELETED).
    """

    def __init__(
        self,
        kube: Kube,
        res: Resource,
        namespace: str | None,
        handler: EventHandler | None = None,
        *,
        watch_timeout: int = 60,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.kube = kube
        self.res = res
        self.namespace = namespace if res.namespaced else None
        self._handlers: list[EventHandler] = [handler] if handler else []
        self._watch_timeout = watch_timeout
        self._stop = stop_event or threading.Event()
        self._lock = threading.Lock()
        self._cache: dict[str, JSON] = {}
        self._resp: urllib3.BaseHTTPResponse | None = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()
        self.available = True  # False when the server does not serve the resource (404 on list)

    def add_handler(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    # ---- cache ---------------------------------------------------------------------------------

    def get(self, name: str) -> JSON | None:
        with self._lock:
            obj = self._cache.get(name)
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(obj) for obj in self._cache.values()]

    def names(self) -> list[str]:
        with self._lock:
            return list(self._cache)

    def observe(self, obj: JSON) -> None:
        """Put an object this process just wrote into the cache, unless the cache already has newer."""
        name = name_of(obj)
        with self._lock:
            known = self._cache.get(name)
            if known is None or _rv_int(known) < _rv_int(obj):
                self._cache[name] = copy.deepcopy(obj)

    def forget(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)

    # ---- thread --------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.res.plural}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()  # wakes the thread blocked in recv

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _emit(self, event_type: str, obj: JSON) -> None:
        for handler in self._handlers:
            try:
                handler(event_type, obj)
            except Exception:
                log.exception("handler for %s %s failed", self.res.plural, name_of(obj))

    def _relist(self) -> str:
        listing = self.kube.list_object(self.res, self.namespace)
        fresh = {name_of(obj): obj for obj in listing["items"]}
        for obj in fresh.values():
            obj.setdefault("apiVersion", self.res.api_version)
            obj.setdefault("kind", self.res.kind)
        with self._lock:
            gone = [obj for name, obj in self._cache.items() if name not in fresh]
            self._cache = fresh
        for obj in gone:
            self._emit("DELETED", obj)
        for obj in list(fresh.values()):
            self._emit("ADDED", obj)
        return str(meta(listing).get("resourceVersion") or "")

    def _run(self) -> None:
        backoff = 0.2
        resource_version = ""
        while not self._stop.is_set():
            try:
                if not resource_version:
                    resource_version = self._relist()
                    self.available = True
                    self.synced.set()
                resource_version = self._watch_once(resource_version)
                backoff = 0.2
            except ApiException as exc:
                if self._stop.is_set():
                    break
                if exc.status == 404 and not resource_version:
                    # Not served here (for example apps/v1 on a minimal server): nothing to cache.
                    self.available = False
                    self.synced.set()
                    self._stop.wait(5.0)
                    continue
                if exc.status == 410:
                    resource_version = ""
                    continue
                log.warning("%s watch failed (%s); retrying", self.res.plural, exc.status)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.debug("%s watch interrupted: %s", self.res.plural, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _watch_once(self, resource_version: str) -> str:
        """Watch until the server ends the stream; returns the version to resume from ('' = relist)."""
        resp = self.kube.open_watch(self.res, self.namespace, resource_version, self._watch_timeout)
        self._resp = resp
        finished = False
        try:
            if self._stop.is_set():
                return resource_version
            for line in _iter_lines(resp):
                event = json.loads(line)
                event_type = event.get("type")
                obj = event.get("object") or {}
                if event_type == "ERROR":
                    code = obj.get("code")
                    if code == 410:
                        log.debug("%s watch expired (410); relisting", self.res.plural)
                        return ""
                    log.warning("%s watch error: %s", self.res.plural, obj.get("message"))
                    time.sleep(0.1)
                    return resource_version
                new_version = str(meta(obj).get("resourceVersion") or resource_version)
                if event_type == "BOOKMARK":
                    resource_version = new_version
                    continue
                if event_type not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                resource_version = new_version
                name = name_of(obj)
                with self._lock:
                    if event_type == "DELETED":
                        self._cache.pop(name, None)
                    else:
                        known = self._cache.get(name)
                        # Never step back behind an object this process wrote and observed.
                        if known is None or _rv_int(known) <= _rv_int(obj):
                            self._cache[name] = obj
                self._emit(event_type, obj)
            finished = True
        finally:
            self._resp = None
            with contextlib.suppress(Exception):
                if finished:
                    resp.release_conn()
                else:
                    resp.close()
        return resource_version
