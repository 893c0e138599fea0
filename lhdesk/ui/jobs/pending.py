"""The background tasks one widget started: forgotten as they finish, cancelled together.

A widget that keeps ``TaskHandle``s whose callbacks refer back to it forms a reference cycle.
Python collects such cycles whenever its collector happens to run, on whatever thread runs
Python code at that moment (a watch thread, a task), and a Qt object collected there is
destroyed on the wrong thread. Forgetting each handle as soon as its task ends keeps the
cycle short-lived; ``cancel_all`` ends it at once (and drops answers nobody wants any more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lhdesk.ui.tasks import Outcome, TaskHandle, TaskRunner


class PendingTasks:
    """Submits through a ``TaskRunner`` and remembers only the tasks still running."""

    def __init__(self, tasks: TaskRunner) -> None:
        self._tasks = tasks
        self._handles: dict[int, TaskHandle] = {}

    def submit(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None] | None,
        on_failure: Callable[[Outcome], None] | None,
        description: str,
    ) -> TaskHandle:
        """Like ``TaskRunner.submit``; without ``on_failure`` the runner's error dialog reports it."""
        ids: list[int] = []

        def succeeded(value: Any) -> None:
            self._handles.pop(ids[0], None)
            if on_success is not None:
                on_success(value)

        def failed(outcome: Outcome) -> None:
            self._handles.pop(ids[0], None)
            if on_failure is not None:
                on_failure(outcome)
            else:
                self._tasks.task_failed.emit(outcome)

        handle = self._tasks.submit(fn, succeeded, failed, description)
        ids.append(handle.task_id)
        self._handles[handle.task_id] = handle
        return handle

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)
