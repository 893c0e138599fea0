"""Exec credential plugins (``users[].user.exec``): finding them and running them with a deadline.

The kubernetes client can run exec plugins itself, but without a timeout, and it swallows a
failure (logs it and carries on without credentials), which turns "your login expired" into a
confusing 403 for ``system:anonymous``. lhdesk runs the plugin here instead, under a deadline,
and reports a failure as ``AuthPluginError``; the client then gets the resulting token or client
certificate as plain kubeconfig data.

Desktop launchers start programs with a minimal PATH (``/usr/bin:/bin``), so ``aws``,
``gke-gcloud-auth-plugin`` or ``kubelogin`` installed under ``~/.local/bin`` or Homebrew are not
found. When a command is not on the process PATH, the user's login-shell PATH is asked for once
(``$SHELL -lc``, with a timeout, cached) and searched as well.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lhdesk.core.errors import AuthPluginError, redact, register_secret

log = logging.getLogger(__name__)

LOGIN_SHELL_TIMEOUT = 3.0
_MARK = "__LHDESK_PATH__"
_shell_paths: dict[str, str | None] = {}
_shell_lock = threading.Lock()


def login_shell_path(shell: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The PATH a login shell sets up (``$SHELL -lc``), or None if it cannot be had. Cached per shell."""
    if not shell:
        return None
    with _shell_lock:
        if shell in _shell_paths:
            return _shell_paths[shell]
        result: str | None = None
        try:
            done = subprocess.run(
                [shell, "-lc", f'printf "{_MARK}%s{_MARK}" "$PATH"'],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=LOGIN_SHELL_TIMEOUT,
                env=dict(env) if env is not None else None,
                check=False,
            )
            parts = done.stdout.split(_MARK)
            if len(parts) >= 3 and parts[1]:
                result = parts[1]
        except subprocess.TimeoutExpired:
            # A slow profile (or a loaded machine): ask again next time rather than never.
            log.info("the login shell %s took over %g s to report its PATH", shell, LOGIN_SHELL_TIMEOUT)
            return None
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("could not ask the login shell %s for its PATH: %s", shell, exc)
        _shell_paths[shell] = result
        return result


def forget_login_shell_paths() -> None:
    """Drop the cached login-shell PATHs (after the user changed their shell setup, and in tests)."""
    with _shell_lock:
        _shell_paths.clear()


def _merge_paths(first: str, second: str | None) -> str:
    entries = [p for p in first.split(os.pathsep) if p]
    for extra in (second or "").split(os.pathsep):
        if extra and extra not in entries:
            entries.append(extra)
    return os.pathsep.join(entries)


@dataclass(frozen=True)
class ResolvedCommand:
    """Where an exec plugin's command was found (``path`` None: not found) and the PATH searched."""

    command: str
    path: str | None
    search_path: str


def find_command(command: str, base_dir: Path, env: Mapping[str, str]) -> ResolvedCommand:
    """Find an exec plugin command as kubectl does, plus the login-shell PATH when needed.

    A command with a directory separator is a path, relative ones against the kubeconfig's
    directory. A bare name is looked up on PATH; if it is not there, on PATH plus the login
    shell's PATH.
    """
    process_path = env.get("PATH", os.defpath)
    if os.sep in command or (os.altsep and os.altsep in command):
        candidate = Path(command) if os.path.isabs(command) else base_dir / command
        ok = candidate.is_file() and os.access(candidate, os.X_OK)
        return ResolvedCommand(command, str(candidate) if ok else None, str(candidate.parent))
    found = shutil.which(command, path=process_path)
    if found:
        return ResolvedCommand(command, found, process_path)
    combined = _merge_paths(process_path, login_shell_path(env.get("SHELL"), env))
    found = shutil.which(command, path=combined) if combined != process_path else None
    return ResolvedCommand(command, found, combined)


def plugin_env(base_env: Mapping[str, str], exec_cfg: Mapping[str, Any], search_path: str) -> dict[str, str]:
    """The environment a plugin runs with: ours, the PATH it was found on, and its ``env`` entries."""
    env = dict(base_env)
    env["PATH"] = search_path
    for item in exec_cfg.get("env") or ():
        if isinstance(item, Mapping) and item.get("name"):
            env[str(item["name"])] = str(item.get("value", ""))
    return env


@dataclass(frozen=True)
class ExecCredential:
    """What an exec plugin handed back. Holds secrets: never log or show it."""

    token: str | None
    client_certificate_data: str | None
    client_key_data: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"ExecCredential(token={'set' if self.token else None}, expires_at={self.expires_at!r})"

    def expired(self, now: datetime | None = None, skew_seconds: float = 60.0) -> bool:
        if self.expires_at is None:
            return False
        now = now or datetime.now(UTC)
        return (self.expires_at - now).total_seconds() <= skew_seconds


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact(lines[-1])[:240] if lines else ""


def run_exec_plugin(
    exec_cfg: Mapping[str, Any],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    timeout: float,
    cluster: Mapping[str, Any] | None = None,
) -> ExecCredential:
    """Run the plugin non-interactively with a deadline and return its credential.

    Raises ``AuthPluginError`` naming the command: not found (with the PATH searched), needs an
    interactive terminal, timed out, failed (with its last stderr line), or bad output.
    """
    command = str(exec_cfg.get("command") or "")
    api_version = str(exec_cfg.get("apiVersion") or "")
    if not command or not api_version:
        raise AuthPluginError(
            "The exec login entry needs both 'command' and 'apiVersion'. "
            "Fix the user entry in the kubeconfig.",
            command=command,
            reason="malformed exec entry",
        )
    resolved = find_command(command, base_dir, env)
    if resolved.path is None:
        raise AuthPluginError(
            _sentence(not_found_message(resolved, exec_cfg)), command=command, reason="command not found"
        )
    if exec_cfg.get("interactiveMode") == "Always":
        raise AuthPluginError(
            f"The login plugin '{command}' needs an interactive terminal. Run kubectl with this context in a "
            "terminal to log in, then check again.",
            command=command,
            reason="interactive login needed",
        )
    spec: dict[str, Any] = {"interactive": False}
    if exec_cfg.get("provideClusterInfo") and cluster is not None:
        spec["cluster"] = _cluster_info(cluster)
    run_env = plugin_env(env, exec_cfg, resolved.search_path)
    run_env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": spec}
    )
    args = [resolved.path, *[str(a) for a in exec_cfg.get("args") or ()]]
    log.debug("running exec plugin %s", command)
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=run_env,
            cwd=str(base_dir) if base_dir.is_dir() else None,
            start_new_session=True,
            text=True,
        )
    except OSError as exc:
        raise AuthPluginError(
            f"The login plugin '{command}' could not be started: {exc.strerror or exc}.",
            command=command,
            reason="cannot start",
        ) from exc
    try:
        stdout, stderr = process.communicate(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise AuthPluginError(
            f"The login plugin '{command}' did not answer within {timeout:.0f} s; it may be waiting for a "
            "login. Run kubectl with this context in a terminal to log in, then check again.",
            command=command,
            reason="timed out",
        ) from None
    if process.returncode != 0:
        detail = _last_line(stderr)
        raise AuthPluginError(
            f"The login plugin '{command}' failed (exit {process.returncode})"
            + (f": {detail}" if detail else "")
            + ". Log in again (run kubectl with this context in a terminal), then check again.",
            command=command,
            reason=f"exit {process.returncode}",
        )
    return _parse_output(stdout, command, api_version)


def not_found_message(resolved: ResolvedCommand, exec_cfg: Mapping[str, Any]) -> str:
    hint = str(exec_cfg.get("installHint") or "").strip()
    text = (
        f"the login plugin '{resolved.command}' was not found (searched PATH: {resolved.search_path}). "
        "Install it, or put its directory on PATH for graphical apps too"
    )
    if hint:
        text += ". " + " ".join(hint.split()).rstrip(".")
    return text


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill the plugin and whatever it started (it runs in its own session)."""
    killpg = getattr(os, "killpg", None)
    try:
        if killpg is None:
            raise OSError("no process groups here")
        killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    try:
        process.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        # A grandchild still holds the pipes open; the process itself is gone, stop waiting.
        process.wait(timeout=2)


def _cluster_info(cluster: Mapping[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for key, out in (
        ("certificate-authority-data", "certificate-authority-data"),
        ("insecure-skip-tls-verify", "insecure-skip-tls-verify"),
        ("tls-server-name", "tls-server-name"),
        ("proxy-url", "proxy-url"),
    ):
        if key in cluster:
            info[out] = cluster[key]
    for extension in cluster.get("extensions") or ():
        if isinstance(extension, Mapping) and extension.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = extension.get("extension")
    return info


def _parse_output(stdout: str, command: str, api_version: str) -> ExecCredential:
    def bad(why: str) -> AuthPluginError:
        return AuthPluginError(
            f"The login plugin '{command}' gave an answer lhdesk cannot use ({why}). Update the plugin, or "
            "check the exec entry's apiVersion.",
            command=command,
            reason="bad output",
        )

    try:
        data = json.loads(stdout)
    except ValueError:
        raise bad("not JSON") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        raise bad("not an ExecCredential")
    if data.get("apiVersion") != api_version:
        raise bad(f"apiVersion {data.get('apiVersion')!r}, expected {api_version!r}")
    status = data.get("status")
    if not isinstance(status, dict):
        raise bad("no status")
    token = status.get("token") or None
    cert = status.get("clientCertificateData") or None
    key = status.get("clientKeyData") or None
    if not token and not (cert and key):
        raise bad("neither a token nor a client certificate and key")
    register_secret(token)
    register_secret(key)
    expires = status.get("expirationTimestamp")
    return ExecCredential(
        token=token,
        client_certificate_data=cert,
        client_key_data=key,
        expires_at=_parse_time(expires) if isinstance(expires, str) else None,
    )
