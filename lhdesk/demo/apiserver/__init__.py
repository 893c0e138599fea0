"""A built-in Kubernetes API server (HTTPS on loopback, pure Python) for the demo cluster.

It is generic: it knows Kubernetes, not Longhorn. It serves whatever CRDs are created and calls
admission webhooks the way kube-apiserver does, so the Longhorn simulator behaves the same on it
as on a real cluster.
"""

from __future__ import annotations

from lhdesk.demo.apiserver.faults import Faults
from lhdesk.demo.apiserver.server import ADMIN_USER, READONLY_USER, SERVER_VERSION, ApiServer

__all__ = ["ADMIN_USER", "READONLY_USER", "SERVER_VERSION", "ApiServer", "Faults"]
