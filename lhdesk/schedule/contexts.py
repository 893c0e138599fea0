"""Gateways for schedule contexts, from the kubeconfig (the headless scheduler's api factory).

The kubeconfig is loaded as everywhere else in lhdesk (:func:`lhdesk.kube.kubeconfig.load_contexts`:
``--kubeconfig``, else ``KUBECONFIG``, else ``~/.kube/config``). It is read again when one of its
files changes, so a context added or removed while ``lhdesk scheduler run`` is up is noticed; a
schedule whose context has disappeared gets an ``error`` record saying so at each of its slots.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from lhdesk.core.clusters import LONGHORN_NAMESPACE, KubeconfigSet
from lhdesk.kube.gateway import LonghornGateway
from lhdesk.kube.kubeconfig import api_client_for, load_contexts
from lhdesk.schedule.api import SystemBackupApi
from lhdesk.schedule.engine import ContextUnavailable

log = logging.getLogger(__name__)


def _stamp(paths: tuple[Path, ...]) -> tuple[tuple[str, float | None], ...]:
    out: list[tuple[str, float | None]] = []
    for path in paths:
        try:
            out.append((str(path), path.stat().st_mtime))
        except OSError:
            out.append((str(path), None))
    return tuple(out)


class KubeconfigApiFactory:
    """``factory(context) -> LonghornGateway``, cached per context until the kubeconfig changes.

    Thread-safe. Raises :class:`ContextUnavailable` with a message for the run history when the
    context is missing or cannot be used. :meth:`close` closes every gateway it made.
    """

    def __init__(
        self,
        kubeconfig: Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        namespace: str = LONGHORN_NAMESPACE,
        request_timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.env = dict(os.environ if env is None else env)
        self.namespace = namespace
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._kset: KubeconfigSet | None = None
        self._stamp: tuple[tuple[str, float | None], ...] = ()
        self._gateways: dict[str, LonghornGateway] = {}

    def contexts(self) -> KubeconfigSet:
        """The kubeconfig as it is now (read again if a file changed)."""
        with self._lock:
            return self._current()

    def _current(self) -> KubeconfigSet:
        if self._kset is not None and _stamp(self._kset.files) == self._stamp:
            return self._kset
        kset = load_contexts(self.kubeconfig, self.env)
        if self._kset is not None:
            log.info("kubeconfig changed; contexts reloaded")
        self._close_all()
        self._kset = kset
        self._stamp = _stamp(kset.files)
        return kset

    def __call__(self, context: str) -> SystemBackupApi:
        with self._lock:
            try:
                kset = self._current()
            except Exception as exc:
                raise ContextUnavailable(f"the kubeconfig cannot be read: {exc}") from exc
            gateway = self._gateways.get(context)
            if gateway is not None:
                return gateway
            if kset.context(context) is None:
                files = ", ".join(str(p) for p in kset.files) or "none found"
                raise ContextUnavailable(
                    f"context {context!r} is no longer in the kubeconfig ({files}); "
                    "restore it, or edit or remove the schedule"
                )
            try:
                client = api_client_for(kset, context)
            except Exception as exc:
                raise ContextUnavailable(str(exc)) from exc
            gateway = LonghornGateway(client, self.namespace, self.request_timeout)
            self._gateways[context] = gateway
            return gateway

    def _close_all(self) -> None:
        gateways, self._gateways = self._gateways, {}
        for gateway in gateways.values():
            try:
                gateway.close()
            except Exception:
                log.debug("closing a gateway failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._close_all()
