"""The scheduler against the demo cluster over HTTPS: runs, retention, failures, observed runs,
and the crash and two-process tests with real ``lhdesk scheduler run`` processes.

Every test runs on both API-server backends (``backend``). The clusters come from the suite's
``demo_cluster_factory``, on Longhorn v1.8.2: the versions without a ``system-backup`` RecurringJob
task are what workstation schedules are for, and so its seed has no SystemBackups of such a job
(observed runs must be the tests' own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lhdesk.demo.cluster import ADMIN_CONTEXT, DemoCluster
from lhdesk.kube.gateway import LonghornGateway
from lhdesk.schedule.clock import SystemClock
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.engine import Engine, EngineEvent, RunFinished
from lhdesk.schedule.model import KIND_RECURRING_JOB, Schedule
from lhdesk.schedule.naming import (
    RECURRING_JOB_LABEL,
    backup_name,
    schedule_labels,
    schedule_selector,
    slot_from_backup_name,
)
from lhdesk.schedule.runner import follow_until_final, observe_cluster_runs, run_once
from lhdesk.schedule.store import Store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


# Shared with tests/commands/test_contexts_cli.py and tests/demo/cluster (same arguments, same cluster).
FAST = {"longhorn_version": "v1.8.2", "seed": "small", "speed": 20.0}


@pytest.fixture
def demo(demo_cluster_factory: Callable[..., DemoCluster]) -> DemoCluster:
    """A fast demo cluster: a SystemBackup goes from creation to Ready in a fraction of a second."""
    return demo_cluster_factory(**FAST)


@pytest.fixture
def factory(demo: DemoCluster) -> Iterator[KubeconfigApiFactory]:
    made = KubeconfigApiFactory(demo.kubeconfig_path)
    yield made
    made.close()


@pytest.fixture
def gateway(factory: KubeconfigApiFactory) -> LonghornGateway:
    api = factory(ADMIN_CONTEXT)
    assert isinstance(api, LonghornGateway)
    return api


def make_schedule(schedule_id: str, **kw: Any) -> Schedule:
    base = Schedule(
        id=schedule_id,
        name=schedule_id,
        context=ADMIN_CONTEXT,
        cron="@every 2s",
        retain=2,
        active_since=datetime.now(UTC),
    )
    return base.replace(**kw)


def live_names(gateway: LonghornGateway, selector: str) -> list[str]:
    items, _ = gateway.list("systembackups", label_selector=selector)
    return sorted(i["metadata"]["name"] for i in items if not i["metadata"].get("deletionTimestamp"))


def wait_until_names(gateway: LonghornGateway, selector: str, count: int, timeout: float = 60) -> list[str]:
    """Watch until exactly ``count`` backups match ``selector`` (deletions finish asynchronously)."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            items, version = gateway.list("systembackups", label_selector=selector)
            if len(items) == count:
                return sorted(i["metadata"]["name"] for i in items)
            for _ in gateway.watch("systembackups", version, 2, label_selector=selector):
                break
    finally:
        timer.cancel()
        timer.join()
    raise AssertionError(f"{selector}: never {count} backups")


@pytest.mark.slow
def test_every_2s_with_retain_2_keeps_exactly_2_and_records_every_run(
    tmp_path: Path, factory: KubeconfigApiFactory, gateway: LonghornGateway
) -> None:
    store = Store.in_dir(tmp_path)
    schedule = store.add_schedule(make_schedule("every-aaaaaa"))
    finished: list[Any] = []
    enough = threading.Event()

    def listener(event: EngineEvent) -> None:
        if isinstance(event, RunFinished) and event.run.outcome in ("ready", "error", "adopted"):
            finished.append(event.run)
            if len(finished) >= 5:
                engine.stop()  # from the engine's own thread: no sixth run starts
                enough.set()

    engine = Engine(store, factory, listener=listener, observe_interval=None)
    thread = threading.Thread(target=engine.serve, name="lhdesk-scheduler")
    thread.start()
    try:
        assert enough.wait(60), f"only {len(finished)} runs finished"
    finally:
        engine.stop()
        thread.join(30)
    assert not thread.is_alive()
    runs = store.history(schedule_id=schedule.id, outcomes=["ready", "error", "adopted", "running"])
    assert len(runs) == 5
    assert {r.outcome for r in runs} == {"ready"}
    # Each run is its own slot and its own SystemBackup, named after the slot.
    for r in runs:
        assert r.backup == backup_name(schedule.id, r.slot)
        assert r.finished is not None
    remaining = wait_until_names(gateway, schedule_selector(schedule.id), 2)
    newest_two = sorted(r.backup for r in runs[:2])
    assert remaining == newest_two
    pruned = {name for r in runs for name in r.pruned}
    assert pruned == {r.backup for r in runs} - set(remaining)
    # Every SystemBackup carries lhdesk's labels.
    for name in remaining:
        labels = gateway.get("systembackups", name)["metadata"]["labels"]
        assert schedule_labels(schedule.id).items() <= labels.items()
    store.close()


def test_a_failed_run_is_recorded_with_longhorns_reason(
    tmp_path: Path, demo: DemoCluster, gateway: LonghornGateway
) -> None:
    with Store.in_dir(tmp_path) as store:
        schedule = store.add_schedule(make_schedule("failing-bbbbbb", cron="0 0 1 1 *"))
        slot = datetime(2026, 1, 1, tzinfo=UTC)
        demo.faults.fail_system_backup(backup_name(schedule.id, slot), "Uploading")
        try:
            record = run_once(gateway, schedule, slot, store)
        finally:
            demo.faults.clear_system_backup_failure(backup_name(schedule.id, slot))
        assert record.outcome == "error"
        assert "Upload:" in record.message
        assert store.history(schedule_id=schedule.id)[0].outcome == "error"


def test_observed_recurring_job_backups_join_the_history(tmp_path: Path, gateway: LonghornGateway) -> None:
    """SystemBackups labelled as Longhorn's system-backup jobs label them are recorded, once each."""
    name = "nightly--" + os.urandom(4).hex()
    gateway.create(
        "systembackups",
        {"metadata": {"name": name, "labels": {RECURRING_JOB_LABEL: "nightly"}}, "spec": {}},
    )
    with Store.in_dir(tmp_path) as store:
        (first,) = observe_cluster_runs(gateway, store, ADMIN_CONTEXT)
        assert (first.backup, first.kind) == (name, KIND_RECURRING_JOB)
        # Follow it to Ready, then observe again: the same line is updated, no second line.
        follow_until_final(
            gateway, name, timeout=timedelta(seconds=30), stop_event=threading.Event(), clock=SystemClock()
        )
        observe_cluster_runs(gateway, store, ADMIN_CONTEXT)
        (record,) = store.history(kind=KIND_RECURRING_JOB)
        assert (record.schedule_id, record.outcome, record.context) == ("nightly", "ready", ADMIN_CONTEXT)
        assert observe_cluster_runs(gateway, store, ADMIN_CONTEXT) == []


# -- real processes -------------------------------------------------------------------------------


class Scheduler:
    """A ``python -m lhdesk scheduler run`` child process whose output is read line by line."""

    def __init__(self, data_dir: Path, kubeconfig: Path, *extra: str) -> None:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lhdesk", "scheduler", "run", "--data-dir", str(data_dir), *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def read_until(self, needle: str, timeout: float = 60) -> str:
        """Block until a stdout line contains ``needle``; the timer kills a hung child."""
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                if needle in line:
                    return line
        finally:
            timer.cancel()
            timer.join()
        raise AssertionError(f"no line with {needle!r}; output: {''.join(self.lines)}")

    def close(self) -> None:
        """Kill the child if it still runs and collect it (no pipe or zombie left behind)."""
        if self.proc.poll() is None:
            self.proc.kill()
        assert self.proc.stdout is not None
        if not self.proc.stdout.closed:
            self.proc.communicate()

    def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 60) -> tuple[int, str, str]:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "".join(self.lines) + out, err


@pytest.fixture
def slow_demo(demo_cluster_factory: Callable[..., DemoCluster]) -> DemoCluster:
    """A slow demo cluster: a SystemBackup takes a few seconds, so a run can be killed midway."""
    return demo_cluster_factory(longhorn_version="v1.8.2", seed="none", speed=1.0)


@pytest.mark.slow
def test_killed_mid_run_then_restarted_adopts_and_makes_no_duplicate(
    tmp_path: Path, slow_demo: DemoCluster
) -> None:
    data = tmp_path / "data"
    with Store.in_dir(data) as store:
        schedule = store.add_schedule(make_schedule("crash-cccccc", cron="@every 3s", retain=5))
    first = Scheduler(data, slow_demo.kubeconfig_path)
    second: Scheduler | None = None
    factory = KubeconfigApiFactory(slow_demo.kubeconfig_path)
    try:
        started = first.read_until(f"started  {schedule.id}")
        name = started.rsplit("backup ", 1)[1].strip()
        gateway = factory(ADMIN_CONTEXT)
        # The SystemBackup exists (created by the child) and is still in progress: kill now.
        wait_until_names(gateway, schedule_selector(schedule.id), 1)
        assert (gateway.get("systembackups", name).get("status") or {}).get("state") != "Ready"
        status, _, _ = first.finish(signal.SIGKILL)
        assert status == -signal.SIGKILL
        with Store.in_dir(data) as store:
            (interrupted,) = store.unfinished_runs()
        assert interrupted.backup == name

        second = Scheduler(data, slow_demo.kubeconfig_path)
        line = second.read_until(f"adopted  {schedule.id}")
        assert name in line
        status, out, err = second.finish(signal.SIGTERM)
        assert status == 0, err
        assert "stopped" in out

        with Store.in_dir(data) as store:
            record = store.run_for_slot(schedule.id, interrupted.slot)
        assert record is not None
        assert (record.id, record.outcome) == (interrupted.id, "adopted")
        # One SystemBackup per slot, never two.
        items, _ = gateway.list("systembackups", label_selector=schedule_selector(schedule.id))
        slots = [slot_from_backup_name(schedule.id, i["metadata"]["name"]) for i in items]
        assert None not in slots
        assert len(slots) == len(set(slots))
        assert slots.count(interrupted.slot) == 1
    finally:
        first.close()
        if second is not None:
            second.close()
        factory.close()


def test_two_processes_started_together_only_one_runs_schedules(tmp_path: Path, demo: DemoCluster) -> None:
    data = tmp_path / "data"
    with Store.in_dir(data) as store:
        store.add_schedule(make_schedule("twice-dddddd", cron="0 0 1 1 *"))
    procs = [Scheduler(data, demo.kubeconfig_path, "--for", "30s") for _ in range(2)]
    one_exited = threading.Event()

    def wait(proc: Scheduler) -> None:
        proc.proc.wait()
        one_exited.set()

    waiters = [threading.Thread(target=wait, args=(p,)) for p in procs]
    for waiter in waiters:
        waiter.start()
    try:
        assert one_exited.wait(30), "neither process exited: both run schedules?"
        codes = [p.proc.poll() for p in procs]
        losers = [p for p, code in zip(procs, codes, strict=True) if code is not None]
        winners = [p for p, code in zip(procs, codes, strict=True) if code is None]
        assert len(losers) == 1, codes
        assert len(winners) == 1, codes
        winner = winners[0]
        winner.read_until("lhdesk scheduler: pid")
        status, _, err = losers[0].finish(None)
        assert status == 3
        assert f"schedules are run by another lhdesk process (pid {winner.proc.pid})" in err
        status, out, err = winner.finish(signal.SIGTERM)
        assert status == 0, err
        assert "stopped" in out
    finally:
        for p in procs:
            p.close()
        for waiter in waiters:
            waiter.join()
