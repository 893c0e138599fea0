"""``lhdesk demo-cluster`` as a user runs it: a process in the foreground, stopped with a signal."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from lhdesk.cli import main

pytestmark = pytest.mark.integration


def test_kubeconfig_is_required_without_attach(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-cluster"]) == 2
    assert "--kubeconfig PATH is required" in capsys.readouterr().err


def test_external_s3_needs_its_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["demo-cluster", "--kubeconfig", str(tmp_path / "k"), "--s3-endpoint", "http://127.0.0.1:9"]
    assert main(argv) == 2
    assert "--s3-access-key and --s3-secret-key" in capsys.readouterr().err


def test_bad_version_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["demo-cluster", "--kubeconfig", "k", "--longhorn-version", "latest"])
    assert caught.value.code == 2
    assert "not a Longhorn version" in capsys.readouterr().err


class Running:
    """A ``lhdesk demo-cluster`` process whose banner has been read."""

    def __init__(self, proc: subprocess.Popen[str], banner: str, kubeconfig: Path) -> None:
        self.proc = proc
        self.banner = banner
        self.kubeconfig = kubeconfig

    def field(self, label: str) -> str:
        match = re.search(rf"^  {label}:\s+(\S+)", self.banner, re.MULTILINE)
        assert match, self.banner
        return match.group(1)


@pytest.fixture(params=["builtin", "real"])
def running(
    request: pytest.FixtureRequest, tmp_path: Path, backend_guard: Callable[[str], None]
) -> Iterator[Running]:
    backend = str(request.param)
    backend_guard(backend)
    kubeconfig = tmp_path / "demo.kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lhdesk",
            "demo-cluster",
            "--kubeconfig",
            str(kubeconfig),
            "--backend",
            backend,
            "--seed",
            "none",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl+C" in line:
            break
    try:
        assert lines, proc.stderr.read() if proc.stderr else ""
        assert "Ctrl+C" in lines[-1], "".join(lines)
        yield Running(proc, "".join(lines), kubeconfig)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)


def test_runs_until_a_signal_and_serves_kubectl(running: Running, tmp_path: Path) -> None:
    api = running.field("API server")
    assert api.startswith("https://127.0.0.1:")
    assert running.field("S3 endpoint").startswith("http://127.0.0.1:")
    assert running.field("kubeconfig") == str(running.kubeconfig)
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(running.kubeconfig)}

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "-n", "longhorn-system", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    got = kubectl("get", "backuptargets.longhorn.io", "default", "-o", "jsonpath={.spec.backupTargetURL}")
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("s3://lhdesk-demo-")
    bad = yaml.safe_dump(
        {
            "apiVersion": "longhorn.io/v1beta2",
            "kind": "RecurringJob",
            "metadata": {"name": "cli-bad"},
            "spec": {"task": "backup", "cron": "0 0 * * *", "retain": 101},
        }
    )
    refused = kubectl("apply", "--dry-run=server", "-f", "-", stdin=bad)
    assert refused.returncode != 0
    assert "retain value should be less than or equal to 100" in refused.stderr
    forbidden = kubectl("--context", "demo-readonly", "delete", "backuptargets.longhorn.io", "default")
    assert forbidden.returncode != 0
    assert "Forbidden" in forbidden.stderr

    running.proc.send_signal(signal.SIGINT)
    # Stopping waits for the simulator's watches to end (up to their 10 s timeout on the built-in server).
    out, _ = running.proc.communicate(timeout=120)
    assert running.proc.returncode == 0
    assert "Stopping the demo cluster" in out
    port = int(api.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
