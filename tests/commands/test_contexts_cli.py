"""``lhdesk contexts [--kubeconfig PATH] [--check] [--json]``: the listing, the states, the exit status."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lhdesk.cli import main
from lhdesk.demo.apiserver import SERVER_VERSION
from lhdesk.demo.pki import CertificateAuthority
from lhdesk.demo.realapi import K8S_VERSION

KEYS = [
    "name",
    "cluster",
    "server",
    "user",
    "namespace",
    "state",
    "kubernetes_version",
    "longhorn_version",
    "message",
]
CA_DATA = base64.b64encode(CertificateAuthority.generate().cert_pem).decode()


def write_config(
    path: Path,
    clusters: dict[str, Any],
    users: dict[str, Any],
    contexts: dict[str, Any],
    current: str | None = None,
) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": b} for n, b in clusters.items()],
        "users": [{"name": n, "user": b} for n, b in users.items()],
        "contexts": [{"name": n, "context": b} for n, b in contexts.items()],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["contexts", "--json", *args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list)
    return rows


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def blackhole() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


# --- listing (no network) ------------------------------------------------------------------------


def test_json_listing_has_the_documented_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        tmp_path / "config",
        {"c": {"server": "https://10.0.0.1:6443", "certificate-authority-data": CA_DATA}},
        {"u": {"token": "t0k3n-0123456789abcdef"}},
        {
            "prod": {"cluster": "c", "user": "u", "namespace": "longhorn-system"},
            "ghost": {"cluster": "c", "user": "nobody"},
        },
        current="prod",
    )
    rows = run_json(capsys, "--kubeconfig", str(path))
    assert [list(row) for row in rows] == [KEYS, KEYS]
    assert rows[0] == {
        "name": "prod",
        "cluster": "c",
        "server": "https://10.0.0.1:6443",
        "user": "u",
        "namespace": "longhorn-system",
        "state": "unknown",
        "kubernetes_version": None,
        "longhorn_version": None,
        "message": "Not checked yet.",
    }
    assert rows[1]["state"] == "invalid"
    assert "user 'nobody' is not defined" in rows[1]["message"]


def test_table_listing_marks_the_current_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        tmp_path / "config",
        {"c": {"server": "https://10.0.0.1:6443"}},
        {},
        {"a": {"cluster": "c"}, "b": {"cluster": "c"}},
        current="b",
    )
    assert main(["--kubeconfig", str(path), "contexts"]) == 0  # the global option works too
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["CURRENT", "NAME", "CLUSTER"]
    assert lines[1].split()[0] == "a"
    assert lines[2].split()[:2] == ["*", "b"]


def test_kubeconfig_list_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_config(tmp_path / "a", {"c": {"server": "https://a:6443"}}, {}, {"dup": {"cluster": "c"}})
    b = write_config(
        tmp_path / "b",
        {"c": {"server": "https://b:6443"}},
        {},
        {"dup": {"cluster": "c"}, "only-b": {"cluster": "c"}},
    )
    monkeypatch.setenv("KUBECONFIG", f"{a}:{tmp_path / 'missing'}:{b}")
    rows = run_json(capsys)
    assert [(r["name"], r["server"]) for r in rows] == [
        ("dup", "https://a:6443"),
        ("only-b", "https://a:6443"),
    ]


def test_missing_explicit_kubeconfig_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contexts", "--kubeconfig", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert str(tmp_path / "nope") in err


def test_no_kubeconfig_anywhere_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    assert main(["contexts", "--check"]) == 1
    assert "no kubeconfig found" in capsys.readouterr().err


def test_unknown_context_name_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "config", {"c": {"server": "https://a:6443"}}, {}, {"a": {"cluster": "c"}})
    assert main(["contexts", "--kubeconfig", str(path), "zzz"]) == 1
    assert "no context named 'zzz'" in capsys.readouterr().err


# --- checking, without a cluster -----------------------------------------------------------------


def test_check_local_failures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    closed_port: int,
    blackhole: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No login shell to ask for its PATH (tested in tests/kube): this test times the probes only.
    monkeypatch.setenv("SHELL", "")
    path = write_config(
        tmp_path / "config",
        {
            "closed": {"server": f"https://127.0.0.1:{closed_port}"},
            "hole": {"server": f"https://127.0.0.1:{blackhole}"},
        },
        {
            "sso": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "lhdesk-no-such-sso-plugin",
                }
            }
        },
        {
            "closed": {"cluster": "closed"},
            "hung": {"cluster": "hole"},
            "sso": {"cluster": "closed", "user": "sso"},
            "broken": {"cluster": "gone"},
        },
    )
    started = time.monotonic()
    rows = run_json(capsys, "--kubeconfig", str(path), "--check", "--timeout", "1")
    assert time.monotonic() - started < 1 + 1.5
    states = {r["name"]: (r["state"], r["message"]) for r in rows}
    assert states["closed"][0] == "unreachable"
    assert "connection refused" in states["closed"][1]
    assert states["hung"][0] == "unreachable"
    assert "no answer in time" in states["hung"][1]
    assert states["sso"][0] == "auth-required"
    assert "lhdesk-no-such-sso-plugin" in states["sso"][1]
    assert states["broken"][0] == "invalid"


# --- checking against the demo cluster, on both API-server backends ---------------------------------

# What /version says (a documented difference: tests/demo/test_backend_differences.py).
KUBERNETES_VERSION = {"builtin": SERVER_VERSION["gitVersion"], "real": K8S_VERSION}


@pytest.fixture
def demo_182_kubeconfig(demo_cluster_factory: Callable[..., Any], tmp_path: Path) -> Path:
    """A demo cluster on Longhorn v1.8.2, plus wrong-token and wrong-ca contexts pointing at it.

    The cluster is shared with tests/schedule/test_scheduler_demo.py and tests/demo/cluster (same
    arguments, one start).
    """
    demo = demo_cluster_factory(longhorn_version="v1.8.2", seed="small", speed=20.0)
    doc = yaml.safe_load(demo.kubeconfig_path.read_text())
    cluster = doc["clusters"][0]
    doc["clusters"].append(
        {
            "name": "wrong-ca",
            "cluster": {"server": cluster["cluster"]["server"], "certificate-authority-data": CA_DATA},
        }
    )
    doc["users"].append({"name": "stale", "user": {"token": "an-expired-token-0123456789"}})
    doc["contexts"].append({"name": "wrong-token", "context": {"cluster": cluster["name"], "user": "stale"}})
    doc["contexts"].append({"name": "wrong-ca", "context": {"cluster": "wrong-ca", "user": "demo-admin"}})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.integration
def test_check_states_against_the_demo(
    demo_182_kubeconfig: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {r["name"]: r for r in run_json(capsys, "--kubeconfig", str(demo_182_kubeconfig), "--check")}
    assert list(rows) == ["demo-admin", "demo-readonly", "wrong-token", "wrong-ca"]
    admin = rows["demo-admin"]
    assert admin["state"] == "connected", admin["message"]
    assert admin["longhorn_version"] == "v1.8.2"
    assert admin["kubernetes_version"] == KUBERNETES_VERSION[backend]
    assert "system-backup recurring jobs need Longhorn v1.9.0 or later" in admin["message"]
    readonly = rows["demo-readonly"]
    assert readonly["state"] == "forbidden"
    assert readonly["longhorn_version"] == "v1.8.2"
    assert "can read but not create or delete SystemBackups" in readonly["message"]
    assert rows["wrong-token"]["state"] == "auth-required"
    assert "an-expired-token" not in json.dumps(rows)
    assert rows["wrong-ca"]["state"] == "tls-error"
    assert "not signed by a CA this kubeconfig trusts" in rows["wrong-ca"]["message"]


@pytest.mark.integration
def test_check_table_output(demo_182_kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contexts", "--kubeconfig", str(demo_182_kubeconfig), "--check", "demo-admin"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[-3:] == ["KUBERNETES", "LONGHORN", "MESSAGE"]
    assert len(out) == 2
    assert "connected" in out[1]
    assert "v1.8.2" in out[1]
