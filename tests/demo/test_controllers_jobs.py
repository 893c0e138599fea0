"""The simulator's RecurringJob runner: cron in UTC, executionCount, system-backup and backup tasks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# ``make_longhorn`` (tests/demo/conftest.py): a running simulator over a real API server and moto S3.
Longhorn = Any
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
LABEL = "recurring-job.longhorn.io/system-backup"


def _count(job: dict[str, Any]) -> int:
    return int((job.get("status") or {}).get("executionCount") or 0)


def _job(name: str, task: str, cron: str, retain: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "name": name,
            "task": task,
            "cron": cron,
            "retain": retain,
            "concurrency": 2,
            "groups": [],
            "labels": {},
            "parameters": {},
            **spec,
        },
    }


def _settled_with(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    def check(backups: list[dict[str, Any]]) -> bool:
        states = [(b.get("status") or {}).get("state") for b in backups]
        return len(states) == count and all(s in ("Ready", "Error") for s in states)

    return check


def _keeps_exactly_two(lh: Longhorn, job: str, runs: int) -> list[dict[str, Any]]:
    lh.wait_for("recurringjobs", job, lambda o: _count(o) >= runs, timeout=40)
    lh.delete("recurringjobs", job)  # no more slots; a run still going ends and applies retention
    assert lh.sim.wait_jobs_idle(30)
    return lh.wait_list("systembackups", _settled_with(2), label_selector=f"{LABEL}={job}", timeout=30)


def test_system_backup_job_keeps_exactly_retain_backups(make_longhorn: Callable[..., Longhorn]) -> None:
    lh = make_longhorn(speed=40)
    lh.create(
        "recurringjobs",
        _job("sysbk", "system-backup", "@every 1s", 2, parameters={"volume-backup-policy": "disabled"}),
    )
    kept = _keeps_exactly_two(lh, "sysbk", runs=3)
    for backup in kept:
        assert re.fullmatch(rf"sysbk-c-{UUID4}", backup["metadata"]["name"])
        assert backup["metadata"]["labels"] == {LABEL: "sysbk"}
        assert backup["spec"]["volumeBackupPolicy"] == "disabled"
        assert backup["status"]["state"] == "Ready"
    # Only this job's backups are counted: a manual one is left alone.
    assert lh.get("recurringjobs", "sysbk") is None


def test_every_5s_with_scaled_cron_keeps_two(make_longhorn: Callable[..., Longhorn]) -> None:
    """The issue's case: cron ``@every 5s``, retain 2, at a speed that makes it quick (cron scaled too)."""
    lh = make_longhorn(speed=20, scale_cron=True)
    lh.create(
        "systembackups", {"metadata": {"name": "manual-one"}, "spec": {"volumeBackupPolicy": "disabled"}}
    )
    lh.create("recurringjobs", _job("every5", "system-backup", "@every 5s", 2))
    kept = _keeps_exactly_two(lh, "every5", runs=3)
    # The name is the first 8 characters of "<job>-c": "every5-c".
    assert all(re.fullmatch(rf"every5-c-{UUID4}", b["metadata"]["name"]) for b in kept)
    assert lh.get("systembackups", "manual-one") is not None


def test_failed_system_backups_are_deleted_before_ready_ones(make_longhorn: Callable[..., Longhorn]) -> None:
    """Newer Error backups sort first (no createdAt) and go before older Ready ones."""
    lh = make_longhorn(speed=20, scale_cron=True)
    lh.create("recurringjobs", _job("failing", "system-backup", "@every 2s", 2))

    def two_ready(backups: list[dict[str, Any]]) -> bool:
        return sum((b.get("status") or {}).get("state") == "Ready" for b in backups) >= 2

    lh.wait_list("systembackups", two_ready, label_selector=f"{LABEL}=failing", timeout=30)
    lh.faults.fail_system_backup_in = "Generating"
    runs = _count(lh.get("recurringjobs", "failing"))
    lh.wait_for("recurringjobs", "failing", lambda o: _count(o) >= runs + 2, timeout=30)
    errors_seen = lh.wait_list(
        "systembackups",
        lambda bs: all((b.get("status") or {}).get("state") in ("Ready", "Error") for b in bs),
        label_selector=f"{LABEL}=failing",
        timeout=30,
    )
    lh.delete("recurringjobs", "failing")
    assert lh.sim.wait_jobs_idle(30)
    kept = lh.wait_list("systembackups", _settled_with(2), label_selector=f"{LABEL}=failing", timeout=30)
    assert [b["status"]["state"] for b in kept] == ["Ready", "Ready"], errors_seen


def test_execution_count_only_for_snapshot_tasks(make_longhorn: Callable[..., Longhorn]) -> None:
    lh = make_longhorn(speed=20, scale_cron=True)
    lh.create("recurringjobs", _job("snap", "snapshot", "@every 5s", 3))
    lh.wait_for("recurringjobs", "snap", lambda o: _count(o) >= 2, timeout=20)
    assert lh.items("systembackups") == []
    assert lh.items("backups") == []


def test_backup_job_backs_up_covered_volumes_with_retention(make_longhorn: Callable[..., Longhorn]) -> None:
    lh = make_longhorn(speed=20, scale_cron=True)
    lh.add_volume("vol-in", state="attached", labels={"recurring-job.longhorn.io/nightly": "enabled"})
    lh.add_volume("vol-out", state="attached", labels={"recurring-job.longhorn.io/other": "enabled"})
    lh.add_volume("vol-detached", state="detached", labels={"recurring-job.longhorn.io/nightly": "enabled"})
    lh.create(
        "recurringjobs",
        _job(
            "nightly",
            "backup",
            "@every 5s",
            2,
            labels={"team": "storage"},
            parameters={"full-backup-interval": "2"},
        ),
    )
    lh.wait_for("recurringjobs", "nightly", lambda o: _count(o) >= 3, timeout=40)
    lh.delete("recurringjobs", "nightly")
    assert lh.sim.wait_jobs_idle(30)

    def settled(backups: list[dict[str, Any]]) -> bool:
        states = [(b.get("status") or {}).get("state") for b in backups]
        return len(states) == 2 and all(s == "Completed" for s in states)

    kept = lh.wait_list("backups", settled, label_selector="backup-volume=vol-in", timeout=30)
    for backup in kept:
        assert backup["spec"]["labels"] == {"team": "storage", "RecurringJob": "nightly"}
        assert backup["status"]["labels"]["RecurringJob"] == "nightly"
        assert backup["spec"]["backupMode"] in ("full", "incremental")
        assert re.fullmatch(rf"nightly--{UUID4}", backup["spec"]["snapshotName"])
    assert lh.items("backups", "backup-volume=vol-out") == []
    assert lh.items("backups", "backup-volume=vol-detached") == []
    # Deleted backups are gone from the backupstore too: exactly the kept cfgs remain.
    from lhdesk.core import backupstore as bs

    cfgs = [k for k in lh.keys(bs.backups_dir("vol-in")) if k.endswith(".cfg")]
    assert sorted(cfgs) == sorted(bs.backup_cfg_path("vol-in", b["metadata"]["name"]) for b in kept)
