"""The session notices kubeconfig edits, including kubectl's atomic replace, and keeps the selection."""

from __future__ import annotations

import os
from pathlib import Path

from lhdesk.core.clusters import ContextState, KubeconfigSet, ProbeResult
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.ui.session import ClusterSession

TEMPLATE = """apiVersion: v1
kind: Config
current-context: {current}
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:1"}}
users:
- name: u
  user: {{token: not-a-real-token}}
contexts:
{contexts}
"""


def write(path: Path, names: list[str], current: str) -> None:
    contexts = "".join(f"- name: {n}\n  context: {{cluster: c, user: u}}\n" for n in names)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(TEMPLATE.format(current=current, contexts=contexts))
    os.replace(tmp, path)  # what kubectl does: write aside, then rename over


def unreachable(kset: KubeconfigSet, name: str) -> ProbeResult:
    return ProbeResult(name, ContextState.UNREACHABLE, "closed port")


def test_atomic_replace_reloads_and_keeps_the_current_context(qtbot, task_runner, tmp_path: Path) -> None:
    config = tmp_path / "config"
    write(config, ["a", "b"], current="a")
    session = ClusterSession(task_runner, lambda: load_contexts(config), unreachable)
    with qtbot.waitSignal(session.contexts_changed):
        session.reload()
    session.set_current("b")
    with qtbot.waitSignal(session.contexts_changed, timeout=10_000):
        write(config, ["a", "b", "c"], current="a")
    assert [s.info.name for s in session.statuses()] == ["a", "b", "c"]
    assert session.current.info.name == "b"


def test_current_context_removed_falls_back_to_the_kubeconfig_current(
    qtbot, task_runner, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    write(config, ["a", "b"], current="a")
    session = ClusterSession(task_runner, lambda: load_contexts(config), unreachable)
    with qtbot.waitSignal(session.contexts_changed):
        session.reload()
    session.set_current("b")
    with qtbot.waitSignal(
        session.current_changed, timeout=10_000, check_params_cb=lambda s: s.info.name == "a"
    ):
        write(config, ["a"], current="a")
    assert session.current.info.name == "a"
