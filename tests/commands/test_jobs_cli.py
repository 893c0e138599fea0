"""``lhdesk jobs validate`` and ``lhdesk cron``: headless RecurringJob checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lhdesk.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "longhorn-examples"

BAD_JOBS = """\
apiVersion: longhorn.io/v1beta2
kind: RecurringJob
metadata:
  name: good-one
spec:
  task: snapshot
  cron: "0 * * * *"
  retain: 3
  groups: [default]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-job
---
apiVersion: longhorn.io/v1beta2
kind: RecurringJob
metadata:
  name: bad-one
spec:
  task: backup
  cron: "0 0 * * 7"
  retain: 500
  concurrency: -1
  parameters:
    volume-backup-policy: always
---
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --------------------------------------------------------------------------- jobs validate


def test_the_shared_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))
    assert main(["jobs", "validate", *files, "--longhorn-version", "v1.12.1"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert f"{files[0]}:0 snapshot-1: ok" in lines
    assert f"{files[1]}:0 demo: ok" in lines
    assert f"{files[2]}:0 recurring-full-backup-per-min: ok" in lines
    assert f"{files[3]}:0 daily-system-backup: ok" in lines
    assert f"{files[4]}:0: skipped (kind SystemBackup, not a RecurringJob)" in lines
    # what admission changes is said on stderr
    assert f"note: {files[2]}:0 recurring-full-backup-per-min: spec.retain: 0 becomes 1 on admission" in err
    assert f"note: {files[1]}:0 demo: spec.concurrency: 0 becomes 10 on admission" in err


def test_errors_one_line_each_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "jobs.yaml", BAD_JOBS)
    assert main(["jobs", "validate", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path}:0 good-one: ok"
    assert f"{path}:1: skipped (kind ConfigMap, not a RecurringJob)" in lines
    bad = [line for line in lines if line.startswith(f"{path}:2 bad-one: ")]
    fields = [line.removeprefix(f"{path}:2 bad-one: ").split(":")[0] for line in bad]
    assert fields == ["spec.cron", "spec.retain", "spec.concurrency", "spec.parameters.volume-backup-policy"]
    assert f"{path}:2 bad-one: spec.cron: End of range (7) above maximum (6): 7" in "\n".join(bad)
    assert "retain value should be less than or equal to 100" in "\n".join(bad)


def test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "jobs.yaml", BAD_JOBS)
    assert main(["jobs", "validate", path, "--json", "--max-retention", "250"]) == 1
    results = json.loads(capsys.readouterr().out)
    assert [(r["index"], r["name"], r["valid"]) for r in results] == [
        (0, "good-one", True),
        (2, "bad-one", False),
    ]
    good, bad = results
    assert set(good) == {"file", "index", "item", "name", "valid", "errors", "notes"}
    assert good["file"] == path
    assert good["errors"] == []
    assert {"field": "spec.concurrency", "message": "must be at least 1"} in bad["errors"]
    assert any("less than or equal to 250" in e["message"] for e in bad["errors"])


def test_longhorn_version_gates_system_backup(capsys: pytest.CaptureFixture[str]) -> None:
    (path,) = EXAMPLES.glob("02-*.yaml")
    assert main(["jobs", "validate", str(path), "--longhorn-version", "v1.8.2"]) == 1
    out = capsys.readouterr().out
    assert "spec.task: the system-backup task needs Longhorn v1.9.0 or later; this cluster runs v1.8.2" in out
    assert main(["jobs", "validate", str(path)]) == 0  # unknown version: no version check


def test_a_kubectl_list_is_checked_item_by_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "longhorn.io/v1beta2",
                "kind": "RecurringJob",
                "metadata": {"name": "a1", "namespace": "longhorn-system"},
                "spec": {
                    "name": "a1",
                    "task": "filesystem-trim",
                    "cron": "@weekly",
                    "retain": 0,
                    "concurrency": 1,
                },
            },
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
            {
                "apiVersion": "longhorn.io/v1beta2",
                "kind": "RecurringJob",
                "metadata": {"name": "B2"},
                "spec": {"task": "snapshot", "cron": "@daily", "retain": 1, "concurrency": 1},
            },
        ],
    }
    path = write(tmp_path, "list.json", json.dumps(listing))  # JSON is YAML too
    assert main(["jobs", "validate", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert f"{path}:0.0 a1: ok" in lines
    assert f"{path}:0.1: skipped (not a RecurringJob)" in lines
    assert any(line.startswith(f"{path}:0.2 B2: metadata.name: ") for line in lines)


def test_wrong_types_and_api_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = """\
apiVersion: longhorn.io/v1beta1
kind: RecurringJob
metadata: {name: typed}
spec: {task: backup, cron: "@daily", retain: "3", parameters: {full-backup-interval: 5}}
"""
    path = write(tmp_path, "typed.yaml", text)
    assert main(["jobs", "validate", path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:0 typed: apiVersion: must be longhorn.io/v1beta2" in out
    assert f"{path}:0 typed: spec.retain: must be an integer, not a string" in out
    assert "spec.parameters.full-backup-interval: must be a string, not a number (quote it)" in out


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.yaml", BAD_JOBS.split("---")[0])
    missing = str(tmp_path / "missing.yaml")
    assert main(["jobs", "validate", good, missing]) == 2
    out, err = capsys.readouterr()
    assert f"{good}:0 good-one: ok" in out
    assert f"{missing}: cannot read the file: No such file or directory" in err


def test_yaml_error_exits_2_after_the_documents_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "broken.yaml", BAD_JOBS.split("---")[0] + "---\nspec: [unclosed\n")
    assert main(["jobs", "validate", path, "--json"]) == 2
    results = json.loads(capsys.readouterr().out)
    assert results[0]["name"] == "good-one"
    assert results[1]["index"] is None
    assert results[1]["valid"] is False
    assert results[1]["errors"][0]["message"].startswith("not valid YAML:")


def test_no_recurring_job_at_all_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert main(["jobs", "validate", path]) == 1
    out, err = capsys.readouterr()
    assert "skipped (kind ConfigMap" in out
    assert "no RecurringJob objects found" in err


def test_bad_longhorn_version_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["jobs", "validate", "x.yaml", "--longhorn-version", "latest"])
    assert exit_.value.code == 2
    assert "not a Longhorn version" in capsys.readouterr().err


# --------------------------------------------------------------------------- cron


def test_cron_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "0 21 * * *", "--from", "2026-12-04T20:30:00Z", "--count", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "valid: yes",
        "description: At 21:00 (cluster time, usually UTC)",
        "next runs (UTC):",
        "  2026-12-04T21:00:00Z",
        "  2026-12-05T21:00:00Z",
    ]


def test_cron_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["cron", "0 0 1,15 * mon", "--from", "2026-06-01T00:00:00+02:00", "--count", "3", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "valid": True,
        "error": None,
        "description": "At 00:00, on day 1 and 15 of the month, or on Monday",
        "next": ["2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z", "2026-06-15T00:00:00Z"],
        "warnings": [],
    }


def test_cron_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "0 0 * * * *", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert result["error"].startswith("Expected exactly 5 fields, found 6: 0 0 * * * *")
    assert result["description"] is None
    assert result["next"] == []
    assert main(["cron", "0 0 L * *"]) == 1
    assert capsys.readouterr().out.startswith("invalid: Failed to parse int from L")


def test_cron_every_counts_from_the_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "@every 300ms", "--from", "2026-12-04T20:30:00", "--count", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["description"] == "Every 1 second"
    assert result["next"] == ["2026-12-04T20:30:01Z", "2026-12-04T20:30:02Z"]
    assert "300ms becomes 1s" in result["warnings"][0]


def test_cron_that_never_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cron", "0 0 30 2 *"]) == 0  # Longhorn accepts it
    out = capsys.readouterr().out
    assert "warning: this schedule never runs" in out
    assert "  none" in out


def test_cron_bad_from_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["cron", "@daily", "--from", "yesterday"])
    assert exit_.value.code == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err


def test_python_dash_m_cron() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lhdesk",
            "cron",
            "@every 1h30m",
            "--from",
            "2026-12-04T20:30:00Z",
            "--count",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["next"] == ["2026-12-04T22:00:00Z"]
