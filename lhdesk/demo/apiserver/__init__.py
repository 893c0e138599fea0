"""A built-in Kubernetes API server (HTTPS on loopback, pure Python) for the demo cluster.

It is generic: it knows Kubernetes, not Longhorn. It serves whatever CRDs are created and calls
admission webhooks the way kube-apiserver does, so the Longhorn simulator behaves the same on it
as on a real cluster. ``tests/demo/apiserver/test_apiserver_parity.py`` checks its answers
against a real kube-apiserver v1.20.2 request by request.

Public API: :class:`ApiServer` (start/stop, ``url``, ``ca_pem``, ``admin_token``,
``readonly_token``, ``write_kubeconfig``, ``faults``) and :class:`Faults`.

Known differences from kube-apiserver (deliberate or not worth the cost):

- Version and API surface: ``/version`` says v1.33; it serves ``/openapi/v3`` (with
  ``fieldValidation`` on PATCH, so kubectl validates server-side: unknown fields are a 400
  "strict decoding error" instead of kubectl's client-side "ValidationError"), ``/openapi/v2`` in
  JSON only (no protobuf), no aggregated discovery (kubectl falls back), SelfSubjectReview. CEL
  rules (``x-kubernetes-validations``) are not evaluated, as on 1.20.
- Not served: pods, nodes and everything else a kubelet or scheduler needs; apps/v1 other than
  Deployments and DaemonSets (those are stored only; nothing runs them); Services get a ClusterIP
  but no endpoints. Also missing: scale subresources, CRD
  conversion webhooks (versions are converted by rewriting ``apiVersion``, strategy None),
  webhooks reached through ``clientConfig.service`` (only ``url``), ``matchConditions``,
  ``reinvocationPolicy: IfNeeded`` (webhooks run once).
- No ``managedFields``. Server-side apply (``application/apply-patch+yaml``) is a simplification:
  it creates the object or merges the applied fields into it; it never removes fields a manager
  dropped and never reports field conflicts.
- Strategic merge patch on built-in types is merge patch plus the directives kubectl sends and
  merge-by-key for the few list fields that declare a key (ownerReferences, finalizers, webhooks,
  ports, conditions, secrets).
- Controllers it emulates (a bare kube-apiserver has none): namespace deletion removes the
  namespace's objects (without calling webhooks) and then the namespace; CRD deletion removes its
  CRs and then stops serving it; the pv/pvc-protection finalizers are released on deletion.
  No garbage collection by ownerReferences; ``propagationPolicy`` Foreground/Orphan add no
  finalizers. Namespaces carry no ``kubernetes.io/metadata.name`` label (as on 1.20).
- Watches: one window of recent events per resource (``watch_history``, default 5000); older
  resourceVersions get ``410 Expired``. A list's ``continue`` token pages through the current
  state, not a snapshot. ``resourceVersionMatch`` is ignored.
- Authentication: bearer tokens only; a missing or wrong token is 401 (no anonymous user).
- Error texts that quote Go's JSON decoder (bad JSON bodies, bad base64) keep kube's prefix but
  not Go's byte-position context. Protobuf request bodies are decoded only for the built-in types
  kubectl's typed commands send (create namespace/configmap/secret/service/serviceaccount/role/
  binding/deployment, auth can-i); responses are always JSON or YAML.
"""

from __future__ import annotations

from lhdesk.demo.apiserver.faults import Faults
from lhdesk.demo.apiserver.server import ADMIN_USER, READONLY_USER, SERVER_VERSION, ApiServer

__all__ = ["ADMIN_USER", "READONLY_USER", "SERVER_VERSION", "ApiServer", "Faults"]
