"""The background task helper: the logic synchronously, then for real on a thread."""

from __future__ import annotations

import threading

import pytest

from lhdesk.ui.tasks import Outcome, TaskRunner, execute


def test_execute_captures_the_value() -> None:
    outcome = execute(7, lambda: 42)
    assert outcome == Outcome(7, value=42)
    assert outcome.ok


def test_execute_captures_the_exception_and_traceback() -> None:
    def boom() -> None:
        raise ValueError("bad cron")

    outcome = execute(3, boom)
    assert not outcome.ok
    assert isinstance(outcome.error, ValueError)
    assert "bad cron" in outcome.details
    assert "Traceback" in outcome.details


def test_success_is_delivered_on_the_gui_thread(qtbot, task_runner: TaskRunner) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.get_ident()
        return 5

    def done(value: int) -> None:
        seen["value"] = value
        seen["callback"] = threading.get_ident()

    with qtbot.waitSignal(task_runner.busy_changed, check_params_cb=lambda running: running == []):
        task_runner.submit(work, on_success=done, description="counting")
    assert seen["value"] == 5
    assert seen["worker"] != gui_thread
    assert seen["callback"] == gui_thread


def test_failure_goes_to_on_failure(qtbot, task_runner: TaskRunner) -> None:
    failures: list[Outcome] = []

    def work() -> None:
        raise ConnectionRefusedError("connection refused")

    with qtbot.waitSignal(task_runner.busy_changed, check_params_cb=lambda running: running == []):
        task_runner.submit(work, on_failure=failures.append, description="probing")
    assert len(failures) == 1
    assert isinstance(failures[0].error, ConnectionRefusedError)


def test_failure_without_handler_is_reported(qtbot, task_runner: TaskRunner) -> None:
    def work() -> None:
        raise RuntimeError("nobody listens")

    with qtbot.waitSignal(task_runner.task_failed) as blocker:
        task_runner.submit(work, description="orphan")
    assert isinstance(blocker.args[0].error, RuntimeError)


def test_cancelled_task_drops_its_callbacks(qtbot, task_runner: TaskRunner) -> None:
    release = threading.Event()
    called: list[object] = []
    handle = task_runner.submit(release.wait, on_success=called.append, description="slow")
    assert task_runner.running() == ["slow"]
    handle.cancel()
    with qtbot.waitSignal(task_runner.busy_changed, check_params_cb=lambda running: running == []):
        release.set()
    assert called == []


def test_shutdown_joins_and_refuses_new_work(qapp) -> None:
    runner = TaskRunner()
    release = threading.Event()
    runner.submit(lambda: release.wait(5), description="in flight")
    release.set()
    assert runner.shutdown(5_000)
    with pytest.raises(RuntimeError, match="shut down"):
        runner.submit(lambda: None)


class _Sentinel:
    """Records the thread that drops the last reference to it."""

    def __init__(self, record: list[int]) -> None:
        self.record = record

    def __del__(self) -> None:
        self.record.append(threading.get_ident())


@pytest.mark.parametrize("fails", [False, True], ids=["success", "failure"])
def test_the_call_is_released_on_the_gui_thread(qtbot, task_runner: TaskRunner, fails: bool) -> None:
    """A QObject captured by a task's closure must never be destroyed on a worker thread."""
    record: list[int] = []
    sentinel = _Sentinel(record)

    def work(held: _Sentinel = sentinel) -> None:
        if fails:
            raise ValueError(f"failed while holding {type(held).__name__}")

    del sentinel
    with qtbot.waitSignal(task_runner.busy_changed, check_params_cb=lambda running: running == []):
        task_runner.submit(work, on_failure=lambda outcome: None)
    del work
    assert record == [threading.get_ident()]
