"""Probing a context: is it reachable, does it let us in, is Longhorn there, what may we do.

``probe`` never raises; every failure becomes a state with a one-line message. Every request
carries connect and read timeouts taken from one deadline, and an exec login plugin runs under
the same deadline, so a probe takes about ``timeout`` at most. ``probe_all`` runs probes in
parallel.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s

from lhdesk.core.clusters import (
    LONGHORN_NAMESPACE,
    REQUIRED_ACCESS,
    AccessCheck,
    ContextState,
    KubeconfigSet,
    ProbeResult,
    access_verdict,
)
from lhdesk.core.errors import (
    AuthPluginError,
    Forbidden,
    GatewayError,
    KubeconfigError,
    NotFound,
    TlsError,
    Unauthorized,
    Unreachable,
    redact,
)
from lhdesk.core.versions import Capabilities
from lhdesk.kube.errors import translate
from lhdesk.kube.kubeconfig import api_client_for

log = logging.getLogger(__name__)

LONGHORN_GROUP = "longhorn.io"
LONGHORN_VERSION = "v1beta2"
VERSION_SETTING = "current-longhorn-version"
_SSAR_WORKERS = 4


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def request_timeout(self) -> tuple[float, float]:
        """(connect, read) timeouts for the next request: whatever time is left."""
        left = self.remaining()
        if left <= 0.05:
            raise Unreachable(f"No answer within {self.seconds:g} s.", reason="timed out")
        return (left, left)


def state_for(error: GatewayError) -> ContextState:
    """The context state a failed call implies."""
    if isinstance(error, AuthPluginError | Unauthorized):
        return ContextState.AUTH_REQUIRED
    if isinstance(error, KubeconfigError):
        return ContextState.INVALID
    if isinstance(error, Forbidden):
        return ContextState.FORBIDDEN
    if isinstance(error, TlsError):
        return ContextState.TLS_ERROR
    return ContextState.UNREACHABLE


@dataclass
class _Findings:
    kubernetes_version: str | None = None
    longhorn_version: str | None = None
    capabilities: Capabilities | None = None
    setting_forbidden: bool = False
    no_longhorn_message: str | None = None


def probe(
    kset: KubeconfigSet, context: str, timeout: float = 5.0, *, namespace: str = LONGHORN_NAMESPACE
) -> ProbeResult:
    """Find the state of one context. Never raises."""
    checked_at = datetime.now(UTC)
    info = kset.context(context)
    if info is None:
        return ProbeResult(
            context, ContextState.INVALID, f"There is no context named '{context}'.", checked_at=checked_at
        )
    if info.error is not None and info.error_state is not None:
        return ProbeResult(context, info.error_state, info.error, checked_at=checked_at)
    deadline = _Deadline(timeout)
    findings = _Findings()
    try:
        return _probe(kset, context, info.server, deadline, findings, namespace, checked_at)
    except GatewayError as error:
        return ProbeResult(
            context,
            state_for(error),
            error.message,
            kubernetes_version=findings.kubernetes_version,
            longhorn_version=findings.longhorn_version,
            capabilities=findings.capabilities,
            checked_at=checked_at,
        )
    except Exception as exc:
        # A bug or an unforeseen library failure: still an answer, never a crash of the caller.
        log.warning("probe of %s failed unexpectedly: %s", context, redact(repr(exc)))
        failure = translate(exc, server=info.server)
        return ProbeResult(context, state_for(failure), failure.message, checked_at=checked_at)


def _json(response: Any) -> dict[str, Any]:
    """The JSON object of a raw (``_preload_content=False``) response; {} if it is not one."""
    try:
        data = json.loads(response.data)
    except (ValueError, TypeError):
        return {}
    finally:
        response.release_conn()
    return data if isinstance(data, dict) else {}


def _call(server: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except GatewayError:
        raise
    except Exception as exc:
        raise translate(exc, server=server) from exc


def _probe(
    kset: KubeconfigSet,
    context: str,
    server: str,
    deadline: _Deadline,
    findings: _Findings,
    namespace: str,
    checked_at: datetime,
) -> ProbeResult:
    api = api_client_for(kset, context, timeout=max(deadline.remaining(), 0.1))
    try:
        try:
            # Raw JSON: the client's VersionInfo model insists on fields some servers leave out.
            version = _json(
                _call(
                    server,
                    k8s.VersionApi(api).get_code,
                    _preload_content=False,
                    _request_timeout=deadline.request_timeout(),
                )
            )
            git_version = version.get("gitVersion")
            findings.kubernetes_version = (
                git_version if isinstance(git_version, str) and git_version else None
            )
        except Forbidden:
            # Some clusters hide /version from some users; the rest of the probe still tells.
            pass
        except NotFound as error:
            raise Unreachable(
                f"{server} answered, but it is not a Kubernetes API server (no /version). "
                "Check the server URL.",
                reason="not an API server",
            ) from error
        _read_longhorn_version(api, server, deadline, findings, namespace)
        if findings.no_longhorn_message is not None:
            return ProbeResult(
                context,
                ContextState.NO_LONGHORN,
                findings.no_longhorn_message,
                kubernetes_version=findings.kubernetes_version,
                checked_at=checked_at,
            )
        allowed = _access(api, server, deadline, namespace)
        missing, message = access_verdict(allowed, namespace)
        if message is not None:
            return ProbeResult(
                context,
                ContextState.FORBIDDEN,
                message,
                kubernetes_version=findings.kubernetes_version,
                longhorn_version=findings.longhorn_version,
                capabilities=findings.capabilities,
                missing_permissions=missing,
                checked_at=checked_at,
            )
        return ProbeResult(
            context,
            ContextState.CONNECTED,
            _connected_message(findings),
            kubernetes_version=findings.kubernetes_version,
            longhorn_version=findings.longhorn_version,
            capabilities=findings.capabilities,
            checked_at=checked_at,
        )
    finally:
        closable: Any = api
        closable.close()


def _read_longhorn_version(
    api: k8s.ApiClient, server: str, deadline: _Deadline, findings: _Findings, namespace: str
) -> None:
    try:
        setting = _call(
            server,
            k8s.CustomObjectsApi(api).get_namespaced_custom_object,
            LONGHORN_GROUP,
            LONGHORN_VERSION,
            namespace,
            "settings",
            VERSION_SETTING,
            _request_timeout=deadline.request_timeout(),
        )
    except NotFound as error:
        if error.resource_missing:
            findings.no_longhorn_message = (
                "Longhorn is not installed here: the cluster has no longhorn.io resources. Install Longhorn, "
                "or pick another context."
            )
        else:
            findings.no_longhorn_message = (
                f"Longhorn's CRDs are installed, but {namespace} has no {VERSION_SETTING} setting: "
                "Longhorn is "
                "not running (or is being installed or removed). Check the longhorn-manager pods."
            )
        return
    except Forbidden:
        findings.setting_forbidden = True
        return
    value = setting.get("value") if isinstance(setting, dict) else None
    if not isinstance(value, str) or not value.strip():
        return
    findings.longhorn_version = value.strip()
    # An unparseable version gets no optional capability (the conservative answer).
    findings.capabilities = Capabilities.for_version(findings.longhorn_version)


def _access(api: k8s.ApiClient, server: str, deadline: _Deadline, namespace: str) -> dict[AccessCheck, bool]:
    """SelfSubjectAccessReview answers for every check lhdesk needs (asked a few at a time)."""
    authz = k8s.AuthorizationV1Api(api)

    def ask(check: AccessCheck) -> bool:
        review = k8s.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SelfSubjectAccessReview",
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    namespace=namespace, verb=check.verb, group=check.group, resource=check.resource
                )
            ),
        )
        answer = _json(
            _call(
                server,
                authz.create_self_subject_access_review,
                review,
                _preload_content=False,
                _request_timeout=deadline.request_timeout(),
            )
        )
        status = answer.get("status")
        return isinstance(status, dict) and status.get("allowed") is True

    with ThreadPoolExecutor(max_workers=_SSAR_WORKERS, thread_name_prefix="lhdesk-ssar") as pool:
        answers = list(pool.map(ask, REQUIRED_ACCESS))
    return dict(zip(REQUIRED_ACCESS, answers, strict=True))


def _connected_message(findings: _Findings) -> str:
    kube = f" on Kubernetes {findings.kubernetes_version}" if findings.kubernetes_version else ""
    if findings.longhorn_version is None:
        return f"Connected{kube}; Longhorn has not reported its version yet. Check again in a minute."
    text = f"Longhorn {findings.longhorn_version}{kube} is ready"
    caps = findings.capabilities
    if caps is not None and not caps.system_backup_job:
        text += "; system-backup recurring jobs need Longhorn v1.9.0 or later (use a workstation schedule)"
    return text + "."


def probe_all(kset: KubeconfigSet, timeout: float = 5.0, max_workers: int = 8) -> list[ProbeResult]:
    """Probe every context in parallel; results in kubeconfig order.

    Each probe is bounded by ``timeout``, so the whole run takes about ``timeout`` as long as no
    more than ``max_workers`` contexts are slow.
    """
    names = [info.name for info in kset.contexts]
    if not names:
        return []
    workers = max(1, min(max_workers, len(names)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lhdesk-probe") as pool:
        return list(pool.map(lambda name: probe(kset, name, timeout), names))
