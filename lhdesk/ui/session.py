"""The cluster session: which kubeconfig contexts exist, how each one is doing, which is current.

The session is the single place pages learn about the current cluster. It loads the kubeconfig
and probes contexts through callables the composition root injects (so the UI never imports the
kubernetes client), always on the task runner, and it watches the kubeconfig files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from lhdesk.core.clusters import ContextInfo, ContextState, KubeconfigSet, ProbeResult
from lhdesk.ui.tasks import Outcome, TaskHandle, TaskRunner

log = logging.getLogger(__name__)

LoadContexts = Callable[[], KubeconfigSet]
ProbeContext = Callable[[KubeconfigSet, str], ProbeResult]


@dataclass(frozen=True)
class ContextStatus:
    """A context as the UI shows it: the kubeconfig entry and the latest probe."""

    info: ContextInfo
    probe: ProbeResult
    checking: bool = False


class ClusterSession(QObject):
    """Contexts, their probed states and the current context.

    Signals:
        contexts_changed(tuple[ContextStatus, ...]): the list was (re)loaded.
        status_changed(ContextStatus): one context's probe started or finished.
        current_changed(ContextStatus | None): the current context, or its probed status, changed.
        load_failed(str): the kubeconfig could not be read at all.
    """

    contexts_changed = Signal(object)
    status_changed = Signal(object)
    current_changed = Signal(object)
    load_failed = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        load: LoadContexts,
        probe: ProbeContext,
        preferred: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._load = load
        self._probe = probe
        self._preferred = preferred
        self.kubeconfig: KubeconfigSet | None = None
        self._statuses: dict[str, ContextStatus] = {}
        self._current: str | None = None
        self._probes: dict[str, TaskHandle] = {}
        self._loaded_once = False
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._on_file_changed)
        self._watcher.directoryChanged.connect(self._on_file_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(250)
        self._reload_timer.timeout.connect(self.reload)

    # -- reading ------------------------------------------------------------------------------

    def statuses(self) -> tuple[ContextStatus, ...]:
        return tuple(self._statuses.values())

    def status(self, name: str) -> ContextStatus | None:
        return self._statuses.get(name)

    @property
    def current(self) -> ContextStatus | None:
        return self._statuses.get(self._current) if self._current else None

    @property
    def loaded(self) -> bool:
        return self._loaded_once

    # -- loading ------------------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        """Read the kubeconfig files again (off the GUI thread)."""
        if self._tasks.closed:  # a file change noticed while the app shuts down
            return
        self._tasks.submit(
            self._load, self._on_loaded, self._on_load_failed, description="Reading kubeconfig"
        )

    def _on_loaded(self, kset: KubeconfigSet) -> None:
        self.kubeconfig = kset
        old = self._statuses
        self._statuses = {}
        for info in kset.contexts:
            previous = old.get(info.name)
            if previous is not None and previous.info == info and info.valid:
                self._statuses[info.name] = replace(previous, info=info)
            else:
                self._statuses[info.name] = ContextStatus(info, info.unprobed())
        self._watch(kset.files)
        first_load = not self._loaded_once
        self._loaded_once = True
        self.contexts_changed.emit(self.statuses())
        wanted = self._current if not first_load else (self._preferred or kset.current)
        if wanted not in self._statuses:
            wanted = kset.current if kset.current in self._statuses else next(iter(self._statuses), None)
        if wanted != self._current or first_load:
            self.set_current(wanted)

    def _on_load_failed(self, outcome: Outcome) -> None:
        self._loaded_once = True
        self.load_failed.emit(str(outcome.error))
        self.contexts_changed.emit(self.statuses())

    def _watch(self, files: tuple[Path, ...]) -> None:
        """Watch each file and its directory: kubectl replaces files atomically (rename)."""
        if self._watcher.files():
            self._watcher.removePaths(self._watcher.files())
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())
        paths = {str(p) for p in files if p.exists()} | {str(p.parent) for p in files if p.parent.exists()}
        if paths:
            self._watcher.addPaths(sorted(paths))

    @Slot(str)
    def _on_file_changed(self, path: str) -> None:
        log.debug("kubeconfig change noticed: %s", path)
        self._reload_timer.start()

    # -- switching and probing ----------------------------------------------------------------

    def set_current(self, name: str | None) -> None:
        if name is not None and name not in self._statuses:
            raise KeyError(name)
        self._current = name
        status = self.current
        self.current_changed.emit(status)
        if status is not None and status.probe.state is ContextState.UNKNOWN:
            self.check(status.info.name)

    def check(self, name: str) -> None:
        """Probe one context in the background; its row shows "checking" meanwhile."""
        status = self._statuses.get(name)
        if status is None or self.kubeconfig is None or name in self._probes:
            return
        if not status.info.valid:
            self._update(replace(status, probe=status.info.unprobed(), checking=False))
            return
        kset = self.kubeconfig
        self._update(replace(status, checking=True))
        self._probes[name] = self._tasks.submit(
            lambda: self._probe(kset, name),
            lambda result: self._on_probed(name, result),
            lambda outcome: self._on_probe_crashed(name, outcome),
            description=f"Checking {name}",
        )

    @Slot()
    def check_all(self) -> None:
        for name in self._statuses:
            self.check(name)

    def _on_probed(self, name: str, result: ProbeResult) -> None:
        self._probes.pop(name, None)
        status = self._statuses.get(name)
        if status is not None:
            self._update(ContextStatus(status.info, result, checking=False))

    def _on_probe_crashed(self, name: str, outcome: Outcome) -> None:
        self._probes.pop(name, None)
        status = self._statuses.get(name)
        if status is not None:
            failed = ProbeResult(name, ContextState.UNREACHABLE, f"The check itself failed: {outcome.error}")
            self._update(ContextStatus(status.info, failed, checking=False))

    def _update(self, status: ContextStatus) -> None:
        self._statuses[status.info.name] = status
        self.status_changed.emit(status)
        if status.info.name == self._current:
            self.current_changed.emit(status)
