"""Reading kubeconfig files the way kubectl does, without letting one broken context hide the rest.

Which files: an explicit path, else every entry of ``KUBECONFIG`` (``os.pathsep``-separated;
entries that do not exist are skipped, as kubectl skips them), else ``~/.kube/config``. They are
merged as kubectl merges them: the first file to define a cluster, user or context name wins, and
``current-context`` comes from the first file that sets one. Relative paths in a file
(certificate-authority, client-certificate, client-key, tokenFile, an exec command with a
directory part) are resolved against that file's directory.

Every context is listed. A broken one carries its own error (see ``ContextInfo.error``), and a
file that does not parse is listed as one invalid entry named after the file, so the contexts of
the other files still show.

``api_client_for`` builds a ``kubernetes.client.ApiClient`` for one context with the client's own
kubeconfig loader, after running any exec plugin here with a deadline (see ``execplugin``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import new_client_from_config_dict

from lhdesk import __version__
from lhdesk.core.clusters import ContextInfo, ContextState, KubeconfigSet
from lhdesk.core.errors import AuthPluginError, KubeconfigError, register_secret
from lhdesk.kube.execplugin import ExecCredential, find_command, not_found_message, run_exec_plugin

log = logging.getLogger(__name__)

# The client's loader is untyped; this keeps mypy's no-untyped-call quiet in one place.
_new_client_from_config_dict: Any = new_client_from_config_dict

_CLUSTER_PATH_KEYS = ("certificate-authority",)
_USER_PATH_KEYS = ("client-certificate", "client-key", "tokenFile")
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
_PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class _Entry:
    """One named cluster, user or context entry, with paths made absolute, and where it came from."""

    name: str
    body: dict[str, Any]
    source: Path


@dataclass(frozen=True)
class _Raw:
    """The merged entries behind a ``KubeconfigSet`` (holds credentials; never printed)."""

    clusters: dict[str, _Entry]
    users: dict[str, _Entry]
    contexts: dict[str, _Entry]
    env: dict[str, str] = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"_Raw(clusters={list(self.clusters)}, users={list(self.users)}, contexts={list(self.contexts)})"
        )


def kubeconfig_paths(explicit: Path | None, env: Mapping[str, str]) -> tuple[list[Path], bool]:
    """The files to read, in order, and whether they came from an explicit path."""
    if explicit is not None:
        return [Path(_expand_home(str(explicit), env))], True
    listed = env.get("KUBECONFIG", "")
    if listed.strip():
        paths: list[Path] = []
        for part in listed.split(os.pathsep):
            if part.strip():
                path = Path(_expand_home(part.strip(), env))
                if path not in paths:
                    paths.append(path)
        return paths, False
    return [Path(_expand_home("~/.kube/config", env))], False


def _expand_home(text: str, env: Mapping[str, str]) -> str:
    if text == "~" or text.startswith("~/"):
        home = env.get("HOME") or os.path.expanduser("~")
        return home + text[1:]
    return text


def _resolve(path_value: Any, base: Path) -> Any:
    if not isinstance(path_value, str) or not path_value:
        return path_value
    if os.path.isabs(path_value):
        return path_value
    return str(base / path_value)


def _resolved_body(section: str, body: dict[str, Any], base: Path) -> dict[str, Any]:
    body = copy.deepcopy(body)
    keys = _CLUSTER_PATH_KEYS if section == "clusters" else _USER_PATH_KEYS if section == "users" else ()
    for key in keys:
        if key in body:
            body[key] = _resolve(body[key], base)
    exec_cfg = body.get("exec") if section == "users" else None
    if isinstance(exec_cfg, dict):
        command = exec_cfg.get("command")
        if isinstance(command, str) and (os.sep in command) and not os.path.isabs(command):
            exec_cfg["command"] = str(base / command)
    return body


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return (
        f"{path} is not valid YAML{where}: {problem}. Fix the file; its contexts cannot be listed until then."
    )


def load_contexts(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> KubeconfigSet:
    """Read and merge the kubeconfig files; list every context, each with its own error if broken.

    Raises ``KubeconfigError`` only when an explicit path does not exist or cannot be read. When
    no file exists at all, the set is empty (``files`` still says where lhdesk looked).
    """
    env_map = dict(os.environ if env is None else env)
    paths, is_explicit = kubeconfig_paths(explicit, env_map)
    if is_explicit and not paths[0].is_file():
        raise KubeconfigError(
            f"The kubeconfig {paths[0]} does not exist. Check the --kubeconfig path.", reason="no such file"
        )
    clusters: dict[str, _Entry] = {}
    users: dict[str, _Entry] = {}
    contexts: dict[str, _Entry] = {}
    merged = {"clusters": clusters, "users": users, "contexts": contexts}
    broken: list[ContextInfo] = []
    problems: list[str] = []
    current: str | None = None
    for path in paths:
        if not path.exists():
            log.debug("kubeconfig %s does not exist; skipped as kubectl skips it", path)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if is_explicit:
                raise KubeconfigError(
                    f"Cannot read the kubeconfig {path}: {exc}.", reason="unreadable"
                ) from exc
            broken.append(_file_entry(path, f"Cannot read {path}: {exc}. Check its permissions."))
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            broken.append(_file_entry(path, _yaml_error(path, exc)))
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            broken.append(_file_entry(path, f"{path} is not a kubeconfig (its top level is not a mapping)."))
            continue
        base = path.resolve().parent
        for section, inner_key in _SECTIONS:
            items = data.get(section)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append(f"{path}: '{section}' is not a list; ignored.")
                continue
            seen_here: set[str] = set()
            for index, item in enumerate(items):
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str) or not name:
                    problems.append(f"{path}: entry {index + 1} of '{section}' has no name; ignored.")
                    continue
                if name in seen_here:
                    problems.append(f"{path}: '{section}' defines '{name}' twice; the first one is used.")
                    continue
                seen_here.add(name)
                if name in merged[section]:
                    continue
                inner = item.get(inner_key)
                body = inner if isinstance(inner, dict) else {}
                merged[section][name] = _Entry(name, _resolved_body(section, body, base), path)
        if current is None and isinstance(data.get("current-context"), str) and data["current-context"]:
            current = data["current-context"]
    for user in users.values():
        _register_user_secrets(user.body)
    infos = [_context_info(entry, clusters, users, env_map) for entry in contexts.values()]
    taken = {info.name for info in infos}
    infos += [info for info in broken if info.name not in taken]
    raw = _Raw(clusters=clusters, users=users, contexts=contexts, env=env_map)
    return KubeconfigSet(
        contexts=tuple(infos), current=current, files=tuple(paths), problems=tuple(problems), raw=raw
    )


def _register_user_secrets(user: Mapping[str, Any]) -> None:
    """Let ``redact`` scrub this user's credentials from any message that might echo them."""
    for key in ("token", "password", "client-key-data"):
        value = user.get(key)
        if isinstance(value, str):
            register_secret(value)
    provider = user.get("auth-provider")
    config = provider.get("config") if isinstance(provider, Mapping) else None
    if isinstance(config, Mapping):
        for key in ("access-token", "id-token", "refresh-token", "client-secret"):
            value = config.get(key)
            if isinstance(value, str):
                register_secret(value)


def _file_entry(path: Path, message: str) -> ContextInfo:
    return ContextInfo(
        name=str(path),
        cluster="",
        server="",
        user="",
        namespace="",
        source_file=path,
        error=message,
        error_state=ContextState.INVALID,
    )


def _auth_kind(user: Mapping[str, Any]) -> str:
    if isinstance(user.get("exec"), dict):
        return f"exec: {user['exec'].get('command', '')}"
    if isinstance(user.get("auth-provider"), dict):
        return f"auth-provider: {user['auth-provider'].get('name', '')}"
    if user.get("token") or user.get("tokenFile"):
        return "token"
    if user.get("client-certificate") or user.get("client-certificate-data"):
        return "client-certificate"
    if user.get("username"):
        return "basic"
    return ""


def _check_base64(value: Any, what: str) -> str | None:
    if not isinstance(value, str):
        return f"{what} is not a string"
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return f"{what} is not valid base64"
    return None


def _missing_file(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not Path(value).is_file()


def _cluster_problem(name: str, entry: _Entry | None) -> tuple[str | None, str, bool]:
    """(problem, server, insecure) for one cluster entry."""
    if entry is None:
        return f"the cluster '{name}' is not defined in any kubeconfig file", "", False
    body = entry.body
    server = body.get("server")
    insecure = bool(body.get("insecure-skip-tls-verify"))
    if not isinstance(server, str) or not server:
        return f"the cluster '{name}' (in {entry.source}) has no server", "", insecure
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the cluster '{name}' has a server URL lhdesk cannot use: {server}", server, insecure
    if body.get("certificate-authority-data"):
        bad = _check_base64(body["certificate-authority-data"], "certificate-authority-data")
        if bad:
            return f"the cluster '{name}': {bad}", server, insecure
    elif _missing_file(body.get("certificate-authority")):
        return (
            f"the certificate-authority file {body['certificate-authority']} of cluster '{name}' "
            "does not exist",
            server,
            insecure,
        )
    if insecure and (body.get("certificate-authority") or body.get("certificate-authority-data")):
        return (
            f"the cluster '{name}' sets both insecure-skip-tls-verify and a certificate authority, "
            "which kubectl "
            "refuses; remove insecure-skip-tls-verify",
            server,
            insecure,
        )
    proxy = body.get("proxy-url")
    if proxy:
        scheme = urlsplit(str(proxy)).scheme
        if scheme not in _PROXY_SCHEMES:
            return (
                f"the cluster '{name}' uses proxy-url {proxy}; lhdesk supports only http and https proxies",
                server,
                insecure,
            )
    return None, server, insecure


def _user_problem(name: str, entry: _Entry | None, env: Mapping[str, str]) -> tuple[str | None, ContextState]:
    """(problem, the state it implies) for one user entry."""
    if entry is None:
        return f"the user '{name}' is not defined in any kubeconfig file", ContextState.INVALID
    body = entry.body
    for key in ("client-certificate-data", "client-key-data"):
        if body.get(key):
            bad = _check_base64(body[key], key)
            if bad:
                return f"the user '{name}': {bad}", ContextState.INVALID
    for key in _USER_PATH_KEYS:
        data_key = f"{key}-data" if key != "tokenFile" else "token"
        if not body.get(data_key) and _missing_file(body.get(key)):
            return f"the {key} file {body[key]} of user '{name}' does not exist", ContextState.INVALID
    has_cert = bool(body.get("client-certificate") or body.get("client-certificate-data"))
    has_key = bool(body.get("client-key") or body.get("client-key-data"))
    if has_cert != has_key:
        return (
            f"the user '{name}' has a client certificate without a key, or a key without a certificate",
            ContextState.INVALID,
        )
    exec_cfg = body.get("exec")
    if exec_cfg is not None:
        if not isinstance(exec_cfg, dict) or not exec_cfg.get("command") or not exec_cfg.get("apiVersion"):
            return (
                f"the exec entry of user '{name}' needs both 'command' and 'apiVersion'",
                ContextState.INVALID,
            )
        resolved = find_command(str(exec_cfg["command"]), entry.source.resolve().parent, env)
        if resolved.path is None:
            return not_found_message(resolved, exec_cfg), ContextState.AUTH_REQUIRED
    provider = body.get("auth-provider")
    if isinstance(provider, dict):
        provider_name = provider.get("name")
        if provider_name != "oidc":
            return (
                f"the user '{name}' uses the auth-provider '{provider_name}', "
                "which kubectl no longer supports; "
                "switch to the provider's exec plugin (e.g. kubelogin or gke-gcloud-auth-plugin)",
                ContextState.AUTH_REQUIRED,
            )
    return None, ContextState.INVALID


def _context_info(
    entry: _Entry, clusters: dict[str, _Entry], users: dict[str, _Entry], env: Mapping[str, str]
) -> ContextInfo:
    body = entry.body
    cluster_name = body.get("cluster") if isinstance(body.get("cluster"), str) else ""
    user_name = body.get("user") if isinstance(body.get("user"), str) else ""
    namespace = body.get("namespace") if isinstance(body.get("namespace"), str) else ""
    assert isinstance(cluster_name, str)
    assert isinstance(user_name, str)
    assert isinstance(namespace, str)
    problem: str | None = None
    state = ContextState.INVALID
    server = ""
    insecure = False
    user_entry = users.get(user_name) if user_name else None
    if not cluster_name:
        problem = "the context names no cluster"
    else:
        problem, server, insecure = _cluster_problem(cluster_name, clusters.get(cluster_name))
    if problem is None and user_name:
        problem, state = _user_problem(user_name, user_entry, env)
    error = None
    if problem is not None:
        error = f"Context '{entry.name}' (in {entry.source}): {problem}."
        if state is ContextState.INVALID:
            error += " Fix the kubeconfig entry."
    return ContextInfo(
        name=entry.name,
        cluster=cluster_name,
        server=server,
        user=user_name,
        namespace=namespace,
        source_file=entry.source,
        error=error,
        error_state=state if error else None,
        insecure=insecure,
        auth=_auth_kind(user_entry.body) if user_entry else "",
    )


# --- clients -----------------------------------------------------------------------------------


def _raw(kset: KubeconfigSet) -> _Raw:
    if not isinstance(kset.raw, _Raw):
        raise KubeconfigError("This context list was not loaded by lhdesk.kube.kubeconfig.", reason="no data")
    return kset.raw


def config_dict(kset: KubeconfigSet, context_name: str) -> dict[str, Any]:
    """A one-context kubeconfig dict (absolute paths) for the client loader. Holds credentials."""
    raw = _raw(kset)
    ctx = raw.contexts.get(context_name)
    if ctx is None:
        raise KubeconfigError(
            f"There is no context named '{context_name}'. Reload the kubeconfig.", reason="no context"
        )
    cluster_name = ctx.body.get("cluster", "")
    user_name = ctx.body.get("user", "")
    cluster = raw.clusters.get(cluster_name)
    user = raw.users.get(user_name) if user_name else None
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": copy.deepcopy(cluster.body)}] if cluster else [],
        "users": [{"name": user_name, "user": copy.deepcopy(user.body)}] if user else [],
        "contexts": [{"name": context_name, "context": copy.deepcopy(ctx.body)}],
        "current-context": context_name,
    }


def _credential_user(user: dict[str, Any], cred: ExecCredential) -> dict[str, Any]:
    """The user entry with the exec block replaced by what the plugin returned."""
    out = {k: v for k, v in user.items() if k != "exec"}
    if cred.token:
        out["token"] = cred.token
    if cred.client_certificate_data and cred.client_key_data:
        out["client-certificate-data"] = base64.b64encode(cred.client_certificate_data.encode()).decode()
        out["client-key-data"] = base64.b64encode(cred.client_key_data.encode()).decode()
        out.pop("client-certificate", None)
        out.pop("client-key", None)
    return out


class _ExecTokenRefresher:
    """Runs the exec plugin again when its token is about to expire (a client refresh hook)."""

    def __init__(self, run: Any, cred: ExecCredential) -> None:
        self._run = run
        self._cred = cred
        self._lock = threading.Lock()

    def __call__(self, configuration: Configuration) -> None:
        with self._lock:
            if not self._cred.expired(datetime.now(UTC)):
                return
            cred = self._run()
            if cred.token:
                configuration.api_key["BearerToken"] = f"Bearer {cred.token}"
            self._cred = cred


def api_client_for(kset: KubeconfigSet, context_name: str, timeout: float = 10.0) -> ApiClient:
    """A client for one context, configured by the kubernetes client's own kubeconfig loader.

    ``timeout`` bounds an exec plugin run. Requests are not retried by urllib3 (a failure is
    reported at once; callers pass ``_request_timeout`` on every call). Raises
    ``KubeconfigError`` (the entry cannot be used) or ``AuthPluginError`` (login plugin).
    """
    info = kset.context(context_name)
    if info is None:
        raise KubeconfigError(
            f"There is no context named '{context_name}'. Reload the kubeconfig.", reason="no context"
        )
    if info.error is not None:
        if info.error_state is ContextState.AUTH_REQUIRED:
            raise AuthPluginError(info.error, reason="login plugin")
        raise KubeconfigError(info.error, reason="invalid context")
    raw = _raw(kset)
    config = config_dict(kset, context_name)
    refresher: _ExecTokenRefresher | None = None
    if config["users"]:
        user = config["users"][0]["user"]
        register_secret(user.get("token"))
        register_secret(user.get("password"))
        exec_cfg = user.get("exec")
        if isinstance(exec_cfg, dict):
            user_source = raw.users[config["users"][0]["name"]].source.resolve().parent
            cluster_body = config["clusters"][0]["cluster"] if config["clusters"] else None

            def run() -> ExecCredential:
                return run_exec_plugin(
                    exec_cfg, base_dir=user_source, env=raw.env, timeout=timeout, cluster=cluster_body
                )

            cred = run()
            config["users"][0]["user"] = _credential_user(user, cred)
            if cred.token and cred.expires_at is not None:
                refresher = _ExecTokenRefresher(run, cred)
    configuration: Any = Configuration()
    # One attempt per request: a dead server is reported now, not after urllib3's three retries.
    configuration.retries = False
    try:
        client: ApiClient = _new_client_from_config_dict(
            config_dict=config, context=context_name, persist_config=False, client_configuration=configuration
        )
    except ConfigException as exc:
        raise KubeconfigError(
            f"Context '{context_name}' cannot be used: {exc}.", reason="invalid context"
        ) from exc
    except (OSError, ValueError, binascii.Error) as exc:
        raise KubeconfigError(
            f"Context '{context_name}' cannot be used: {exc}.", reason="invalid context"
        ) from exc
    if refresher is not None:
        configuration.refresh_api_key_hook = refresher
    client.user_agent = f"lhdesk/{__version__}"
    return client
