"""The Recurring jobs page and editor against the demo cluster, over HTTPS, driven like a user.

One demo cluster (built-in API server, small seed) serves the module. Its cron clock runs 60 times
faster (``scale_cron``), so a job scheduled every minute fires about every second; the real
kubectl checks what the server stored.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox

from lhdesk.demo.cluster import ADMIN_CONTEXT, READONLY_CONTEXT, DemoCluster
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.ui.jobs.editor import JobConflictDialog, JobEditor
from lhdesk.ui.jobs.model import Column
from lhdesk.ui.jobs.page import JobsPage
from lhdesk.ui.session import ClusterSession

pytestmark = [
    pytest.mark.integration,
    # Combo popups are top-level windows the offscreen platform can neither raise nor give the keyboard.
    pytest.mark.qt_log_ignore(
        r"This plugin does not support raise\(\)", r"This plugin does not support grabbing the keyboard"
    ),
]

SPEED = 60.0


@pytest.fixture(scope="module")
def demo(demo_cluster_factory: Callable[..., DemoCluster]) -> DemoCluster:
    """A small-seed cluster with its cron clock sped up, on each API-server backend."""
    return demo_cluster_factory(seed="small", speed=SPEED, scale_cron=True)


@pytest.fixture
def factory(demo: DemoCluster) -> Iterator[KubeconfigApiFactory]:
    made = KubeconfigApiFactory(demo.kubeconfig_path)
    yield made
    made.close()


@pytest.fixture
def kubectl(demo: DemoCluster, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        *args: str, context: str = ADMIN_CONTEXT, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(demo.kubeconfig_path)}
        return subprocess.run(
            ["kubectl", "--context", context, "-n", demo.namespace, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def open_page(qtbot, task_runner, demo, factory) -> Iterator[Callable[[str], JobsPage]]:
    made: list[tuple[JobsPage, ClusterSession]] = []

    def make(context: str = ADMIN_CONTEXT) -> JobsPage:
        session = ClusterSession(
            task_runner,
            lambda: load_contexts(demo.kubeconfig_path),
            lambda kset, name: probe(kset, name, timeout=10),
            preferred=context,
        )
        page = JobsPage(session, task_runner, factory, watch_timeout=2)
        made.append((page, session))
        qtbot.addWidget(page)
        page.resize(1300, 800)
        page.show()
        session.reload()
        qtbot.waitUntil(lambda: page.context == context and page.is_loaded(), timeout=30_000)
        return page

    yield make
    for page, session in made:
        assert page.shutdown(15_000)
        page.close()
        page.deleteLater()
        session.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def child(widget, kind, name: str):
    found = widget.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found


def choose(qtbot, combo: QComboBox, text: str) -> None:
    """Open the popup and click the item, as a mouse user picks from a combo box."""
    row = next(r for r in range(combo.count()) if combo.itemText(r) == text)
    combo.showPopup()
    view = combo.view()
    qtbot.waitExposed(view)
    index = view.model().index(row, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    assert combo.currentIndex() == row


def retype(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def set_spin(qtbot, spin: QSpinBox, value: int) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, str(value))
    assert spin.value() == value


def select(qtbot, page: JobsPage, name: str) -> None:
    assert page.select(name)
    assert [job.name for job in page.selected_rows()] == [name]


def executions(page: JobsPage, name: str) -> int:
    job = page.model.job(name)
    return int(job.display[Column.EXECUTIONS]) if job is not None else -1


def backups_of(kubectl, job: str) -> list[dict[str, Any]]:
    listed = kubectl("get", "backups.longhorn.io", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    out = []
    for item in json.loads(listed.stdout)["items"]:
        labels = (item.get("status") or {}).get("labels") or (item.get("spec") or {}).get("labels") or {}
        if labels.get("RecurringJob") == job:
            out.append(item)
    return out


def test_a_job_made_in_the_editor_is_stored_runs_and_backs_up(qtbot, open_page, kubectl, monkeypatch) -> None:
    page = open_page()
    assert "backup-daily" in [job.name for job in page.model.rows()]
    page.new_action.trigger()
    editor = page.editor
    assert isinstance(editor, JobEditor)
    qtbot.waitExposed(editor)
    qtbot.keyClicks(child(editor, QLineEdit, "jobNameEdit"), "ui-backup")
    choose(qtbot, child(editor, QComboBox, "taskTypeCombo"), "Backup")
    retype(qtbot, child(editor, QLineEdit, "cronEdit"), "* * * * *")
    qtbot.mouseClick(child(editor, QPushButton, "addDefaultGroupButton"), Qt.MouseButton.LeftButton)
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 2)
    save = child(editor, QPushButton, "saveJobButton")
    assert save.isEnabled(), save.toolTip()
    with qtbot.waitSignal(editor.saved, timeout=20_000):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)

    got = kubectl("get", "recurringjobs.longhorn.io", "-o", "name")
    assert got.returncode == 0, got.stderr
    assert "recurringjob.longhorn.io/ui-backup" in got.stdout.split()
    spec = json.loads(kubectl("get", "recurringjobs.longhorn.io", "ui-backup", "-o", "json").stdout)["spec"]
    assert (spec["task"], spec["cron"], spec["retain"], spec["groups"]) == (
        "backup",
        "* * * * *",
        2,
        ["default"],
    )

    # It runs (the table follows status.executionCount live) and its backups appear.
    qtbot.waitUntil(lambda: executions(page, "ui-backup") >= 1, timeout=60_000)
    qtbot.waitUntil(lambda: len(backups_of(kubectl, "ui-backup")) > 0, timeout=60_000)
    assert page.model.job("ui-backup").covered, "the default group covers the seed's unlabelled volumes"

    # Deleting it from the page stops it.
    monkeypatch.setattr(JobsPage, "confirm", staticmethod(lambda box: "ui-backup" in box.text()))
    select(qtbot, page, "ui-backup")
    page.delete_action.trigger()
    qtbot.waitUntil(lambda: page.model.job("ui-backup") is None, timeout=20_000)
    assert (
        "recurringjob.longhorn.io/ui-backup"
        not in kubectl("get", "recurringjobs.longhorn.io", "-o", "name").stdout
    )


def test_a_server_refusal_from_the_dry_run_is_shown_beside_the_field(qtbot, open_page, kubectl) -> None:
    page = open_page()
    page.new_action.trigger()
    editor = page.editor
    qtbot.waitExposed(editor)
    # The editor was opened believing the limit is 100; an admin lowers it to 5 meanwhile.
    lowered = kubectl(
        "patch",
        "settings.longhorn.io",
        "recurring-job-max-retention",
        "--type",
        "merge",
        "-p",
        '{"value":"5"}',
    )
    assert lowered.returncode == 0, lowered.stderr
    try:
        qtbot.keyClicks(child(editor, QLineEdit, "jobNameEdit"), "too-many")
        set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 50)
        save = child(editor, QPushButton, "saveJobButton")
        assert save.isEnabled()
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
        error = child(editor, QLabel, "retainError")
        qtbot.waitUntil(error.isVisible, timeout=20_000)
        assert "The cluster refused it: retain value should be less than or equal to 5" in error.text()
        assert not save.isEnabled()
        assert "too-many" not in kubectl("get", "recurringjobs.longhorn.io", "-o", "name").stdout
    finally:
        restored = kubectl(
            "patch",
            "settings.longhorn.io",
            "recurring-job-max-retention",
            "--type",
            "merge",
            "-p",
            '{"value":"100"}',
        )
        assert restored.returncode == 0, restored.stderr
        editor.reject()


def test_a_409_opens_the_comparison_and_overwrites_only_when_asked(qtbot, open_page, kubectl) -> None:
    page = open_page()
    manifest = {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": "contested", "namespace": "longhorn-system"},
        "spec": {
            "name": "contested",
            "task": "snapshot",
            "cron": "0 3 * * *",
            "retain": 3,
            "concurrency": 1,
            "groups": [],
            "labels": {},
            "parameters": {},
        },
    }
    result = kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    qtbot.waitUntil(lambda: page.model.job("contested") is not None, timeout=20_000)
    select(qtbot, page, "contested")
    page.edit_action.trigger()
    editor = page.editor
    qtbot.waitExposed(editor)
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 9)
    # Someone else changes the job with kubectl before the user saves.
    patched = kubectl(
        "patch", "recurringjobs.longhorn.io", "contested", "--type", "merge", "-p", '{"spec":{"retain":7}}'
    )
    assert patched.returncode == 0, patched.stderr
    qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.findChild(JobConflictDialog) is not None, timeout=20_000)
    dialog = editor.findChild(JobConflictDialog)
    assert "retain: 7" in child(dialog, QPlainTextEdit, "theirsYaml").toPlainText()
    assert "retain: 9" in child(dialog, QPlainTextEdit, "yoursYaml").toPlainText()
    assert stored_retain(kubectl, "contested") == 7, "nothing is overwritten before the user says so"
    with qtbot.waitSignal(editor.saved, timeout=20_000):
        qtbot.mouseClick(child(dialog, QPushButton, "overwriteJobButton"), Qt.MouseButton.LeftButton)
    assert stored_retain(kubectl, "contested") == 9
    kubectl("delete", "recurringjobs.longhorn.io", "contested")


def stored_retain(kubectl, name: str) -> int:
    got = kubectl("get", "recurringjobs.longhorn.io", name, "-o", "jsonpath={.spec.retain}")
    assert got.returncode == 0, got.stderr
    return int(got.stdout)


def test_the_read_only_context_says_so_and_cannot_write(qtbot, open_page) -> None:
    page = open_page(READONLY_CONTEXT)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=20_000)
    banner = child(page, QLabel, "jobsReadOnlyBanner")
    assert banner.isVisible()
    assert READONLY_CONTEXT in banner.text()
    assert "cannot create, update or delete" in banner.text()
    select(qtbot, page, "backup-daily")
    for action in (page.new_action, page.edit_action, page.duplicate_action, page.delete_action):
        assert not action.isEnabled(), action.objectName()
    assert page.copy_action.isEnabled(), "copying to another context is still possible"
    # Opening a job shows it read-only: no Save.
    index = page.proxy.mapFromSource(page.model.index(page.model.row_of("backup-daily"), 0))
    rect = page.table.visualRect(index)
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = page.editor
    assert editor is not None
    assert not child(editor, QPushButton, "saveJobButton").isEnabled()
    assert "Read-only" in child(editor, QPushButton, "saveJobButton").toolTip()
    editor.reject()
