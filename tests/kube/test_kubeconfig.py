"""Loading kubeconfig files as kubectl does: merging, per-context errors, paths, exec plugins."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lhdesk.core.clusters import ContextState
from lhdesk.kube.errors import AuthPluginError, KubeconfigError
from lhdesk.kube.execplugin import forget_login_shell_paths
from lhdesk.kube.kubeconfig import api_client_for, load_contexts

CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
SECRET = "s3cr3t-token-value-0123456789"


@pytest.fixture(autouse=True)
def _fresh_login_shell_cache() -> Iterator[None]:
    forget_login_shell_paths()
    yield
    forget_login_shell_paths()


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    env.update(extra)
    return env


def write(path: Path, doc: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def doc(
    clusters: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    users: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    contexts: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    current: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": b} for n, b in clusters],
        "users": [{"name": n, "user": b} for n, b in users],
        "contexts": [{"name": n, "context": b} for n, b in contexts],
    }
    if current is not None:
        out["current-context"] = current
    return out


def cluster(server: str = "https://127.0.0.1:6443", **extra: Any) -> dict[str, Any]:
    return {"server": server, "certificate-authority-data": CA_DATA, **extra}


def plugin(tmp_path: Path, name: str, body: str) -> Path:
    """An executable Python script standing in for an exec credential plugin."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


TOKEN_PLUGIN = """
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["spec"]["interactive"] is False
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {"token": os.environ.get("PLUGIN_TOKEN", "exec-token-0123456789")}}))
"""


# --- merging -----------------------------------------------------------------------------------


def test_kubeconfig_list_merges_like_kubectl_first_name_wins(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a" / "config",
        doc(
            clusters=[("c1", cluster("https://a.example:6443"))],
            users=[("u1", {"token": SECRET})],
            contexts=[("one", {"cluster": "c1", "user": "u1"}), ("dup", {"cluster": "c1", "user": "u1"})],
        ),
    )
    b = write(
        tmp_path / "b" / "config",
        doc(
            clusters=[
                ("c1", cluster("https://b-loses.example:6443")),
                ("c2", cluster("https://b.example:6443")),
            ],
            users=[("u1", {"token": "other-token-ignored"})],
            contexts=[("dup", {"cluster": "c2", "user": "u1"}), ("two", {"cluster": "c2", "user": "u1"})],
            current="two",
        ),
    )
    c = write(tmp_path / "c" / "config", doc(contexts=[("three", {"cluster": "c1"})], current="one"))
    missing = tmp_path / "nowhere" / "config"
    env = env_for(tmp_path, KUBECONFIG=os.pathsep.join([str(a), str(missing), str(b), str(c)]))

    kset = load_contexts(env=env)

    assert kset.names == ("one", "dup", "two", "three")
    dup = kset.context("dup")
    assert dup is not None
    assert dup.cluster == "c1"
    assert dup.server == "https://a.example:6443"
    assert dup.source_file == a
    two = kset.context("two")
    assert two is not None
    assert two.server == "https://b.example:6443"
    three = kset.context("three")
    assert three is not None
    assert three.server == "https://a.example:6443"  # c1 from the first file, used by the third
    assert three.user == ""
    assert kset.current == "two"  # the first file that sets current-context
    assert kset.files == (a, missing, b, c)
    assert all(info.valid for info in kset.contexts)


def test_explicit_path_beats_kubeconfig_env(tmp_path: Path) -> None:
    env_file = write(
        tmp_path / "env", doc(clusters=[("c", cluster())], contexts=[("from-env", {"cluster": "c"})])
    )
    explicit = write(
        tmp_path / "x", doc(clusters=[("c", cluster())], contexts=[("explicit", {"cluster": "c"})])
    )
    kset = load_contexts(explicit, env=env_for(tmp_path, KUBECONFIG=str(env_file)))
    assert kset.names == ("explicit",)
    assert kset.files == (explicit,)


def test_default_is_home_kube_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / ".kube" / "config", doc(clusters=[("c", cluster())], contexts=[("home", {"cluster": "c"})]))
    kset = load_contexts(env=env_for(tmp_path))
    assert kset.names == ("home",)
    assert kset.files == (home / ".kube" / "config",)


def test_no_file_anywhere_gives_an_empty_set_and_says_where_it_looked(tmp_path: Path) -> None:
    kset = load_contexts(env=env_for(tmp_path))
    assert kset.contexts == ()
    assert kset.current is None
    assert kset.files == (tmp_path / "home" / ".kube" / "config",)


def test_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="does not exist"):
        load_contexts(tmp_path / "nope", env=env_for(tmp_path))


def test_duplicate_name_inside_one_file_is_a_warning_and_the_first_is_used(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster("https://first:6443")), ("c", cluster("https://second:6443"))],
            contexts=[("x", {"cluster": "c"})],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    info = kset.context("x")
    assert info is not None
    assert info.server == "https://first:6443"
    assert any("twice" in p for p in kset.problems)


# --- a broken context keeps its own error --------------------------------------------------------


def test_missing_user_breaks_only_that_context(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster())],
            users=[("real", {"token": SECRET})],
            contexts=[
                ("good", {"cluster": "c", "user": "real"}),
                ("ghostly", {"cluster": "c", "user": "ghost"}),
            ],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    good, ghostly = kset.context("good"), kset.context("ghostly")
    assert good is not None
    assert good.valid
    assert good.auth == "token"
    assert ghostly is not None
    assert ghostly.error_state is ContextState.INVALID
    assert ghostly.error is not None
    assert "user 'ghost' is not defined" in ghostly.error
    assert str(path) in ghostly.error
    assert ghostly.unprobed().state is ContextState.INVALID


def test_missing_cluster_breaks_only_that_context(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster())],
            contexts=[("good", {"cluster": "c"}), ("lost", {"cluster": "gone"}), ("none", {})],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    lost, none = kset.context("lost"), kset.context("none")
    assert lost is not None
    assert lost.error is not None
    assert "cluster 'gone' is not defined" in lost.error
    assert none is not None
    assert none.error is not None
    assert "names no cluster" in none.error
    good = kset.context("good")
    assert good is not None
    assert good.valid


def test_cluster_without_server_is_invalid(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(clusters=[("c", {"insecure-skip-tls-verify": True})], contexts=[("x", {"cluster": "c"})]),
    )
    info = load_contexts(path, env=env_for(tmp_path)).context("x")
    assert info is not None
    assert info.error is not None
    assert "has no server" in info.error


def test_yaml_error_names_file_and_line_and_other_files_still_load(tmp_path: Path) -> None:
    good = write(tmp_path / "good", doc(clusters=[("c", cluster())], contexts=[("fine", {"cluster": "c"})]))
    bad = write(
        tmp_path / "bad",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        "    server: https://x\n   bad: indent\n",
    )
    kset = load_contexts(env=env_for(tmp_path, KUBECONFIG=f"{bad}{os.pathsep}{good}"))
    assert kset.names == ("fine", str(bad))
    broken = kset.context(str(bad))
    assert broken is not None
    assert broken.error_state is ContextState.INVALID
    assert broken.error is not None
    assert str(bad) in broken.error
    assert "line 7" in broken.error
    fine = kset.context("fine")
    assert fine is not None
    assert fine.valid


def test_missing_certificate_file_resolved_against_the_files_directory(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kube" / "config",
        doc(
            clusters=[("c", {"server": "https://127.0.0.1:6443", "certificate-authority": "certs/ca.crt"})],
            users=[("u", {"client-certificate": "certs/me.crt", "client-key": "certs/me.key"})],
            contexts=[("x", {"cluster": "c", "user": "u"})],
        ),
    )
    info = load_contexts(path, env=env_for(tmp_path)).context("x")
    assert info is not None
    assert info.error is not None
    assert str(tmp_path / "kube" / "certs" / "ca.crt") in info.error
    assert "does not exist" in info.error


def test_relative_paths_resolve_against_the_files_directory_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lhdesk.demo.pki import CertificateAuthority

    ca = CertificateAuthority.generate()
    leaf = ca.issue_server_cert(["127.0.0.1"])
    certs = tmp_path / "kube" / "certs"
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(ca.cert_pem)
    (certs / "me.crt").write_bytes(leaf.cert_pem)
    (certs / "me.key").write_bytes(leaf.key_pem)
    path = write(
        tmp_path / "kube" / "config",
        doc(
            clusters=[("c", {"server": "https://127.0.0.1:6443", "certificate-authority": "certs/ca.crt"})],
            users=[("u", {"client-certificate": "certs/me.crt", "client-key": "./certs/me.key"})],
            contexts=[("x", {"cluster": "c", "user": "u"})],
        ),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    kset = load_contexts(path, env=env_for(tmp_path))
    info = kset.context("x")
    assert info is not None
    assert info.valid, info.error
    assert info.auth == "client-certificate"
    client = api_client_for(kset, "x")
    try:
        assert client.configuration.ssl_ca_cert == str(certs / "ca.crt")
        assert client.configuration.cert_file == str(certs / "me.crt")
        assert os.path.samefile(client.configuration.key_file, certs / "me.key")
    finally:
        client.close()


def test_insecure_skip_tls_verify_works_but_is_flagged(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("lab", {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True})],
            contexts=[("lab", {"cluster": "lab"})],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    info = kset.context("lab")
    assert info is not None
    assert info.valid
    assert info.insecure
    client = api_client_for(kset, "lab")
    try:
        assert client.configuration.verify_ssl is False
    finally:
        client.close()


def test_insecure_together_with_a_ca_is_refused_like_kubectl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster(**{"insecure-skip-tls-verify": True}))],
            contexts=[("x", {"cluster": "c"})],
        ),
    )
    info = load_contexts(path, env=env_for(tmp_path)).context("x")
    assert info is not None
    assert info.error is not None
    assert "insecure-skip-tls-verify" in info.error


def test_proxy_url_is_passed_to_the_client(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[
                ("c", cluster(**{"proxy-url": "http://proxy.example:3128"})),
                ("s", cluster(**{"proxy-url": "socks5://p:1080"})),
            ],
            contexts=[("x", {"cluster": "c"}), ("socks", {"cluster": "s"})],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    client = api_client_for(kset, "x")
    try:
        assert client.configuration.proxy == "http://proxy.example:3128"
    finally:
        client.close()
    socks = kset.context("socks")
    assert socks is not None
    assert socks.error is not None
    assert "only http and https proxies" in socks.error


def test_token_file_and_token_users(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text(SECRET)
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster())],
            users=[
                ("file", {"tokenFile": "tok"}),
                ("inline", {"token": SECRET}),
                ("lost", {"tokenFile": "nope"}),
            ],
            contexts=[
                ("f", {"cluster": "c", "user": "file"}),
                ("i", {"cluster": "c", "user": "inline"}),
                ("l", {"cluster": "c", "user": "lost"}),
            ],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    for name in ("f", "i"):
        client = api_client_for(kset, name)
        try:
            assert client.configuration.api_key["BearerToken"] == f"Bearer {SECRET}"
        finally:
            client.close()
    lost = kset.context("l")
    assert lost is not None
    assert lost.error is not None
    assert "tokenFile" in lost.error


def test_auth_provider_kubectl_dropped_is_auth_required(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster())],
            users=[("az", {"auth-provider": {"name": "azure", "config": {"access-token": SECRET}}})],
            contexts=[("x", {"cluster": "c", "user": "az"})],
        ),
    )
    info = load_contexts(path, env=env_for(tmp_path)).context("x")
    assert info is not None
    assert info.error_state is ContextState.AUTH_REQUIRED
    assert info.auth == "auth-provider: azure"
    assert info.error is not None
    assert SECRET not in info.error


def test_secrets_never_show_in_reprs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        doc(
            clusters=[("c", cluster())],
            users=[("u", {"token": SECRET})],
            contexts=[("x", {"cluster": "c", "user": "u"})],
        ),
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    assert SECRET not in repr(kset)
    assert SECRET not in repr(kset.raw)
    assert SECRET not in str(kset.contexts)


# --- exec plugins --------------------------------------------------------------------------------


def exec_kubeconfig(tmp_path: Path, command: str, **extra: Any) -> Path:
    return write(
        tmp_path / "kube" / "config",
        doc(
            clusters=[("c", cluster())],
            users=[
                (
                    "u",
                    {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, **extra}},
                )
            ],
            contexts=[("x", {"cluster": "c", "user": "u"})],
        ),
    )


def test_exec_plugin_missing_names_command_and_path(tmp_path: Path) -> None:
    path = exec_kubeconfig(
        tmp_path, "lhdesk-no-such-login-plugin", installHint="Install it with: brew install it"
    )
    env = env_for(tmp_path, PATH=str(tmp_path / "bin"), SHELL="")
    info = load_contexts(path, env=env).context("x")
    assert info is not None
    assert info.error_state is ContextState.AUTH_REQUIRED
    assert info.error is not None
    assert "lhdesk-no-such-login-plugin" in info.error
    assert str(tmp_path / "bin") in info.error
    assert "brew install it" in info.error
    assert info.auth == "exec: lhdesk-no-such-login-plugin"


def profile_adds(tmp_path: Path, login_bin: Path) -> None:
    """A ~/.profile that puts ``login_bin`` on PATH, as users do for ~/.local/bin or Homebrew."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".profile").write_text(f'PATH="{login_bin}:$PATH"\nexport PATH\n')


def test_exec_plugin_found_on_the_login_shell_path(tmp_path: Path) -> None:
    login_bin = tmp_path / "login-bin"
    plugin(login_bin, "lhdesk-test-login", TOKEN_PLUGIN)
    path = exec_kubeconfig(tmp_path, "lhdesk-test-login")
    # A desktop launcher's PATH: the plugin is not on it, but the login shell's profile adds it.
    profile_adds(tmp_path, login_bin)
    env = env_for(tmp_path, PATH="/usr/bin:/bin", SHELL="/bin/sh")
    kset = load_contexts(path, env=env)
    info = kset.context("x")
    assert info is not None
    assert info.valid, info.error
    client = api_client_for(kset, "x")
    try:
        assert client.configuration.api_key["BearerToken"] == "Bearer exec-token-0123456789"
    finally:
        client.close()


def test_exec_plugin_relative_command_resolves_against_the_files_directory(tmp_path: Path) -> None:
    plugin(tmp_path / "kube" / "bin", "login", TOKEN_PLUGIN)
    path = exec_kubeconfig(
        tmp_path, "./bin/login", env=[{"name": "PLUGIN_TOKEN", "value": "from-env-0123456789"}]
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    client = api_client_for(kset, "x")
    try:
        assert client.configuration.api_key["BearerToken"] == "Bearer from-env-0123456789"
    finally:
        client.close()


def test_exec_plugin_with_client_certificate(tmp_path: Path) -> None:
    from lhdesk.demo.pki import CertificateAuthority

    leaf = CertificateAuthority.generate().issue_server_cert(["127.0.0.1"])
    body = (
        "import json, os\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"print(json.dumps({{'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': "
        f"{{'clientCertificateData': {leaf.cert_pem.decode()!r}, "
        f"'clientKeyData': {leaf.key_pem.decode()!r}}}}}))\n"
    )
    plugin(tmp_path / "kube", "certplugin", body)
    kset = load_contexts(exec_kubeconfig(tmp_path, "./certplugin"), env=env_for(tmp_path))
    client = api_client_for(kset, "x")
    try:
        assert Path(client.configuration.cert_file).read_bytes() == leaf.cert_pem
        assert Path(client.configuration.key_file).read_bytes() == leaf.key_pem
    finally:
        client.close()


def test_exec_plugin_failure_is_an_auth_plugin_error_without_secrets(tmp_path: Path) -> None:
    plugin(
        tmp_path / "kube",
        "failing",
        f"import sys\nsys.stderr.write('debug: token={SECRET}\\n"
        "error: the SSO session has expired\\n')\nsys.exit(3)\n",
    )
    kset = load_contexts(exec_kubeconfig(tmp_path, "./failing"), env=env_for(tmp_path))
    with pytest.raises(AuthPluginError) as caught:
        api_client_for(kset, "x")
    assert "exit 3" in str(caught.value)
    assert "SSO session has expired" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


def test_hung_exec_plugin_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    plugin(tmp_path / "kube", "hangs", "import time\ntime.sleep(60)\n")
    kset = load_contexts(exec_kubeconfig(tmp_path, "./hangs"), env=env_for(tmp_path))
    started = time.monotonic()
    with pytest.raises(AuthPluginError, match="did not answer within"):
        api_client_for(kset, "x", timeout=0.5)
    assert time.monotonic() - started < 5


def test_exec_plugin_that_insists_on_a_terminal(tmp_path: Path) -> None:
    plugin(tmp_path / "kube", "tty", TOKEN_PLUGIN)
    kset = load_contexts(exec_kubeconfig(tmp_path, "./tty", interactiveMode="Always"), env=env_for(tmp_path))
    with pytest.raises(AuthPluginError, match="interactive terminal"):
        api_client_for(kset, "x")


def test_exec_plugin_with_garbage_output(tmp_path: Path) -> None:
    plugin(tmp_path / "kube", "garbage", "print('hello')\n")
    kset = load_contexts(exec_kubeconfig(tmp_path, "./garbage"), env=env_for(tmp_path))
    with pytest.raises(AuthPluginError, match="not JSON"):
        api_client_for(kset, "x")


def test_expiring_exec_token_is_refreshed(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    body = (
        "import json, os, datetime, pathlib\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)).isoformat()\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',"
        " 'status': {'token': f'token-number-{n:012d}', 'expirationTimestamp': soon}}))\n"
    )
    plugin(tmp_path / "kube", "short", body)
    kset = load_contexts(exec_kubeconfig(tmp_path, "./short"), env=env_for(tmp_path))
    client = api_client_for(kset, "x")
    try:
        assert client.configuration.api_key["BearerToken"] == "Bearer token-number-000000000001"
        # The token expires within the refresh skew, so the next request runs the plugin again.
        header = client.configuration.auth_settings()["BearerToken"]["value"]
        assert header == "Bearer token-number-000000000002"
    finally:
        client.close()


def test_unknown_context_and_foreign_sets_are_kubeconfig_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "config", doc(clusters=[("c", cluster())], contexts=[("x", {"cluster": "c"})]))
    kset = load_contexts(path, env=env_for(tmp_path))
    with pytest.raises(KubeconfigError, match="no context named"):
        api_client_for(kset, "nope")


def test_current_context_written_by_kubectl_is_read(
    tmp_path: Path, write_kubeconfig: Callable[..., Path]
) -> None:
    path = write_kubeconfig(
        clusters={"c": cluster()},
        users={"u": {"token": SECRET}},
        contexts={"a": ("c", "u"), "b": ("c", "u")},
        current="b",
    )
    kset = load_contexts(path, env=env_for(tmp_path))
    assert kset.current == "b"
    assert json.dumps(kset.names) == '["a", "b"]'
