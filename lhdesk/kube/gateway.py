"""A thin gateway over Longhorn's custom resources (and the few core objects lhdesk needs).

Plain dicts in, plain dicts out, so the core's models can parse them and nothing above this
layer sees the kubernetes client. Every method translates failures into ``GatewayError``
subclasses (``lhdesk.kube.errors``) and puts connect and read timeouts on every request.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from kubernetes import client as k8s

from lhdesk.core.clusters import LONGHORN_NAMESPACE
from lhdesk.core.errors import Expired, GatewayError, NotFound
from lhdesk.kube.errors import translate

log = logging.getLogger(__name__)

GROUP = "longhorn.io"
VERSION = "v1beta2"
_MERGE_PATCH = "application/merge-patch+json"

T = TypeVar("T")

__all__ = ["GROUP", "VERSION", "Expired", "LonghornGateway"]


class LonghornGateway:
    """CRUD and watch over ``longhorn.io/v1beta2`` objects in one namespace (longhorn-system).

    ``request_timeout`` is (connect, read) seconds for every call but watches, whose read
    timeout follows their ``timeout_seconds``. The gateway is safe to share between threads (the
    client's connection pool is).
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        namespace: str = LONGHORN_NAMESPACE,
        request_timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.request_timeout = request_timeout
        self._custom = k8s.CustomObjectsApi(api_client)
        self._authz = k8s.AuthorizationV1Api(api_client)
        host = getattr(api_client.configuration, "host", "") or ""
        self._server = host or None

    def _do(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        kwargs.setdefault("_request_timeout", self.request_timeout)
        try:
            return fn(*args, **kwargs)
        except GatewayError:
            raise
        except Exception as exc:
            raise translate(exc, server=self._server) from exc

    # --- Longhorn custom resources -----------------------------------------------------------

    def list(
        self, plural: str, label_selector: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """All objects of one kind, and the list's resourceVersion (to watch from)."""
        kwargs: dict[str, Any] = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        result = self._do(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, plural, **kwargs
        )
        data = _as_dict(result)
        items = [item for item in data.get("items") or () if isinstance(item, dict)]
        resource_version = str((data.get("metadata") or {}).get("resourceVersion") or "")
        return items, resource_version

    def get(self, plural: str, name: str) -> dict[str, Any]:
        result = self._do(
            self._custom.get_namespaced_custom_object, GROUP, VERSION, self.namespace, plural, name
        )
        return _as_dict(result)

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Create an object. Raises ``AlreadyExists`` for a taken name, ``Invalid`` for webhook refusals."""
        kwargs: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        result = self._do(
            self._custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            plural,
            _with_defaults(plural, body, self.namespace),
            **kwargs,
        )
        return _as_dict(result)

    def replace(
        self, plural: str, name: str, body: Mapping[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        """Replace an object. With ``metadata.resourceVersion`` set, a stale copy raises ``Conflict``."""
        kwargs: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        result = self._do(
            self._custom.replace_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            plural,
            name,
            _with_defaults(plural, body, self.namespace),
            **kwargs,
        )
        return _as_dict(result)

    def patch_merge(
        self, plural: str, name: str, patch: Mapping[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        """JSON merge patch (RFC 7386). Put ``metadata.resourceVersion`` in it to make it conditional."""
        kwargs: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        result = self._do(
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            plural,
            name,
            dict(patch),
            _content_type=_MERGE_PATCH,
            **kwargs,
        )
        return _as_dict(result)

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        """Delete an object; returns what the server answered. ``missing_ok``: a 404 returns None."""
        try:
            result = self._do(
                self._custom.delete_namespaced_custom_object, GROUP, VERSION, self.namespace, plural, name
            )
        except NotFound:
            if missing_ok:
                return None
            raise
        return _as_dict(result)

    def watch(
        self,
        plural: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) events after ``resource_version`` until the server ends the watch.

        Types are ADDED, MODIFIED, DELETED and BOOKMARK (a BOOKMARK object carries only the newest
        resourceVersion). Raises ``Expired`` when ``resource_version`` is too old (410): list again
        and watch from the list's version. Closing the generator closes the connection.
        """
        kwargs: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": max(1, int(timeout_seconds)),
            "_preload_content": False,
            "_request_timeout": (self.request_timeout[0], float(timeout_seconds) + 15.0),
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        if label_selector:
            kwargs["label_selector"] = label_selector
        response: Any = self._do(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, plural, **kwargs
        )
        try:
            for line in _lines(response, self._server):
                event = _parse_event(line)
                if event is None:
                    continue
                kind, obj = event
                if kind == "ERROR":
                    raise _watch_error(obj)
                yield kind, obj
        finally:
            response.close()
            response.release_conn()

    # --- conveniences ------------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        """A Longhorn setting's ``value``, or None when there is no such setting."""
        try:
            obj = self.get("settings", name)
        except NotFound:
            return None
        value = obj.get("value")
        return value if isinstance(value, str) else None

    def list_volumes(self) -> builtins.list[dict[str, Any]]:
        items, _ = self.list("volumes")
        return items

    def can_i(self, verb: str, resource: str, group: str = GROUP, name: str | None = None) -> bool:
        """A SelfSubjectAccessReview in the gateway's namespace."""
        review = k8s.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SelfSubjectAccessReview",
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    namespace=self.namespace, verb=verb, group=group, resource=resource, name=name
                )
            ),
        )
        answer = self._do(self._authz.create_self_subject_access_review, review)
        return bool(answer.status is not None and answer.status.allowed)

    def server_version(self) -> str:
        """The API server's git version, e.g. "v1.31.2"."""
        info = self._do(k8s.VersionApi(self.api_client).get_code)
        return str(info.git_version)

    def close(self) -> None:
        client: Any = self.api_client
        client.close()


_KINDS = {
    "recurringjobs": "RecurringJob",
    "systembackups": "SystemBackup",
    "systemrestores": "SystemRestore",
    "settings": "Setting",
    "volumes": "Volume",
    "backuptargets": "BackupTarget",
    "backups": "Backup",
    "backupvolumes": "BackupVolume",
}


def _with_defaults(plural: str, body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The body with apiVersion, kind and namespace filled in when missing."""
    out = dict(body)
    out.setdefault("apiVersion", f"{GROUP}/{VERSION}")
    if plural in _KINDS:
        out.setdefault("kind", _KINDS[plural])
    metadata = dict(out.get("metadata") or {})
    metadata.setdefault("namespace", namespace)
    out["metadata"] = metadata
    return out


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        converted = to_dict()
        if isinstance(converted, dict):
            return converted
    raise GatewayError(f"The server sent an answer lhdesk cannot read ({type(result).__name__}).")


def _lines(response: Any, server: str | None) -> Iterator[str]:
    buffer = b""
    try:
        for chunk in response.stream(amt=None, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield line.decode("utf-8", "replace")
    except GatewayError:
        raise
    except Exception as exc:
        raise translate(exc, server=server) from exc
    if buffer.strip():
        yield buffer.decode("utf-8", "replace")


def _parse_event(line: str) -> tuple[str, dict[str, Any]] | None:
    try:
        event = json.loads(line)
    except ValueError:
        log.warning("watch sent a line that is not JSON; skipped")
        return None
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        return None
    return str(event.get("type") or ""), event["object"]


def _watch_error(status: Mapping[str, Any]) -> GatewayError:
    code = status.get("code")
    message = str(status.get("message") or "")
    reason = str(status.get("reason") or "")
    if code == 410 or reason in ("Expired", "Gone"):
        return Expired(
            "The watch is too old (410 Gone): list again and watch from there.",
            status=410,
            reason=reason or "Expired",
            server_message=message,
        )
    return GatewayError(
        f"The watch failed: {message or reason or code}.",
        status=code if isinstance(code, int) else None,
        reason=reason,
        server_message=message,
    )
