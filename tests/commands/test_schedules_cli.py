"""``lhdesk schedules …`` and ``lhdesk scheduler run`` without a cluster (the cluster parts run
against the demo cluster in tests/schedule/test_scheduler_demo.py)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from lhdesk.cli import main
from lhdesk.commands.schedules import EXIT_LOCKED, parse_duration
from lhdesk.schedule.lock import acquire_lock
from lhdesk.schedule.model import RunRecord
from lhdesk.schedule.store import Store


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig with two contexts; nothing listens behind them (no command here connects)."""
    path = tmp_path / "kubeconfig"
    cluster = {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": False}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [
                    {"name": "prod", "context": {"cluster": "c", "user": "u"}},
                    {"name": "lab", "context": {"cluster": "c", "user": "u"}},
                ],
                "current-context": "prod",
            }
        )
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_add_list_pause_resume_remove(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    status, out, err = run(
        capsys,
        "schedules",
        "add",
        "--data-dir",
        data,
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "prod",
        "--name",
        "Nightly prod",
        "--cron",
        "0 2 * * *",
        "--retain",
        "5",
        "--policy",
        "always",
        "--catch-up",
        "skip",
        "--json",
    )
    assert status == 0, err
    added = json.loads(out)
    assert added["id"].startswith("nightly-prod-")
    assert (added["context"], added["retain"], added["volume_backup_policy"], added["catch_up"]) == (
        "prod",
        5,
        "always",
        "skip",
    )
    assert added["next_run"].endswith("T02:00:00Z")
    assert added["description"]

    status, out, _ = run(capsys, "schedules", "--data-dir", data, "list", "--json")
    assert status == 0
    (listed,) = json.loads(out)
    assert listed["id"] == added["id"]
    assert listed["enabled"] is True

    status, out, _ = run(capsys, "schedules", "list", "--data-dir", data)
    assert "Nightly prod" in out
    assert "NEXT RUN (UTC)" in out

    assert run(capsys, "schedules", "pause", "--data-dir", data, "Nightly prod")[0] == 0
    status, out, _ = run(capsys, "schedules", "list", "--data-dir", data, "--json")
    assert json.loads(out)[0]["enabled"] is False
    assert json.loads(out)[0]["next_run"] is None
    assert run(capsys, "schedules", "resume", "--data-dir", data, added["id"])[0] == 0
    status, out, _ = run(capsys, "schedules", "list", "--data-dir", data, "--json")
    assert json.loads(out)[0]["enabled"] is True

    status, out, _ = run(capsys, "schedules", "remove", "--data-dir", data, added["id"])
    assert status == 0
    assert "history is kept" in out
    status, out, _ = run(capsys, "schedules", "list", "--data-dir", data, "--json")
    assert json.loads(out) == []
    status, _, err = run(capsys, "schedules", "remove", "--data-dir", data, added["id"])
    assert status == 1
    assert "no such schedule" in err


def test_add_refuses_what_longhorn_would_refuse(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    base = ["schedules", "add", "--data-dir", data, "--kubeconfig", str(kubeconfig), "--name", "x"]
    status, _, err = run(capsys, *base, "--context", "prod", "--cron", "0 0 * * 7")
    assert status == 2
    assert "cron:" in err
    assert "Sunday is 0" in err
    status, _, err = run(capsys, *base, "--context", "prod", "--cron", "@daily", "--retain", "101")
    assert status == 2
    assert "retain:" in err
    status, _, err = run(capsys, *base, "--context", "nope", "--cron", "@daily")
    assert status == 2
    assert "'nope' is not in the kubeconfig" in err
    assert "prod, lab" in err
    status, _, err = run(capsys, *base, "--context", "nope", "--cron", "@daily", "--skip-context-check")
    assert status == 0, err
    status, _, err = run(capsys, *base, "--cron", "@daily")
    assert status == 2
    assert "--context is required" in err


def test_the_global_context_option_is_used_by_add(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    argv = ["--kubeconfig", str(kubeconfig), "--context", "lab", "schedules", "add", "--data-dir", data]
    status, out, err = run(capsys, *argv, "--name", "lab", "--cron", "@every 6h", "--json")
    assert status == 0, err
    assert json.loads(out)["context"] == "lab"


def test_history_json_has_the_documented_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    from datetime import UTC, datetime

    with Store.in_dir(data) as store:
        slot = datetime(2026, 3, 2, 2, tzinfo=UTC)
        store.record_run(
            RunRecord(
                "n-abc123", slot, outcome="ready", backup="lhdesk-n-abc123-20260302020000", context="prod"
            )
        )
        store.record_run(
            RunRecord("n-abc123", slot + timedelta(days=1), outcome="error", message="boom", context="prod")
        )
    status, out, _ = run(capsys, "schedules", "history", "--data-dir", str(data), "--json")
    assert status == 0
    runs = json.loads(out)
    assert [r["outcome"] for r in runs] == ["error", "ready"]
    for r in runs:
        assert {"schedule", "slot", "outcome", "backup", "message"} <= set(r)
    assert runs[1]["slot"] == "2026-03-02T02:00:00Z"
    status, out, _ = run(
        capsys, "schedules", "history", "--data-dir", str(data), "--outcome", "error", "--json"
    )
    assert [r["message"] for r in json.loads(out)] == ["boom"]
    status, out, _ = run(capsys, "schedules", "history", "--data-dir", str(data))
    assert "lhdesk-n-abc123-20260302020000" in out


def test_data_dir_defaults_to_the_environment(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LHDESK_DATA_DIR", str(tmp_path / "env-data"))
    argv = ["schedules", "add", "--kubeconfig", str(kubeconfig), "--context", "prod", "--name", "e"]
    assert run(capsys, *argv, "--cron", "@daily")[0] == 0
    assert (tmp_path / "env-data" / "schedules.sqlite3").exists()


def test_scheduler_run_refuses_when_another_process_runs_schedules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = acquire_lock(tmp_path)
    assert lock is not None
    try:
        status, _, err = run(capsys, "scheduler", "run", "--data-dir", str(tmp_path), "--for", "1s")
    finally:
        lock.release()
    assert status == EXIT_LOCKED
    assert f"schedules are run by another lhdesk process (pid {os.getpid()})" in err


def test_scheduler_run_for_a_while_then_stops(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        "scheduler",
        "run",
        "--data-dir",
        str(tmp_path),
        "--kubeconfig",
        str(kubeconfig),
        "--for",
        "0.3s",
    )
    assert status == 0, err
    assert "lhdesk scheduler: pid" in out
    assert "stopped" in out
    lock = acquire_lock(tmp_path)  # released on the way out
    assert lock is not None
    lock.release()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172800), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "m", "5x", "1h 2m", "-5s"])
def test_parse_duration_refuses(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_freshness_rules_set_list_remove_and_check_unreachable(
    tmp_path: Path, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    status, out, err = run(
        capsys, "schedules", "freshness", "set", "--data-dir", data, "--context", "prod", "--max-age", "26h"
    )
    assert status == 0, err
    status, out, _ = run(capsys, "schedules", "freshness", "list", "--data-dir", data, "--json")
    assert json.loads(out) == [{"context": "prod", "max_age_hours": 26.0}]
    status, _, err = run(
        capsys, "schedules", "freshness", "set", "--data-dir", data, "--context", "lab", "--max-age", "5m"
    )
    assert status == 2
    assert "max_age" in err
    # Nothing listens behind the kubeconfig's server: the rule cannot be checked (exit 1), not stale.
    status, out, _ = run(
        capsys,
        "schedules",
        "freshness",
        "check",
        "--data-dir",
        data,
        "--kubeconfig",
        str(kubeconfig),
        "--json",
    )
    assert status == 1
    (checked,) = json.loads(out)
    assert checked["breached"] is False
    assert checked["error"]
    assert run(capsys, "schedules", "freshness", "remove", "--data-dir", data, "prod")[0] == 0
    assert run(capsys, "schedules", "freshness", "remove", "--data-dir", data, "prod")[0] == 1
