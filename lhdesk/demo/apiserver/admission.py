"""Dynamic admission: calling the webhooks of Mutating/ValidatingWebhookConfigurations.

Webhooks are found and called as kube-apiserver does it: configurations in name order, each
webhook's rules (groups, versions, resources incl. ``*`` and ``x/status``, operations, scope),
namespace and object selectors, an ``AdmissionReview`` v1 POSTed over HTTPS verified with the
``caBundle``, ``timeoutSeconds``, ``failurePolicy``, base64 JSONPatch responses from mutating
webhooks, and refusals worded ``admission webhook "<name>" denied the request: <message>``.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import ssl
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lhdesk.demo.apiserver import errors
from lhdesk.demo.apiserver.errors import ApiError
from lhdesk.demo.apiserver.patch import json_patch
from lhdesk.demo.apiserver.rbac import User
from lhdesk.demo.apiserver.resources import ResourceType
from lhdesk.demo.apiserver.selectors import label_selector_from_object
from lhdesk.demo.apiserver.store import Store

logger = logging.getLogger(__name__)

ADM = "admissionregistration.k8s.io"
MUTATING = (ADM, "mutatingwebhookconfigurations")
VALIDATING = (ADM, "validatingwebhookconfigurations")
EXEMPT = {MUTATING, VALIDATING}

Obj = dict[str, Any]


@dataclass
class Request:
    """One admission attempt (kube's ``admission.Attributes``)."""

    operation: str  # CREATE / UPDATE / DELETE
    rt: ResourceType
    subresource: str
    namespace: str
    name: str
    obj: Obj | None
    old: Obj | None
    user: User
    dry_run: bool
    options: Obj
    warnings: list[str] = field(default_factory=list)


def _rule_matches(rule: Obj, req: Request) -> bool:
    rt = req.rt
    ops = rule.get("operations") or []
    if "*" not in ops and req.operation not in ops:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and rt.group not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if "*" not in versions and rt.version not in versions:
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and rt.namespaced:
        return False
    if scope == "Namespaced" and not rt.namespaced:
        return False
    for res in rule.get("resources") or []:
        r, _, sub = str(res).partition("/")
        if (r in ("*", rt.plural)) and (sub == "*" or sub == req.subresource):
            return True
    return False


def _labels(o: Obj | None) -> dict[str, str]:
    return dict(((o or {}).get("metadata") or {}).get("labels") or {})


class Admission:
    """Runs the registered webhooks for a request; raises ``ApiError`` when one refuses."""

    def __init__(self, store: Store, namespace_labels: Callable[[str], dict[str, str] | None]) -> None:
        self._store = store
        self._namespace_labels = namespace_labels

    def _hooks(self, key: tuple[str, str], req: Request) -> list[Obj]:
        if req.rt.key in EXEMPT or req.rt.virtual:
            return []
        configs, _ = self._store.items(key)
        out: list[Obj] = []
        for cfg in sorted(configs, key=lambda c: c["metadata"]["name"]):
            for hook in cfg.get("webhooks") or []:
                if not isinstance(hook, dict):
                    continue
                if not any(_rule_matches(r, req) for r in hook.get("rules") or [] if isinstance(r, dict)):
                    continue
                if not self._selectors_match(hook, req):
                    continue
                out.append(hook)
        return out

    def _selectors_match(self, hook: Obj, req: Request) -> bool:
        obj_sel = label_selector_from_object(hook.get("objectSelector"))
        if not obj_sel.empty and not (obj_sel.matches(_labels(req.obj)) or obj_sel.matches(_labels(req.old))):
            return False
        ns_sel = label_selector_from_object(hook.get("namespaceSelector"))
        if ns_sel.empty:
            return True
        if req.rt.key == ("", "namespaces"):
            return ns_sel.matches(_labels(req.obj or req.old))
        if not req.rt.namespaced:
            return True
        labels = self._namespace_labels(req.namespace)
        return ns_sel.matches(labels or {})

    def mutate(self, req: Request) -> Obj | None:
        """Call the matching mutating webhooks in order; return the (possibly patched) object."""
        for hook in self._hooks(MUTATING, req):
            self._call(hook, req, mutating=True)
        return req.obj

    def validate(self, req: Request) -> None:
        for hook in self._hooks(VALIDATING, req):
            self._call(hook, req, mutating=False)

    # ------------------------------------------------------------------ one call

    def _review(self, req: Request, uid: str) -> Obj:
        rt = req.rt
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        body: Obj = {
            "uid": uid,
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "operation": req.operation,
            "userInfo": req.user.info(),
            "object": req.obj,
            "oldObject": req.old,
            "dryRun": req.dry_run,
            "options": req.options,
        }
        if req.name:
            body["name"] = req.name
        if req.subresource:
            body["subResource"] = req.subresource
            body["requestSubResource"] = req.subresource
        if rt.namespaced or rt.key == ("", "namespaces"):
            body["namespace"] = req.namespace
        return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": body}

    def _call(self, hook: Obj, req: Request, mutating: bool) -> None:
        name = str(hook.get("name", ""))
        if req.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{name}" does not support dry run')
        uid = str(uuid.uuid4())
        try:
            response = self._post(hook, self._review(req, uid))
            result = response.get("response")
            if not isinstance(result, dict):
                raise WebhookFailure("expected response in AdmissionReview")
            if result.get("uid") != uid:
                raise WebhookFailure(f'expected response.uid="{uid}", got "{result.get("uid", "")}"')
        except WebhookFailure as exc:
            if hook.get("failurePolicy") == "Ignore":
                logger.warning("ignoring failed webhook %s: %s", name, exc)
                return
            raise errors.internal(f'failed calling webhook "{name}": {exc}') from None
        for w in result.get("warnings") or []:
            req.warnings.append(str(w))
        if not result.get("allowed"):
            raise deny(name, result.get("status"))
        patch = result.get("patch")
        if patch and mutating:
            if result.get("patchType") not in (None, "JSONPatch"):
                raise errors.internal(
                    f'failed calling webhook "{name}": unsupported patch type "{result.get("patchType")}"'
                )
            try:
                ops = json.loads(base64.b64decode(patch))
                req.obj = json_patch(req.obj, ops)
            except (ValueError, ApiError) as exc:
                raise errors.internal(f'failed calling webhook "{name}": {exc}') from None
        elif patch and not mutating:
            raise errors.internal(
                f'failed calling webhook "{name}": validating webhook may not return a patch'
            )

    def _post(self, hook: Obj, review: Obj) -> Obj:
        cc = hook.get("clientConfig") or {}
        url = cc.get("url")
        if not url:
            raise WebhookFailure(
                "only clientConfig.url is supported by the demo API server (no service proxy)"
            )
        timeout = int(hook.get("timeoutSeconds") or 10)
        parsed = urllib.parse.urlsplit(str(url))
        try:
            context = _client_context(str(cc.get("caBundle") or ""))
        except (ValueError, ssl.SSLError) as exc:
            raise WebhookFailure(f"invalid caBundle: {exc}") from None
        query = parsed.query + ("&" if parsed.query else "") + f"timeout={timeout}s"
        path = (parsed.path or "/") + "?" + query
        shown = f'Post "{parsed.scheme}://{parsed.netloc}{path}"'
        conn = http.client.HTTPSConnection(
            parsed.hostname or "", parsed.port or 443, timeout=timeout, context=context
        )
        try:
            data = json.dumps(review).encode()
            conn.request(
                "POST",
                path,
                body=data,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
            resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError:
            raise WebhookFailure(f"failed to call webhook: {shown}: context deadline exceeded") from None
        except ssl.SSLError as exc:
            raise WebhookFailure(f"failed to call webhook: {shown}: tls: {exc.reason or exc}") from None
        except OSError as exc:
            why = "connect: connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
            raise WebhookFailure(
                f"failed to call webhook: {shown}: dial tcp {parsed.netloc}: {why}"
            ) from None
        finally:
            conn.close()
        if resp.status != 200:
            raise WebhookFailure(f"received invalid webhook response: expected 200 OK, got {resp.status}")
        try:
            out = json.loads(raw)
        except ValueError as exc:
            raise WebhookFailure(f"failed to decode webhook response: {exc}") from None
        if not isinstance(out, dict):
            raise WebhookFailure("webhook response was not an AdmissionReview")
        return out


@functools.lru_cache(maxsize=32)
def _client_context(bundle: str) -> ssl.SSLContext:
    """The TLS context trusting ``bundle`` (base64 PEM), or the system's roots when it is empty.

    Built once per bundle: loading certificates costs tens of milliseconds, paid on every
    admission call before (a 10,000-object seed spent minutes here). Contexts are thread-safe.
    """
    if not bundle:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=base64.b64decode(bundle).decode("ascii"))
    return context


class WebhookFailure(Exception):
    """The webhook could not be called or answered nonsense (subject to failurePolicy)."""


def deny(webhook: str, status: Any) -> ApiError:
    """apiserver's ``webhookerrors.ToStatusErr``."""
    st = status if isinstance(status, dict) else {}
    code = int(st.get("code") or 0)
    if code < 400:
        code = 400
    denied = f'admission webhook "{webhook}" denied the request'
    if st.get("message"):
        message = f"{denied}: {st['message']}"
    elif st.get("reason"):
        message = f"{denied}: {st['reason']}"
    else:
        message = f"{denied} without explanation"
    details = st.get("details") if isinstance(st.get("details"), dict) else None
    return ApiError(code, str(st.get("reason") or ""), message, details)
