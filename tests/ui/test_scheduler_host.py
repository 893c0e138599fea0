"""The scheduler's Qt host: its own thread, queued commands, the machine-wide lock, stop mid-run, recovery.

A small in-memory SystemBackup API stands in for the cluster at the port the engine uses
(:class:`lhdesk.schedule.api.SystemBackupApi`); the same host against the demo cluster over HTTPS
is tested in tests/integration/test_schedules_demo.py.
"""

from __future__ import annotations

import copy
import gc
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from lhdesk.core.errors import AlreadyExists, NotFound
from lhdesk.schedule.engine import ContextUnavailable, RunFinished, RunStarted, ScheduleChanged
from lhdesk.schedule.freshness import FreshnessRule
from lhdesk.schedule.model import Schedule, utcnow
from lhdesk.schedule.naming import SCHEDULE_LABEL
from lhdesk.schedule.store import Store
from lhdesk.ui.scheduler import (
    LOCKED,
    RUNNING,
    STOPPED,
    CommandFailed,
    FreshnessChecked,
    HostStatus,
    SchedulerConfig,
    SchedulerHost,
)

FAST = SchedulerConfig(
    tick_seconds=0.2,
    observe_interval=None,
    freshness_interval=None,
    lock_retry=timedelta(seconds=0.3),
    watch_window=1,
)


def _matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    for term in (selector or "").split(","):
        if not term:
            continue
        key, _, value = term.partition("=")
        if (labels.get(key) != value) if value else (key not in labels):
            return False
    return True


class MemoryApi:
    """SystemBackups in memory, thread-safe. A created backup ends Ready (or Error, ``fail_next``)
    at the next watch, unless ``hold()`` keeps every backup in progress until ``release()``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.create_threads: set[int | None] = set()
        self.version = 0
        self.fail_next = 0
        self._final: dict[str, str] = {}
        self._released = threading.Event()
        self._released.set()

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def _bump(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def list(self, plural: str, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        with self.lock:
            items = [
                copy.deepcopy(o)
                for o in self.objects.values()
                if _matches(label_selector, o["metadata"].get("labels") or {})
            ]
            return items, str(self.version)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        with self.lock:
            if name not in self.objects:
                raise NotFound(f"systembackups {name!r} not found", name=name)
            return copy.deepcopy(self.objects[name])

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
        with self.lock:
            name = body["metadata"]["name"]
            if name in self.objects:
                raise AlreadyExists(f"systembackups {name!r} already exists", name=name)
            obj = copy.deepcopy(dict(body))
            obj["metadata"]["creationTimestamp"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
            obj["status"] = {"state": ""}
            self._bump(obj)
            self.objects[name] = obj
            self.created.append(name)
            self.create_threads.add(threading.get_ident())
            self._final[name] = "Error" if self.fail_next else "Ready"
            self.fail_next = max(0, self.fail_next - 1)
            return copy.deepcopy(obj)

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        with self.lock:
            if name not in self.objects:
                if missing_ok:
                    return None
                raise NotFound(f"systembackups {name!r} not found", name=name)
            return self.objects.pop(name)

    def watch(
        self, plural: str, resource_version: str, timeout_seconds: int, label_selector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        if not self._released.wait(timeout_seconds):
            return
        with self.lock:
            events = []
            for name, obj in self.objects.items():
                if obj["status"]["state"] in ("Ready", "Error"):
                    continue
                final = self._final.get(name, "Ready")
                obj["status"]["state"] = final
                if final == "Ready":
                    obj["status"]["createdAt"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
                else:
                    obj["status"]["conditions"] = [
                        {"type": "Error", "reason": "Generate", "message": "failed to generate system backup"}
                    ]
                self._bump(obj)
                if _matches(label_selector, obj["metadata"].get("labels") or {}):
                    events.append(("MODIFIED", copy.deepcopy(obj)))
        yield from events


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def api() -> MemoryApi:
    return MemoryApi()


@pytest.fixture
def hosts(qapp: object) -> Iterator[list[SchedulerHost]]:
    """Hosts made by a test; each is stopped and joined when the test ends."""
    made: list[SchedulerHost] = []
    yield made
    for host in made:
        assert host.stop(10_000)
    # Delete them on the GUI thread, not whenever a cyclic GC in another thread gets to them.
    for host in made:
        host.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def make_host(
    hosts: list[SchedulerHost], data_dir: Path, store: Store, api: Any, **kwargs: Any
) -> SchedulerHost:
    factory = api if callable(api) else (lambda context: api)
    host = SchedulerHost(data_dir, store, factory, config=kwargs.pop("config", FAST), **kwargs)
    hosts.append(host)
    return host


def add(store: Store, cron: str = "0 2 * * *", name: str = "nightly", enabled: bool = True) -> Schedule:
    schedule = Schedule(
        id=f"{name}-abc123",
        name=name,
        context="lab",
        cron=cron,
        retain=2,
        enabled=enabled,
        active_since=utcnow(),
    )
    return store.add_schedule(schedule)


def start(qtbot: Any, host: SchedulerHost, state: str = RUNNING) -> HostStatus:
    with qtbot.waitSignal(
        host.status_changed, timeout=5000, check_params_cb=lambda s: s.state == state
    ) as blocker:
        host.start()
    return blocker.args[0]


def test_runs_a_due_schedule_on_its_own_thread(qtbot, tmp_path, store, api, hosts) -> None:
    schedule = add(store, "@every 1s")
    host = make_host(hosts, tmp_path / "data", store, api)
    receivers: list[threading.Thread] = []
    host.run_started.connect(lambda event: receivers.append(threading.current_thread()))
    start(qtbot, host)
    with qtbot.waitSignal(host.run_finished, timeout=10_000) as blocker:
        pass
    event = blocker.args[0]
    assert isinstance(event, RunFinished)
    assert event.run.schedule_id == schedule.id
    assert event.run.outcome == "ready"
    assert event.run.backup in api.created
    assert api.objects[event.run.backup]["metadata"]["labels"][SCHEDULE_LABEL] == schedule.id
    # The engine ran on the scheduler thread; the host's signals arrive on the GUI thread.
    assert api.create_threads
    assert threading.main_thread().ident not in api.create_threads
    assert receivers
    assert all(t is threading.main_thread() for t in receivers)
    assert host.status.runs_schedules


def test_run_now_pause_and_resume_are_queued_commands(qtbot, tmp_path, store, api, hosts) -> None:
    schedule = add(store)
    host = make_host(hosts, tmp_path / "data", store, api)
    events: list[object] = []
    host.run_started.connect(events.append)
    host.run_finished.connect(events.append)
    start(qtbot, host)
    host.run_now(schedule.id)
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in events), timeout=5000)
    started, finished = events
    assert isinstance(started, RunStarted)
    assert isinstance(finished, RunFinished)
    assert started.run.id == finished.run.id
    assert finished.run.outcome == "ready"
    assert "Run now" in finished.run.message
    assert host.runs_in_progress() == ()

    with qtbot.waitSignal(host.schedule_changed, timeout=5000) as paused:
        host.pause(schedule.id)
    assert isinstance(paused.args[0], ScheduleChanged)
    assert paused.args[0].schedule.enabled is False
    assert store.get_schedule(schedule.id).enabled is False
    with qtbot.waitSignal(host.schedule_changed, timeout=5000) as resumed:
        host.resume(schedule.id)
    assert resumed.args[0].schedule.enabled is True


def test_a_failed_run_and_an_unknown_schedule_are_reported(qtbot, tmp_path, store, api, hosts) -> None:
    schedule = add(store)
    api.fail_next = 1
    host = make_host(hosts, tmp_path / "data", store, api)
    start(qtbot, host)
    with qtbot.waitSignal(host.run_finished, timeout=5000) as finished:
        host.run_now(schedule.id)
    assert finished.args[0].run.outcome == "error"
    assert "failed to generate system backup" in finished.args[0].run.message
    with qtbot.waitSignal(host.command_failed, timeout=5000) as failed:
        host.pause("ghost-000000")
    assert failed.args[0] == CommandFailed("pause", "ghost-000000", "the schedule no longer exists")


def test_an_unusable_context_is_an_error_run(qtbot, tmp_path, store, hosts) -> None:
    schedule = add(store)

    def factory(context: str) -> Any:
        raise ContextUnavailable(f"context {context!r} is no longer in the kubeconfig")

    host = make_host(hosts, tmp_path / "data", store, factory)
    start(qtbot, host)
    with qtbot.waitSignal(host.run_finished, timeout=5000) as finished:
        host.run_now(schedule.id)
    assert finished.args[0].run.outcome == "error"
    assert "no longer in the kubeconfig" in finished.args[0].run.message


def test_a_second_host_is_refused_by_the_lock_and_takes_over_later(
    qtbot, tmp_path, store, api, hosts
) -> None:
    schedule = add(store)
    first = make_host(hosts, tmp_path / "data", store, api)
    start(qtbot, first)
    second = make_host(hosts, tmp_path / "data", store, api)
    status = start(qtbot, second, LOCKED)
    assert status.message == f"schedules are run by another lhdesk process (pid {os.getpid()})"
    assert status.owner_pid == os.getpid()
    assert not second.status.runs_schedules
    with qtbot.waitSignal(second.command_failed, timeout=5000) as failed:
        second.run_now(schedule.id)
    assert "does not run the schedules" in failed.args[0].message
    assert api.created == []

    assert first.stop()
    assert first.status.state == STOPPED
    with qtbot.waitSignal(second.status_changed, timeout=5000, check_params_cb=lambda s: s.state == RUNNING):
        pass


def test_stops_and_joins_mid_run_and_the_next_start_adopts(qtbot, tmp_path, store, api, hosts) -> None:
    schedule = add(store)
    api.hold()
    host = make_host(hosts, tmp_path / "data", store, api)
    start(qtbot, host)
    with qtbot.waitSignal(host.run_started, timeout=5000) as started:
        host.run_now(schedule.id)
    run = started.args[0].run
    qtbot.waitUntil(lambda: bool(api.created), timeout=5000)
    assert host.stop(10_000)
    assert not host.started
    # The interrupted run stays "running" in the history, with its backup made.
    assert store.get_run(run.id).outcome == "running"
    assert api.created == [run.backup]

    api.release()
    again = make_host(hosts, tmp_path / "data", store, api)
    with qtbot.waitSignal(
        again.run_finished, timeout=10_000, check_params_cb=lambda e: e.run.id == run.id
    ) as finished:
        again.start()
    assert finished.args[0].run.outcome == "adopted"
    assert api.created == [run.backup]  # no twin


def test_stop_is_idempotent_and_leaves_no_thread(qtbot, tmp_path, store, api, hosts) -> None:
    host = make_host(hosts, tmp_path / "data", store, api)
    assert host.stop()  # never started
    start(qtbot, host)
    assert host.stop()
    assert host.stop()
    assert host.status.state == STOPPED


def test_freshness_rules_are_checked_in_the_scheduler_thread(qtbot, tmp_path, store, api, hosts) -> None:
    store.set_freshness_rule(FreshnessRule("lab", timedelta(hours=26)))
    config = SchedulerConfig(tick_seconds=0.2, observe_interval=None, freshness_interval=timedelta(hours=1))
    host = make_host(
        hosts, tmp_path / "data", store, api, config=config, freshness_rules=store.freshness_rules
    )
    with qtbot.waitSignal(host.freshness_checked, timeout=5000) as checked:
        host.start()
    report = checked.args[0]
    assert isinstance(report, FreshnessChecked)
    (status,) = report.statuses
    assert status.context == "lab"
    assert status.breached
    assert "no Ready system backup at all" in status.message

    schedule = add(store)
    with qtbot.waitSignal(host.run_finished, timeout=5000):
        host.run_now(schedule.id)
    with qtbot.waitSignal(host.freshness_checked, timeout=5000) as again:
        host.check_freshness()
    assert not again.args[0].statuses[0].breached
