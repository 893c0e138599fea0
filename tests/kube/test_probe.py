"""Probing contexts against local servers: each failure gets its own state and an actionable message."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lhdesk.core.clusters import ContextState, KubeconfigSet
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe, probe_all

ADMIN = "admin-token-0123456789"
READER = "reader-token-0123456789"


def kset_for(
    tmp_path: Path,
    clusters: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]],
    contexts: dict[str, tuple[str, str]],
) -> KubeconfigSet:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": b} for n, b in clusters.items()],
        "users": [{"name": n, "user": b} for n, b in users.items()],
        "contexts": [{"name": n, "context": {"cluster": c, "user": u}} for n, (c, u) in contexts.items()],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return load_contexts(path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SHELL": ""})


def single(
    tmp_path: Path, server: str, ca_data: str | None = None, user: dict[str, Any] | None = None
) -> KubeconfigSet:
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    return kset_for(tmp_path, {"c": cluster}, {"u": user or {"token": ADMIN}}, {"x": ("c", "u")})


def test_admin_is_connected_with_versions_and_capabilities(tmp_path: Path, fake_api: Any) -> None:
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data), "x")
    assert result.state is ContextState.CONNECTED, result.message
    assert result.kubernetes_version == "v1.31.4"
    assert result.longhorn_version == "v1.12.1"
    assert result.capabilities is not None
    assert result.capabilities.system_backup_job
    assert result.message == "Longhorn v1.12.1 on Kubernetes v1.31.4 is ready."
    assert result.missing_permissions == ()
    assert result.checked_at is not None


def test_old_longhorn_has_no_system_backup_jobs(tmp_path: Path, fake_api_factory: Callable[..., Any]) -> None:
    api = fake_api_factory(longhorn_version="v1.8.2")
    result = probe(single(tmp_path, api.url, api.ca_data), "x")
    assert result.state is ContextState.CONNECTED
    assert result.longhorn_version == "v1.8.2"
    assert result.capabilities is not None
    assert not result.capabilities.system_backup_job
    assert "need Longhorn v1.9.0 or later" in result.message


def test_cluster_without_longhorn(tmp_path: Path, fake_api_factory: Callable[..., Any]) -> None:
    api = fake_api_factory(longhorn_version=None)
    result = probe(single(tmp_path, api.url, api.ca_data), "x")
    assert result.state is ContextState.NO_LONGHORN
    assert result.kubernetes_version == "v1.31.4"
    assert "Longhorn is not installed" in result.message


def test_read_only_user_is_forbidden_for_writes(tmp_path: Path, fake_api: Any) -> None:
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, {"token": READER}), "x")
    assert result.state is ContextState.FORBIDDEN
    assert result.longhorn_version == "v1.12.1"
    assert "create systembackups.longhorn.io" in result.missing_permissions
    assert "get settings.longhorn.io" not in result.missing_permissions
    assert "can read but not create or delete SystemBackups" in result.message
    assert "can read but not create SystemRestores" in result.message


def test_user_who_cannot_read_settings(tmp_path: Path, fake_api: Any) -> None:
    fake_api.grants["reader"] = {("list", "volumes")}
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, {"token": READER}), "x")
    assert result.state is ContextState.FORBIDDEN
    assert result.longhorn_version is None
    assert "cannot read Settings" in result.message


def test_wrong_token_is_auth_required(tmp_path: Path, fake_api: Any) -> None:
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, {"token": "wrong-token-0123456789"}), "x")
    assert result.state is ContextState.AUTH_REQUIRED
    assert "401" in result.message
    assert "wrong-token-0123456789" not in result.message


def test_wrong_ca_is_tls_error(tmp_path: Path, fake_api: Any, other_ca: Any) -> None:
    import base64

    result = probe(single(tmp_path, fake_api.url, base64.b64encode(other_ca.cert_pem).decode()), "x")
    assert result.state is ContextState.TLS_ERROR
    assert "not signed by a CA this kubeconfig trusts" in result.message
    assert fake_api.url in result.message


def test_closed_port_is_unreachable(tmp_path: Path, closed_port: int) -> None:
    server = f"https://127.0.0.1:{closed_port}"
    started = time.monotonic()
    result = probe(single(tmp_path, server), "x", timeout=5)
    assert time.monotonic() - started < 2
    assert result.state is ContextState.UNREACHABLE
    assert result.message.startswith(f"Cannot reach {server}: connection refused.")


def test_hung_server_is_unreachable_within_the_timeout(tmp_path: Path, blackhole: int) -> None:
    started = time.monotonic()
    result = probe(single(tmp_path, f"https://127.0.0.1:{blackhole}"), "x", timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.state is ContextState.UNREACHABLE
    assert "no answer in time" in result.message
    assert elapsed < 0.5 + 1.0


def test_invalid_context_needs_no_network(tmp_path: Path) -> None:
    kset = kset_for(tmp_path, {"c": {"server": "https://127.0.0.1:1"}}, {}, {"x": ("c", "ghost")})
    result = probe(kset, "x")
    assert result.state is ContextState.INVALID
    assert "user 'ghost' is not defined" in result.message
    assert probe(kset, "nope").state is ContextState.INVALID


def test_missing_login_plugin_is_auth_required(tmp_path: Path, fake_api: Any) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "lhdesk-absent-plugin"}}
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, user), "x")
    assert result.state is ContextState.AUTH_REQUIRED
    assert "lhdesk-absent-plugin" in result.message
    assert fake_api.requests == []


def write_plugin(tmp_path: Path, body: str) -> str:
    path = tmp_path / "plugin"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


def test_failing_login_plugin_is_auth_required_not_forbidden(tmp_path: Path, fake_api: Any) -> None:
    command = write_plugin(
        tmp_path, "import sys\nsys.stderr.write('error: refresh token expired\\n')\nsys.exit(1)\n"
    )
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, user), "x")
    assert result.state is ContextState.AUTH_REQUIRED
    assert "refresh token expired" in result.message
    assert fake_api.requests == []  # never went on anonymously


def test_working_login_plugin_connects(tmp_path: Path, fake_api: Any) -> None:
    command = write_plugin(
        tmp_path,
        "import json, os\ninfo = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"print(json.dumps({{'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', "
        f"'status': {{'token': {ADMIN!r}}}}}))\n",
    )
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command}}
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, user), "x")
    assert result.state is ContextState.CONNECTED, result.message
    assert {who for _, _, who in fake_api.requests} == {"admin"}


def test_hung_login_plugin_does_not_block_the_probe(tmp_path: Path, fake_api: Any) -> None:
    command = write_plugin(tmp_path, "import time\ntime.sleep(60)\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command}}
    started = time.monotonic()
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data, user), "x", timeout=0.5)
    assert time.monotonic() - started < 0.5 + 1.5
    assert result.state is ContextState.AUTH_REQUIRED
    assert "did not answer" in result.message


def test_probe_all_runs_in_parallel_and_keeps_order(
    tmp_path: Path, fake_api: Any, closed_port: int, blackhole: int
) -> None:
    good = {"server": fake_api.url, "certificate-authority-data": fake_api.ca_data}
    kset = kset_for(
        tmp_path,
        {
            "good": good,
            "closed": {"server": f"https://127.0.0.1:{closed_port}"},
            "hole": {"server": f"https://127.0.0.1:{blackhole}"},
        },
        {"admin": {"token": ADMIN}, "reader": {"token": READER}},
        {
            "admin": ("good", "admin"),
            "hole-1": ("hole", "admin"),
            "reader": ("good", "reader"),
            "closed": ("closed", "admin"),
            "hole-2": ("hole", "admin"),
            "broken": ("nowhere", "admin"),
        },
    )
    # Generous enough that the reachable probes finish on a loaded 2-core machine; the black holes
    # use all of it, and the whole run must still end within one timeout plus 1 s.
    timeout = 3.0
    started = time.monotonic()
    results = probe_all(kset, timeout=timeout)
    elapsed = time.monotonic() - started
    assert [r.context for r in results] == ["admin", "hole-1", "reader", "closed", "hole-2", "broken"]
    assert [r.state for r in results] == [
        ContextState.CONNECTED,
        ContextState.UNREACHABLE,
        ContextState.FORBIDDEN,
        ContextState.UNREACHABLE,
        ContextState.UNREACHABLE,
        ContextState.INVALID,
    ]
    assert elapsed < timeout + 1.0


def test_probe_all_of_nothing() -> None:
    assert probe_all(KubeconfigSet(contexts=(), current=None, files=())) == []


@pytest.mark.parametrize("timeout", [0.01])
def test_a_spent_deadline_is_reported_as_timed_out(tmp_path: Path, fake_api: Any, timeout: float) -> None:
    result = probe(single(tmp_path, fake_api.url, fake_api.ca_data), "x", timeout=timeout)
    assert result.state is ContextState.UNREACHABLE
