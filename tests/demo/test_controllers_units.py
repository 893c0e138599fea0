"""The simulator's plumbing without servers: durations, queue, clock, faults, names, archives."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from lhdesk.core import backupstore as bs
from lhdesk.demo.longhorn.controllers import SimulatorFaults
from lhdesk.demo.longhorn.controllers.archive import (
    build_archive,
    git_commit_for,
    lists_from_objects,
    read_archive,
)
from lhdesk.demo.longhorn.controllers.backup_target import parse_go_duration
from lhdesk.demo.longhorn.controllers.recurring_job import job_object_name
from lhdesk.demo.longhorn.controllers.runtime import Clock, WorkQueue
from lhdesk.demo.longhorn.controllers.system_restore import _by_kind, _merge_crd_versions
from lhdesk.demo.longhorn.controllers.volume_backup import backup_volume_name


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m0s", 300.0),
        ("300s", 300.0),
        ("4m30s", 270.0),
        ("0", 0.0),
        ("", 0.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "5x", "m5", "1h 2m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


def test_work_queue_orders_by_due_time_and_deduplicates() -> None:
    queue = WorkQueue()
    queue.add("late", 0.05)
    queue.add("now")
    queue.add("now")
    queue.add("late", 10.0)  # a later request does not postpone an earlier one
    assert queue.get() == "now"
    started = time.monotonic()
    assert queue.get() == "late"
    assert time.monotonic() - started < 5
    done = threading.Event()
    result: list[str | None] = []

    def consume() -> None:
        result.append(queue.get())
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    queue.close()
    assert done.wait(5)
    thread.join()
    assert result == [None]


def test_clock_scales_durations_and_optionally_cron_time() -> None:
    real = Clock(speed=10)
    assert real.scaled(5.0) == 0.5
    assert abs((real.cron_now() - datetime.now(UTC)).total_seconds()) < 1
    fast = Clock(speed=100, scale_cron=True)
    ahead = fast.cron_now() + timedelta(seconds=50)
    assert fast.cron_delay(ahead) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=0)


def test_faults_are_checked_and_notify() -> None:
    calls: list[int] = []
    faults = SimulatorFaults()
    faults.add_listener(lambda: calls.append(1))
    faults.backup_target_unavailable = True
    faults.fail_system_backup_in = "Generating"
    assert faults.system_backup_fails_in("any", "Generating")
    faults.fail_system_backup("one", "Uploading")
    assert faults.system_backup_fails_in("one", "Uploading")
    assert not faults.system_backup_fails_in("one", "Generating")
    faults.clear_system_backup_failure("one")
    assert faults.system_backup_fails_in("one", "Generating")
    assert len(calls) == 4
    with pytest.raises(ValueError, match="cannot be made to fail"):
        faults.fail_system_backup_in = "Ready"
    assert "backup_target_unavailable=True" in repr(faults)


@pytest.mark.parametrize(
    ("job", "prefix"), [("sb", "sb-c-"), ("nightly-sys", "nightly--"), ("daily-system-backup", "daily-sy-")]
)
def test_job_object_names(job: str, prefix: str) -> None:
    name = job_object_name(job)
    assert name.startswith(prefix)
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", name[len(prefix) :]
    )


def test_backup_volume_names_are_stable_per_target_and_volume() -> None:
    assert backup_volume_name("default", "vol") == backup_volume_name("default", "vol")
    assert backup_volume_name("default", "vol") != backup_volume_name("other", "vol")
    assert backup_volume_name("default", "vol").startswith("bv-")


def test_archive_round_trip_and_layout() -> None:
    volume = {"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "metadata": {"name": "v1"}}
    binding = {"metadata": {"name": "b1"}, "roleRef": {"name": "r1"}}
    lists = lists_from_objects({"Volume": [volume], "ClusterRoleBinding": [binding]})
    assert lists["kubernetes/clusterroles"]["kind"] == "ClusterRoleBindingList"  # longhorn-manager's swap
    meta = bs.SystemBackupMeta("v1.12.1", git_commit_for("v1.12.1"), "v1.31.0", "uid", None, "img")
    data = build_archive("sb", meta, lists)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    assert names[0] == "sb/"
    assert "sb/yamls/longhorn/" in names
    assert "sb/yamls/longhorn/setting.yaml" in names
    read_meta, read_lists = read_archive("sb", data)
    assert read_meta == meta
    assert read_lists["longhorn/volumes"]["items"] == [volume]
    objects = _by_kind(read_lists)
    assert [o["metadata"]["name"] for o in objects["ClusterRoleBinding"]] == ["b1"]
    assert [o["metadata"]["name"] for o in objects["Volume"]] == ["v1"]
    with pytest.raises(ValueError, match="not a system backup archive"):
        read_archive("other", data)
    with pytest.raises(ValueError, match="kinds a system backup does not hold"):
        lists_from_objects({"Secret": []})


def test_the_large_seeds_archives_are_build_archives() -> None:
    # seed_large packs 10,000 archives from YAML dumped once; each must be what build_archive makes.
    from lhdesk.demo.longhorn.seed import _ArchiveBuilder

    meta = bs.SystemBackupMeta("v1.12.1", git_commit_for("v1.12.1"), "v1.31.0", "", None, "img")
    lists = lists_from_objects({"Volume": [{"metadata": {"name": "v1"}}]})
    builder = _ArchiveBuilder(meta, lists)
    for name in ("bench-00000", "bench-00001"):
        expected, packed = build_archive(name, meta, lists), builder.build(name)
        with zipfile.ZipFile(io.BytesIO(expected)) as want, zipfile.ZipFile(io.BytesIO(packed)) as got:
            assert got.namelist() == want.namelist()
            assert all(got.read(entry) == want.read(entry) for entry in want.namelist())
        assert read_archive(name, packed) == read_archive(name, expected)


def test_metadata_yaml_keys() -> None:
    meta = bs.SystemBackupMeta("v1.12.1", "c", "v1.31.0", "uid", None, "img")
    data = build_archive("sb", meta, lists_from_objects(None))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = yaml.safe_load(zf.read("sb/metadata.yaml"))
    assert set(doc) == {
        "longhornVersion",
        "longhornGitCommit",
        "kubernetesVersion",
        "longhornNamspaceUUID",
        "systemBackupCreatedAt",
        "managerImage",
    }


def test_crd_versions_are_added_and_updated_never_removed() -> None:
    live = {"spec": {"versions": [{"name": "v1beta2", "served": True}, {"name": "v1", "served": True}]}}
    backed_up = {
        "spec": {"versions": [{"name": "v1beta2", "served": False}, {"name": "v1beta1", "served": True}]}
    }
    assert _merge_crd_versions(live, backed_up)
    assert live["spec"]["versions"] == [
        {"name": "v1beta2", "served": False},
        {"name": "v1", "served": True},
        {"name": "v1beta1", "served": True},
    ]
    assert not _merge_crd_versions(live, backed_up)
