"""Live lists: list a kind of object, then watch it, on a thread of its own.

``WatchWorker`` is the loop. It lives on its own ``QThread`` (``moveToThread``; the thread is
not subclassed), lists once, then watches with a short server-side timeout so that a stop
request is honoured within ``timeout_seconds``. A 410 (``Expired``) makes it list again; any
other failure is reported and retried with a growing delay. It is generic over the plural,
so other pages (history, volumes) reuse it.

``WatchFeed`` is the GUI-thread side a page talks to. It owns one worker, forgets everything
the worker says after ``close()`` (a page that switched cluster must not see the old one's
events), and hands events on in batches at most every ``interval_ms``, so a burst of changes
costs the GUI one model update instead of thousands.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from lhdesk.core.errors import Expired, GatewayError
from lhdesk.ui.jobs.ports import WatchApi

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change to one object: ``type`` is ADDED, MODIFIED or DELETED."""

    type: str
    object: dict[str, Any]

    @property
    def name(self) -> str:
        return object_name(self.object)


def object_name(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _resource_version(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return str(version) if version else ""


class WatchWorker(QObject):
    """Lists and watches one plural in a loop until stopped; runs on its own QThread.

    Signals:
        snapshot_listed(tuple[dict, ...]): every object, after the first list and after each relist.
        object_changed(WatchEvent): one object was added, modified or deleted.
        failed(str): listing or watching failed (message for the user); the worker retries.
    """

    snapshot_listed = Signal(object)
    object_changed = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        api: WatchApi,
        plural: str,
        *,
        label_selector: str | None = None,
        timeout_seconds: int = 5,
        retry_delay: float = 2.0,
        max_retry_delay: float = 30.0,
    ) -> None:
        super().__init__()
        self.api = api
        self.plural = plural
        self.label_selector = label_selector
        self.timeout_seconds = max(1, int(timeout_seconds))
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._stop = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(f"watch-{plural}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    # -- control, from the GUI thread -------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end; it does within ``timeout_seconds``. Does not wait."""
        self._stop.set()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Stop the loop and join the thread. True when the thread has ended."""
        self.request_stop()
        if not self._thread.isRunning():
            return True
        done = self._thread.wait(timeout_ms)
        if not done:
            log.error("the %s watch did not stop within %d ms", self.plural, timeout_ms)
        return done

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def thread_object(self) -> QThread:
        """The QThread this worker runs on (owned by the worker)."""
        return self._thread

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop, on the worker thread -------------------------------------------------------

    @Slot()
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            # Hand the object back to the GUI thread before this thread ends, so Python can
            # delete it there, then end the thread's event loop.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self._thread.quit()

    def _loop(self) -> None:
        resource_version = ""
        must_list = True
        delay = self.retry_delay
        while not self._stop.is_set():
            try:
                if must_list:
                    items, resource_version = self.api.list(self.plural, self.label_selector)
                    if self._stop.is_set():
                        return
                    self.snapshot_listed.emit(tuple(items))
                    must_list = False
                resource_version = self._watch_once(resource_version)
                delay = self.retry_delay
            except Expired:
                log.debug("%s watch expired; listing again", self.plural)
                must_list = True
            except Exception as exc:
                message = str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, GatewayError):
                    log.exception("the %s watch failed unexpectedly", self.plural)
                else:
                    log.info("the %s watch failed: %s", self.plural, message)
                if self._stop.is_set():
                    return
                self.failed.emit(message)
                must_list = True
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_retry_delay)

    def _watch_once(self, resource_version: str) -> str:
        """One watch request, until the server ends it or a stop is asked; returns the last version."""
        events = self.api.watch(self.plural, resource_version, self.timeout_seconds, self.label_selector)
        try:
            for kind, obj in events:
                version = _resource_version(obj)
                if version:
                    resource_version = version
                if kind in (ADDED, MODIFIED, DELETED):
                    self.object_changed.emit(WatchEvent(kind, obj))
                if self._stop.is_set():
                    break
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()
        return resource_version


class WatchFeed(QObject):
    """The GUI-thread end of one watch: drops late news after ``close()``, batches events.

    Signals:
        listed(tuple[dict, ...]): the full list; replaces whatever was shown.
        changed(tuple[WatchEvent, ...]): the events since the last batch, in order.
        failed(str): the watch failed and is retrying.
    """

    listed = Signal(object)
    changed = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        api: WatchApi,
        plural: str,
        *,
        label_selector: str | None = None,
        timeout_seconds: int = 5,
        interval_ms: int = 100,
        retry_delay: float = 2.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.plural = plural
        self.worker = WatchWorker(
            api,
            plural,
            label_selector=label_selector,
            timeout_seconds=timeout_seconds,
            retry_delay=retry_delay,
        )
        self._pending: list[WatchEvent] = []
        self._closed = False
        self._disposed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self.worker.snapshot_listed.connect(self._on_listed)
        self.worker.object_changed.connect(self._on_changed)
        self.worker.failed.connect(self._on_failed)

    def start(self) -> None:
        self.worker.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop emitting now and ask the worker to end; ``join`` waits for it."""
        self._closed = True
        self._timer.stop()
        self._pending.clear()
        self.worker.request_stop()

    def join(self, timeout_ms: int = 30_000) -> bool:
        """Wait for the worker's thread to end; then release the Qt objects (see ``dispose``)."""
        if self._disposed:
            return True
        done = self.worker.stop(timeout_ms)
        if done:
            self.dispose()
        return done

    def stop(self, timeout_ms: int = 30_000) -> bool:
        self.close()
        return self.join(timeout_ms)

    def is_finished(self) -> bool:
        return self._disposed or not self.worker.is_running()

    def dispose(self) -> None:
        """Delete the worker, its thread and this feed on the GUI thread, once the thread has ended.

        Python may collect unreachable objects on any thread that runs Python code (a watch
        thread, a task); a Qt object it owns would then be destroyed on that thread. Handing
        them to ``deleteLater`` ends their lives on the GUI thread instead.
        """
        if self._disposed or self.worker.is_running():
            return
        self._disposed = True
        self._closed = True
        self._timer.stop()
        self.worker.thread_object().deleteLater()
        self.worker.deleteLater()
        self.deleteLater()

    @Slot(object)
    def _on_listed(self, items: tuple[dict[str, Any], ...]) -> None:
        if self._closed:
            return
        # The list supersedes every event that came before it.
        self._timer.stop()
        self._pending.clear()
        self.listed.emit(items)

    @Slot(object)
    def _on_changed(self, event: WatchEvent) -> None:
        if self._closed:
            return
        self._pending.append(event)
        if not self._timer.isActive():
            self._timer.start()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._closed:
            self.failed.emit(message)

    @Slot()
    def _flush(self) -> None:
        if self._closed or not self._pending:
            return
        batch = tuple(self._pending)
        self._pending.clear()
        self.changed.emit(batch)
