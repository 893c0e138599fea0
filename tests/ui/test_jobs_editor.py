"""The RecurringJob editor, driven like a user: typing, clicking, picking from combo boxes.

Saves go to ``MemoryLonghorn`` (tests/ui/conftest.py), which refuses what Longhorn's webhook
refuses and answers 409 to a stale replace; the demo-cluster version is in tests/integration.
"""

from __future__ import annotations

import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QPlainTextEdit, QPushButton, QSpinBox, QWidget

from lhdesk.core.recurringjob import TASKS, ClusterFacts
from lhdesk.core.versions import parse_version
from lhdesk.ui.jobs.editor import EditorTarget, JobConflictDialog, JobEditor

# Combo popups are real top-level windows; the offscreen platform cannot raise them or grab
# the keyboard for them, and says so. Harmless for these tests.
pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support raise\(\)", r"This plugin does not support grabbing the keyboard"
)

FACTS = ClusterFacts(longhorn_version=parse_version("v1.12.1"), max_retention=100)


@pytest.fixture
def open_editor(qtbot, task_runner, memory_longhorn):
    def make(existing=None, facts=FACTS, **kwargs) -> JobEditor:
        editor = JobEditor(
            task_runner, EditorTarget("prod", memory_longhorn, facts), existing=existing, **kwargs
        )
        qtbot.addWidget(editor)
        editor.show()
        qtbot.waitExposed(editor)
        return editor

    return make


def child(editor: QWidget, kind, name: str):
    widget = editor.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} named {name}"
    return widget


def choose(qtbot, combo: QComboBox, text: str) -> None:
    """Pick an item the way a mouse user does: open the popup, click the item whose text it is."""
    rows = [r for r in range(combo.count()) if combo.itemText(r) == text] or [
        r for r in range(combo.count()) if combo.itemText(r).startswith(text)
    ]
    assert rows, f"{text!r} is not offered by {combo.objectName()}"
    combo.showPopup()
    view = combo.view()
    qtbot.waitExposed(view)
    index = view.model().index(rows[0], 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    assert combo.currentIndex() == rows[0], combo.currentText()


def retype(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def set_spin(qtbot, spin: QSpinBox, value: int) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, str(value))
    assert spin.value() == value


def sent_yaml(editor: JobEditor) -> dict:
    return yaml.safe_load(child(editor, QPlainTextEdit, "yamlPreview").toPlainText())


def fill_valid(qtbot, editor: JobEditor, name: str = "nightly") -> None:
    qtbot.keyClicks(child(editor, QWidget, "jobNameEdit"), name)


TITLES = {info.name: info.title for info in TASKS.values()}


def select_task(qtbot, editor: JobEditor, task: str) -> None:
    combo = child(editor, QComboBox, "taskTypeCombo")
    choose(qtbot, combo, TITLES[task])
    assert editor.current_task() == task


def test_task_combo_lists_all_eight_tasks_in_words(open_editor) -> None:
    editor = open_editor()
    combo = child(editor, QComboBox, "taskTypeCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == list(TASKS)
    for row in range(combo.count()):
        assert combo.itemData(row, Qt.ItemDataRole.ToolTipRole) == TASKS[combo.itemData(row)].description
    assert child(editor, QLabel, "taskDescription").text() == TASKS["snapshot"].description


@pytest.mark.parametrize("task", list(TASKS))
def test_each_task_shows_the_fields_it_uses(qtbot, open_editor, task) -> None:
    editor = open_editor()
    select_task(qtbot, editor, task)
    info = TASKS[task]
    system = task == "system-backup"
    assert child(editor, QWidget, "groupsEdit").isVisible() is not system
    assert child(editor, QWidget, "labelsEdit").isVisible() is not system
    assert child(editor, QSpinBox, "concurrencySpin").isVisible() is not system
    assert child(editor, QWidget, "cronEdit").isVisible()
    retain = child(editor, QSpinBox, "retainSpin")
    assert retain.isVisible()
    assert retain.isEnabled() is (info.retain_fixed is None)
    assert child(editor, QLabel, "taskDescription").text() == info.description
    params = child(editor, QWidget, "parametersEdit")
    combo = params.findChild(QComboBox, "volumeBackupPolicyCombo")
    adder = child(editor, QPushButton, "addParameterButton")
    if system:
        assert combo is not None
        qtbot.waitUntil(combo.isVisible, timeout=2000)
        assert not adder.isVisible()
    elif info.parameters:
        assert combo is None
        assert adder.isVisible()
        assert child(editor, QComboBox, "addParameterCombo").currentText() == "full-backup-interval"
    else:
        assert combo is None
        assert not adder.isVisible()
        assert child(editor, QLabel, "noParametersLabel").isVisible()
    spec = editor.current_spec()
    if system:
        assert spec.groups == ()
        assert spec.labels == ()


@pytest.mark.parametrize("task", ["snapshot-cleanup", "filesystem-trim"])
def test_retain_is_fixed_at_zero_and_disabled(qtbot, open_editor, task) -> None:
    editor = open_editor()
    retain = child(editor, QSpinBox, "retainSpin")
    set_spin(qtbot, retain, 7)
    select_task(qtbot, editor, task)
    assert retain.value() == 0
    assert not retain.isEnabled()
    assert sent_yaml(editor)["spec"]["retain"] == 0
    # Going back to a counting task raises 0 to the task's minimum, as Longhorn's UI does.
    select_task(qtbot, editor, "snapshot")
    assert retain.isEnabled()
    assert retain.value() == 1


def test_snapshot_delete_accepts_zero_and_warns(qtbot, open_editor) -> None:
    editor = open_editor()
    select_task(qtbot, editor, "snapshot-delete")
    retain = child(editor, QSpinBox, "retainSpin")
    assert retain.minimum() == 0
    set_spin(qtbot, retain, 0)
    warning = child(editor, QLabel, "retainWarning")
    assert warning.isVisible()
    assert "deletes every snapshot" in warning.text()
    set_spin(qtbot, retain, 2)
    assert not warning.isVisible()


def test_counting_tasks_keep_at_least_one_and_at_most_the_cluster_limit(qtbot, open_editor) -> None:
    editor = open_editor(facts=ClusterFacts(parse_version("v1.12.1"), max_retention=20))
    for task in ("snapshot", "backup", "system-backup"):
        select_task(qtbot, editor, task)
        retain = child(editor, QSpinBox, "retainSpin")
        assert (retain.minimum(), retain.maximum()) == (1, 20)
        assert "20" in child(editor, QLabel, "retainHint").text()


def test_invalid_cron_blocks_save_with_the_reason(qtbot, open_editor) -> None:
    editor = open_editor()
    fill_valid(qtbot, editor)
    save = child(editor, QPushButton, "saveJobButton")
    assert save.isEnabled()
    retype(qtbot, child(editor, QWidget, "cronEdit"), "0 0 * * 7")
    assert not save.isEnabled()
    assert "Schedule" in save.toolTip()
    assert "Sunday is 0, not 7" in save.toolTip()
    error = child(editor, QLabel, "cronError")
    assert error.isVisible()
    assert "End of range (7) above maximum (6)" in error.text()
    assert child(editor, QListWidget, "nextRunsList").count() == 0
    retype(qtbot, child(editor, QWidget, "cronEdit"), "0 0 * * 0")
    assert save.isEnabled()
    assert not error.isVisible()


@pytest.mark.parametrize("expr", ["0 0 L * *", "TZ=UTC 0 0 * * *", "0 0 0 * * *", "@every"])
def test_what_longhorn_refuses_is_refused_here(qtbot, open_editor, expr) -> None:
    editor = open_editor()
    fill_valid(qtbot, editor)
    retype(qtbot, child(editor, QWidget, "cronEdit"), expr)
    assert not child(editor, QPushButton, "saveJobButton").isEnabled()
    assert child(editor, QLabel, "cronError").text()


def test_presets_fill_the_schedule_and_show_five_runs_in_utc_and_local(qtbot, open_editor) -> None:
    editor = open_editor()
    preset = child(editor, QComboBox, "cronPresetCombo")
    choose(qtbot, preset, "Weekdays at 01:00")
    assert child(editor, QWidget, "cronEdit").text() == "0 1 * * 1-5"
    runs = child(editor, QListWidget, "nextRunsList")
    assert runs.count() == 5
    assert all("01:00 UTC" in runs.item(i).text() for i in range(5))
    assert "weekday" in child(editor, QLabel, "cronDescription").text().lower() or "monday" in (
        child(editor, QLabel, "cronDescription").text().lower()
    )
    note = child(editor, QLabel, "cronTimeZoneNote").text()
    assert "cluster's time zone" in note
    assert "UTC" in note
    retype(qtbot, child(editor, QWidget, "cronEdit"), "@every 90m")
    assert "Every 1 hour 30 minutes" in child(editor, QLabel, "cronDescription").text()
    assert runs.count() == 5


def test_name_errors_show_inline_as_the_user_types(qtbot, open_editor) -> None:
    editor = open_editor()
    name = child(editor, QWidget, "jobNameEdit")
    error = child(editor, QLabel, "jobNameError")
    save = child(editor, QPushButton, "saveJobButton")
    assert error.text() == "Required"
    assert save.toolTip().startswith("Fix this first — Name: required")
    qtbot.keyClicks(name, "Nightly_Backup")
    assert error.isVisible()
    assert "_" in error.text()
    retype(qtbot, name, "n")
    assert "at least 2" in error.text()
    retype(qtbot, name, "x" * 41)
    assert "at most 40" in error.text()
    retype(qtbot, name, "nightly")
    assert not error.isVisible()
    assert save.isEnabled()


def test_default_group_is_one_click(qtbot, open_editor) -> None:
    editor = open_editor()
    groups = child(editor, QWidget, "groupsEdit")
    button = child(editor, QPushButton, "addDefaultGroupButton")
    qtbot.keyClicks(groups, "gold")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert groups.text() == "gold, default"
    assert not button.isEnabled()
    assert editor.current_spec().groups == ("gold", "default")
    qtbot.keyClicks(groups, ", gold, x")
    error = child(editor, QLabel, "groupsError")
    assert "invalid group name 'x'" in error.text()
    assert editor.current_spec().groups == ("gold", "default", "x")


def test_labels_are_key_value_rows_checked_as_typed(qtbot, open_editor) -> None:
    editor = open_editor()
    fill_valid(qtbot, editor)
    qtbot.mouseClick(child(editor, QPushButton, "addLabelButton"), Qt.MouseButton.LeftButton)
    key = child(editor, QWidget, "labelKeyEdit0")
    value = child(editor, QWidget, "labelValueEdit0")
    error = child(editor, QLabel, "labelsError")
    qtbot.keyClicks(key, "RecurringJob")
    assert "reserved" in error.text()
    retype(qtbot, key, "team")
    assert "cannot be empty" in error.text()
    assert not child(editor, QPushButton, "saveJobButton").isEnabled()
    qtbot.keyClicks(value, "db")
    assert not error.isVisible()
    assert sent_yaml(editor)["spec"]["labels"] == {"team": "db"}
    qtbot.mouseClick(child(editor, QWidget, "removeLabelButton0"), Qt.MouseButton.LeftButton)
    assert sent_yaml(editor)["spec"]["labels"] == {}


def test_system_backup_policy_has_a_typed_explained_editor(qtbot, open_editor) -> None:
    editor = open_editor()
    select_task(qtbot, editor, "system-backup")
    combo = child(editor, QComboBox, "volumeBackupPolicyCombo")
    assert combo.currentData() == "if-not-present"
    assert [combo.itemData(i) for i in range(combo.count())] == ["if-not-present", "always", "disabled"]
    for row in range(combo.count()):
        assert combo.itemData(row, Qt.ItemDataRole.ToolTipRole)
    explanation = child(editor, QLabel, "volumeBackupPolicyExplanation")
    assert "last backup" in explanation.text()
    choose(qtbot, combo, "disabled")
    assert "only the Longhorn resources" in explanation.text()
    spec = sent_yaml(editor)["spec"]
    assert spec["parameters"] == {"volume-backup-policy": "disabled"}
    assert spec["groups"] == []
    assert spec["labels"] == {}
    assert "backup target" in child(editor, QLabel, "taskWarning").text()


def test_backup_offers_only_full_backup_interval_with_a_spin_box(qtbot, open_editor) -> None:
    editor = open_editor()
    select_task(qtbot, editor, "backup")
    fill_valid(qtbot, editor)
    assert sent_yaml(editor)["spec"]["parameters"] == {}
    adder = child(editor, QComboBox, "addParameterCombo")
    assert [adder.itemText(i) for i in range(adder.count())] == ["full-backup-interval"]
    qtbot.mouseClick(child(editor, QPushButton, "addParameterButton"), Qt.MouseButton.LeftButton)
    spin = child(editor, QSpinBox, "fullBackupIntervalSpin")
    assert spin.minimum() == 0
    set_spin(qtbot, spin, 7)
    assert sent_yaml(editor)["spec"]["parameters"] == {"full-backup-interval": "7"}
    assert not child(editor, QPushButton, "addParameterButton").isVisible()
    set_spin(qtbot, spin, 1)
    assert "every backup a full backup" in child(editor, QLabel, "parametersWarning").text()
    select_task(qtbot, editor, "snapshot")
    assert sent_yaml(editor)["spec"]["parameters"] == {}


def test_yaml_preview_is_exactly_what_save_sends(qtbot, open_editor, memory_longhorn) -> None:
    editor = open_editor()
    fill_valid(qtbot, editor)
    qtbot.keyClicks(child(editor, QWidget, "groupsEdit"), "gold")
    preview = sent_yaml(editor)
    assert preview == {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": "nightly", "namespace": "longhorn-system"},
        "spec": {
            "name": "nightly",
            "task": "snapshot",
            "cron": "0 0 * * *",
            "retain": 1,
            "concurrency": 10,
            "groups": ["gold"],
            "labels": {},
            "parameters": {},
        },
    }
    with qtbot.waitSignal(editor.saved, timeout=5000):
        qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    writes = memory_longhorn.writes()
    assert [(c.method, c.dry_run) for c in writes] == [("create", True), ("create", False)]
    assert writes[0].body == preview
    assert writes[1].body == preview
    assert memory_longhorn.names("recurringjobs") == ["nightly"]
    assert editor.result() == JobEditor.DialogCode.Accepted


def test_server_dry_run_refusal_is_shown_beside_the_field(qtbot, open_editor, memory_longhorn) -> None:
    # The editor believes the limit is 100; the cluster's setting was lowered to 5 meanwhile.
    memory_longhorn.settings["recurring-job-max-retention"] = "5"
    editor = open_editor()
    fill_valid(qtbot, editor)
    retain = child(editor, QSpinBox, "retainSpin")
    set_spin(qtbot, retain, 50)
    save = child(editor, QPushButton, "saveJobButton")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    error = child(editor, QLabel, "retainError")
    qtbot.waitUntil(error.isVisible, timeout=5000)
    assert "The cluster refused it: retain value should be less than or equal to 5" in error.text()
    assert [(c.method, c.dry_run) for c in memory_longhorn.writes()] == [("create", True)]
    assert memory_longhorn.names("recurringjobs") == []
    assert not save.isEnabled()
    assert "refused" in save.toolTip()
    set_spin(qtbot, retain, 5)
    assert save.isEnabled()
    assert not error.isVisible()


def test_a_taken_name_is_reported_on_the_name(qtbot, open_editor, memory_longhorn, make_job) -> None:
    memory_longhorn.put("recurringjobs", make_job("nightly", "snapshot"))
    editor = open_editor()
    fill_valid(qtbot, editor)
    qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    error = child(editor, QLabel, "jobNameError")
    qtbot.waitUntil(error.isVisible, timeout=5000)
    assert "already exists" in error.text()


def test_editing_locks_name_and_task_and_sends_the_loaded_version(
    qtbot, open_editor, memory_longhorn, make_job
) -> None:
    stored = memory_longhorn.put("recurringjobs", make_job("nightly", "backup", retain=3))
    editor = open_editor(existing=stored)
    assert child(editor, QWidget, "jobNameEdit").isReadOnly()
    assert not child(editor, QComboBox, "taskTypeCombo").isEnabled()
    assert editor.current_task() == "backup"
    assert sent_yaml(editor)["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 9)
    with qtbot.waitSignal(editor.saved, timeout=5000):
        qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    assert [(c.method, c.dry_run) for c in memory_longhorn.writes()] == [
        ("replace", True),
        ("replace", False),
    ]
    assert memory_longhorn.stored("recurringjobs", "nightly")["spec"]["retain"] == 9


def conflict(qtbot, open_editor, memory_longhorn, make_job) -> tuple[JobEditor, JobConflictDialog]:
    stored = memory_longhorn.put("recurringjobs", make_job("nightly", "backup", retain=3))
    editor = open_editor(existing=stored)
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 9)
    # Someone else changes the job (as kubectl edit would) before the user saves.
    theirs = make_job("nightly", "backup", "0 5 * * *", retain=4)
    memory_longhorn.put("recurringjobs", theirs)
    qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.findChild(JobConflictDialog) is not None, timeout=5000)
    dialog = editor.findChild(JobConflictDialog, "jobConflictDialog")
    qtbot.waitExposed(dialog)
    assert "cron" in child(dialog, QLabel, "conflictSummary").text()
    assert "retain: 4" in child(dialog, QPlainTextEdit, "theirsYaml").toPlainText()
    assert "retain: 9" in child(dialog, QPlainTextEdit, "yoursYaml").toPlainText()
    assert memory_longhorn.stored("recurringjobs", "nightly")["spec"]["retain"] == 4, (
        "nothing overwritten yet"
    )
    return editor, dialog


def test_conflict_overwrite_replaces_theirs_only_when_asked(
    qtbot, open_editor, memory_longhorn, make_job
) -> None:
    editor, dialog = conflict(qtbot, open_editor, memory_longhorn, make_job)
    with qtbot.waitSignal(editor.saved, timeout=5000):
        qtbot.mouseClick(child(dialog, QPushButton, "overwriteJobButton"), Qt.MouseButton.LeftButton)
    stored = memory_longhorn.stored("recurringjobs", "nightly")
    assert stored["spec"]["retain"] == 9
    assert stored["spec"]["cron"] == "0 2 * * *"


def test_conflict_reload_shows_theirs_and_saves_nothing(
    qtbot, open_editor, memory_longhorn, make_job
) -> None:
    editor, dialog = conflict(qtbot, open_editor, memory_longhorn, make_job)
    qtbot.mouseClick(child(dialog, QPushButton, "reloadJobButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: child(editor, QSpinBox, "retainSpin").value() == 4, timeout=5000)
    assert child(editor, QWidget, "cronEdit").text() == "0 5 * * *"
    assert memory_longhorn.stored("recurringjobs", "nightly")["spec"]["retain"] == 4
    assert editor.isVisible()
    # Saving now is based on their version: no further conflict.
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 6)
    with qtbot.waitSignal(editor.saved, timeout=5000):
        qtbot.mouseClick(child(editor, QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    assert memory_longhorn.stored("recurringjobs", "nightly")["spec"]["retain"] == 6


def system_backup(name: str, state: str, created: str | None, job: str = "nightly-sys") -> dict:
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "SystemBackup",
        "metadata": {"name": name, "labels": {"recurring-job.longhorn.io/system-backup": job}},
        "spec": {"volumeBackupPolicy": "if-not-present"},
        "status": {"state": state, **({"createdAt": created} if created else {})},
    }


def test_system_backup_editor_shows_the_retention_forecast(
    qtbot, open_editor, memory_longhorn, make_job
) -> None:
    for name, state, created in (
        ("sb-old", "Ready", "2026-12-01T01:00:00Z"),
        ("sb-mid", "Ready", "2026-12-02T01:00:00Z"),
        ("sb-new", "Ready", "2026-12-03T01:00:00Z"),
        ("sb-failed", "Error", None),
        ("sb-running", "Uploading", None),
    ):
        memory_longhorn.put("systembackups", system_backup(name, state, created))
    memory_longhorn.put("systembackups", system_backup("other-job", "Ready", "2026-11-01T01:00:00Z", job="x"))
    stored = memory_longhorn.put(
        "recurringjobs", make_job("nightly-sys", "system-backup", "@daily", retain=3)
    )
    editor = open_editor(existing=stored)
    label = child(editor, QLabel, "retentionForecast")
    qtbot.waitUntil(lambda: "Retention forecast" in label.text(), timeout=5000)
    text = label.text()
    assert "It deletes (oldest and failed first): sb-failed, sb-old." in text
    assert "It keeps: sb-mid, sb-new and the new one." in text
    assert "this job has 4 finished system backups" in text
    assert "sb-running" in text
    assert "other-job" not in text
    set_spin(qtbot, child(editor, QSpinBox, "retainSpin"), 10)
    assert "It deletes none." in label.text()


def test_older_clusters_are_not_offered_system_backup(open_editor) -> None:
    editor = open_editor(facts=ClusterFacts(parse_version("v1.8.2"), 100))
    combo = child(editor, QComboBox, "taskTypeCombo")
    assert combo.findData("system-backup") == -1
    assert combo.count() == 7
    assert "v1.9.0" in child(editor, QLabel, "taskNote").text()


def test_read_only_editor_shows_the_job_but_cannot_save(open_editor, memory_longhorn, make_job) -> None:
    stored = memory_longhorn.put("recurringjobs", make_job("nightly", "backup"))
    editor = open_editor(existing=stored, read_only=True, read_only_reason="demo-readonly cannot update jobs")
    save = child(editor, QPushButton, "saveJobButton")
    assert not save.isEnabled()
    assert "Read-only" in save.toolTip()
    assert child(editor, QWidget, "cronEdit").isReadOnly()
    assert not child(editor, QSpinBox, "retainSpin").isEnabled()
    assert "demo-readonly" in child(editor, QLabel, "editorReadOnlyLabel").text()
