"""Background work: run a blocking call off the GUI thread, get the answer back on it.

Every feature that touches the network or the disk goes through :class:`TaskRunner`::

    runner.submit(gateway.list_jobs, on_success=self._on_jobs_listed, on_failure=self._on_error,
                  description="Listing recurring jobs")

The call runs on a :class:`QThreadPool`; its return value (or exception) comes back through a
queued signal and the callbacks run on the GUI thread. A task handle can be cancelled: its
callbacks are then dropped, which is what a page wants when the user switched cluster meanwhile.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a task produced: a value, or the exception it raised (with its traceback text)."""

    task_id: int
    value: Any = None
    error: BaseException | None = None
    details: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(task_id: int, fn: Callable[[], Any]) -> Outcome:
    """Run ``fn`` and capture its result or exception. Pure: this is what the worker thread does."""
    try:
        return Outcome(task_id, value=fn())
    except Exception as exc:  # everything a task raises is reported, never lost
        details = traceback.format_exc()
        # The traceback's frames would keep the task's closure (and any QObject in it) alive as
        # long as the exception, which may die on the worker thread; the text is all we keep.
        exc.__traceback__ = None
        return Outcome(task_id, error=exc, details=details)


@dataclass
class TaskHandle:
    """A submitted task. ``cancel()`` drops its callbacks; the call itself runs to its end."""

    task_id: int
    description: str
    on_success: Callable[[Any], None] | None
    on_failure: Callable[[Outcome], None] | None
    cancelled: bool = field(default=False)
    #: Held here so the last reference to the call (and what its closure holds, QObjects
    #: included) is always dropped on the GUI thread, never on a worker.
    fn: Callable[[], Any] | None = field(default=None, repr=False)

    def cancel(self) -> None:
        self.cancelled = True


class _Relay(QObject):
    """Lives on the GUI thread; its signal is emitted from workers and delivered queued."""

    finished = Signal(object)


class _Job(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._task_id = task_id
        self._fn: Callable[[], Any] | None = fn
        self._relay = relay

    def run(self) -> None:
        fn, self._fn = self._fn, None
        assert fn is not None, "a job runs once"
        outcome = execute(self._task_id, fn)
        del fn  # the handle on the GUI thread still holds it; see TaskHandle.fn
        self._relay.finished.emit(outcome)


class TaskRunner(QObject):
    """Runs blocking calls on a thread pool and hands results back on the GUI thread.

    Signals:
        busy_changed(object): the list of descriptions of the tasks still running (for the
            status bar's activity indicator).
        task_failed(object): an :class:`Outcome` for a failed task that had no ``on_failure``;
            the main window shows it in the standard error dialog.
    """

    busy_changed = Signal(object)
    task_failed = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 8) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._ids = itertools.count(1)
        self._pending: dict[int, TaskHandle] = {}
        self._closed = False

    def submit(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[Outcome], None] | None = None,
        description: str = "",
    ) -> TaskHandle:
        """Run ``fn()`` on the pool; call ``on_success(value)`` or ``on_failure(outcome)`` later."""
        if self._closed:
            raise RuntimeError("the task runner has been shut down")
        handle = TaskHandle(
            next(self._ids), description or getattr(fn, "__name__", "task"), on_success, on_failure, fn=fn
        )
        self._pending[handle.task_id] = handle
        log.debug("task %d started: %s", handle.task_id, handle.description)
        self._pool.start(_Job(handle.task_id, fn, self._relay))
        self.busy_changed.emit(self.running())
        return handle

    @property
    def closed(self) -> bool:
        return self._closed

    def running(self) -> list[str]:
        return [h.description for h in self._pending.values()]

    @Slot(object)
    def _on_finished(self, outcome: Outcome) -> None:
        handle = self._pending.pop(outcome.task_id, None)
        self.busy_changed.emit(self.running())
        if handle is None or handle.cancelled or self._closed:
            return
        if outcome.ok:
            log.debug("task %d done: %s", handle.task_id, handle.description)
            if handle.on_success is not None:
                handle.on_success(outcome.value)
            return
        log.warning("%s failed: %s", handle.description, outcome.error)
        if handle.on_failure is not None:
            handle.on_failure(outcome)
        else:
            self.task_failed.emit(outcome)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop accepting work, drop pending callbacks and join the pool. True if it drained."""
        self._closed = True
        self._pool.clear()
        drained = self._pool.waitForDone(timeout_ms)
        if not drained:
            log.error("background tasks still running after %d ms: %s", timeout_ms, self.running())
        return drained
