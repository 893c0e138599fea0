"""The Recurring jobs page over injected contexts, each backed by its own MemoryLonghorn.

The session is the real one (kubeconfig loader and prober injected), the watches run on real
QThreads, and the page is driven like a user: typing in the filter, clicking actions and
header sections, answering the delete question.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QListWidget, QMessageBox, QPushButton, QTableView

from lhdesk.core.clusters import ContextInfo, ContextState, KubeconfigSet, ProbeResult
from lhdesk.core.versions import Capabilities
from lhdesk.ui.jobs.copyjobs import CopyJobsDialog
from lhdesk.ui.jobs.editor import JobEditor
from lhdesk.ui.jobs.model import Column
from lhdesk.ui.jobs.page import JobsPage
from lhdesk.ui.session import ClusterSession

pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support raise\(\)", r"This plugin does not support grabbing the keyboard"
)


def ctx(name: str) -> ContextInfo:
    return ContextInfo(
        name=name,
        cluster=f"{name}-cluster",
        server=f"https://{name}.example:6443",
        user=f"{name}-user",
        namespace="longhorn-system",
        source_file=Path("/tmp/kubeconfig"),
    )


def connected(name: str, version: str = "v1.12.1", missing: tuple[str, ...] = ()) -> ProbeResult:
    state = ContextState.FORBIDDEN if missing else ContextState.CONNECTED
    return ProbeResult(
        name,
        state,
        "Longhorn is ready." if not missing else "You can read but not change RecurringJobs.",
        "v1.31.0",
        version,
        capabilities=Capabilities.for_version(version),
        missing_permissions=missing,
    )


READ_ONLY = (
    "create recurringjobs.longhorn.io",
    "update recurringjobs.longhorn.io",
    "delete recurringjobs.longhorn.io",
    "create systembackups.longhorn.io",
)
PROBES = {
    "prod": connected("prod"),
    "lab": connected("lab", "v1.8.2"),
    "viewer": connected("viewer", missing=READ_ONLY),
    "bare": ProbeResult("bare", ContextState.NO_LONGHORN, "No Longhorn CRDs on this cluster."),
    "down": ProbeResult(
        "down", ContextState.UNREACHABLE, "Cannot reach down.example:6443: connection refused."
    ),
}
KSET = KubeconfigSet(contexts=tuple(ctx(n) for n in PROBES), current="prod", files=())


@pytest.fixture
def backends(memory_longhorn, make_job):
    """One MemoryLonghorn per context; prod holds three jobs, viewer one."""
    memory_type = type(memory_longhorn)
    stores = {name: memory_type() for name in PROBES}
    stores["prod"] = memory_longhorn
    memory_longhorn.put(
        "recurringjobs", make_job("nightly", "backup", "0 2 * * *", groups=["gold"], retain=3)
    )
    memory_longhorn.put("recurringjobs", make_job("sys", "system-backup", "@daily", retain=5))
    memory_longhorn.put("recurringjobs", make_job("trim", "filesystem-trim", "30 3 * * 0"))
    memory_longhorn.put(
        "volumes",
        {"metadata": {"name": "pvc-a", "labels": {"recurring-job-group.longhorn.io/gold": "enabled"}}},
    )
    memory_longhorn.put("volumes", {"metadata": {"name": "pvc-b"}})
    stores["viewer"].put("recurringjobs", make_job("viewer-job", "snapshot"))
    stores["lab"].settings["recurring-job-max-retention"] = "2"
    stores["lab"].settings["current-longhorn-version"] = "v1.8.2"
    stores["lab"].put("recurringjobs", make_job("trim", "filesystem-trim"))
    return stores


@pytest.fixture
def page_for(qtbot, task_runner, backends):
    pages: list[JobsPage] = []

    def make(preferred: str = "prod") -> tuple[JobsPage, ClusterSession]:
        session = ClusterSession(
            task_runner, lambda: KSET, lambda kset, name: PROBES[name], preferred=preferred
        )
        page = JobsPage(session, task_runner, lambda name: backends[name], watch_timeout=1)
        pages.append(page)
        qtbot.addWidget(page)
        page.resize(1200, 700)
        page.show()
        session.reload()
        qtbot.waitUntil(lambda: page.context == preferred and page.is_loaded(), timeout=10_000)
        return page, session

    yield make
    for page in pages:
        assert page.shutdown(10_000)


def names(page: JobsPage) -> list[str]:
    table = page.findChild(QTableView, "jobsTable")
    model = table.model()
    return [model.index(row, Column.NAME).data() for row in range(model.rowCount())]


def select(qtbot, page: JobsPage, *job_names: str) -> None:
    table = page.findChild(QTableView, "jobsTable")
    table.clearSelection()
    model = table.model()
    for row in range(model.rowCount()):
        if model.index(row, Column.NAME).data() in job_names:
            rect = table.visualRect(model.index(row, Column.NAME))
            qtbot.mouseClick(
                table.viewport(),
                Qt.MouseButton.LeftButton,
                Qt.KeyboardModifier.ControlModifier,
                rect.center(),
            )
    assert sorted(job.name for job in page.selected_rows()) == sorted(job_names)


def test_the_table_lists_the_jobs_and_follows_the_watch(
    qtbot, page_for, backends, make_job, qtmodeltester
) -> None:
    page, _ = page_for()
    qtmodeltester.check(page.model)
    qtmodeltester.check(page.proxy)
    assert names(page) == ["nightly", "sys", "trim"]
    assert page.findChild(QLabel, "jobsCountLabel").text() == "3 jobs"
    qtbot.waitUntil(lambda: page.model.job("nightly").display[Column.VOLUMES] == "1", timeout=5000)
    prod = backends["prod"]
    prod.put("recurringjobs", make_job("added", "snapshot", "@hourly"))
    qtbot.waitUntil(lambda: "added" in names(page), timeout=5000)
    prod.put("recurringjobs", make_job("nightly", "backup", "0 4 * * *", groups=["gold"], retain=7))
    qtbot.waitUntil(lambda: page.model.job("nightly").display[Column.RETAIN] == "7", timeout=5000)
    prod.remove("recurringjobs", "trim")
    qtbot.waitUntil(lambda: "trim" not in names(page), timeout=5000)
    assert names(page) == ["added", "nightly", "sys"]
    # A volume joining the group shows in the count.
    prod.put(
        "volumes",
        {"metadata": {"name": "pvc-c", "labels": {"recurring-job-group.longhorn.io/gold": "enabled"}}},
    )
    qtbot.waitUntil(lambda: page.model.job("nightly").display[Column.VOLUMES] == "2", timeout=5000)


def test_filter_box_and_header_sorting(qtbot, page_for) -> None:
    page, _ = page_for()
    qtbot.keyClicks(page.findChild(QLineEdit, "jobsFilterEdit"), "backup")
    assert names(page) == ["nightly", "sys"]
    assert page.findChild(QLabel, "jobsCountLabel").text() == "2 of 3 jobs"
    page.findChild(QLineEdit, "jobsFilterEdit").clear()
    table = page.findChild(QTableView, "jobsTable")
    header = table.horizontalHeader()
    click = header.sectionViewportPosition(Column.RETAIN) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(click, 5))
    order = [table.model().index(r, Column.RETAIN).data() for r in range(3)]
    assert order in (["0", "3", "5"], ["5", "3", "0"])
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(click, 5))
    assert [table.model().index(r, Column.RETAIN).data() for r in range(3)] == list(reversed(order))


def test_new_job_from_the_toolbar_appears_in_the_table(qtbot, page_for, backends) -> None:
    page, _ = page_for()
    page.new_action.trigger()
    editor = page.findChild(JobEditor, "jobEditor")
    assert editor is not None
    qtbot.waitExposed(editor)
    qtbot.keyClicks(editor.findChild(QLineEdit, "jobNameEdit"), "hourly-snap")
    editor.findChild(QLineEdit, "cronEdit").setText("@hourly")
    qtbot.mouseClick(editor.findChild(QPushButton, "saveJobButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "hourly-snap" in names(page), timeout=5000)
    qtbot.waitUntil(lambda: [job.name for job in page.selected_rows()] == ["hourly-snap"], timeout=5000)
    assert "hourly-snap" in backends["prod"].names("recurringjobs")


def test_edit_and_duplicate_open_the_editor_on_the_selected_job(qtbot, page_for) -> None:
    page, _ = page_for()
    select(qtbot, page, "nightly")
    assert page.edit_action.isEnabled()
    page.edit_action.trigger()
    editor = page.editor
    assert editor is not None
    assert editor.editing
    assert editor.findChild(QLineEdit, "jobNameEdit").text() == "nightly"
    assert editor.findChild(QLineEdit, "jobNameEdit").isReadOnly()
    editor.reject()
    page.duplicate_action.trigger()
    editor = page.editor
    assert not editor.editing
    assert editor.current_spec().name == "nightly-copy"
    assert editor.current_spec().groups == ("gold",)
    editor.reject()


def test_delete_asks_naming_job_and_context(qtbot, page_for, backends, monkeypatch) -> None:
    page, _ = page_for()
    asked: list[str] = []
    answer = {"yes": False}

    def confirm(box: QMessageBox) -> bool:
        asked.append(box.text())
        return answer["yes"]

    monkeypatch.setattr(JobsPage, "confirm", staticmethod(confirm))
    select(qtbot, page, "trim")
    page.delete_action.trigger()
    assert asked == ["Delete the recurring job “trim” from context “prod”?"]
    assert "trim" in backends["prod"].names("recurringjobs")
    answer["yes"] = True
    page.delete_action.trigger()
    qtbot.waitUntil(lambda: "trim" not in names(page), timeout=5000)
    assert "trim" not in backends["prod"].names("recurringjobs")
    assert "Deleted trim from prod" in page.findChild(QLabel, "jobsStatus").text()


def test_read_only_context_says_so_and_disables_writes(qtbot, page_for, backends) -> None:
    page, _ = page_for("viewer")
    qtbot.waitUntil(lambda: names(page) == ["viewer-job"], timeout=5000)
    banner = page.findChild(QLabel, "jobsReadOnlyBanner")
    assert banner.isVisible()
    assert "Read-only" in banner.text()
    assert "viewer" in banner.text()
    select(qtbot, page, "viewer-job")
    for action in (page.new_action, page.edit_action, page.duplicate_action, page.delete_action):
        assert not action.isEnabled(), action.objectName()
    # A double-click still shows the job, read-only.
    table = page.findChild(QTableView, "jobsTable")
    rect = table.visualRect(table.model().index(0, 0))
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = page.editor
    assert editor is not None
    assert not editor.findChild(QPushButton, "saveJobButton").isEnabled()
    editor.reject()
    assert backends["viewer"].writes() == []


def test_switching_context_shows_the_other_cluster_only(qtbot, page_for, backends, make_job) -> None:
    page, session = page_for()
    old_feed = page._ctx.jobs_feed
    session.set_current("lab")
    qtbot.waitUntil(lambda: names(page) == ["trim"], timeout=10_000)
    assert old_feed.closed
    # News from the old cluster no longer reaches the table.
    backends["prod"].put("recurringjobs", make_job("late-news", "snapshot"))
    qtbot.wait(300)
    assert names(page) == ["trim"]
    assert not page.findChild(QLabel, "jobsReadOnlyBanner").isVisible()
    assert page.facts.max_retention == 2


@pytest.mark.parametrize(
    ("context", "words"), [("bare", "Longhorn is not installed on bare"), ("down", "Not connected to down")]
)
def test_contexts_without_jobs_say_why(page_for, context, words) -> None:
    page, _ = page_for(context)
    empty = page.findChild(QLabel, "jobsEmptyState")
    assert empty.isVisible()
    assert words in empty.text()
    assert not page.new_action.isEnabled()


def test_copy_to_cluster_validates_there_and_reports_each_job(qtbot, page_for, backends) -> None:
    page, _ = page_for()
    select(qtbot, page, "nightly", "sys", "trim")
    page.copy_action.trigger()
    dialog = page.findChild(CopyJobsDialog, "copyJobsDialog")
    assert dialog is not None
    qtbot.waitExposed(dialog)
    combo = dialog.findChild(QComboBox, "copyTargetCombo")
    combo.setCurrentIndex(combo.findData("lab"))
    qtbot.mouseClick(dialog.findChild(QPushButton, "copyJobsButton"), Qt.MouseButton.LeftButton)
    results = dialog.findChild(QListWidget, "copyResultsList")
    qtbot.waitUntil(lambda: results.count() == 3, timeout=5000)
    lines = {results.item(i).text().split(":")[0]: results.item(i).text() for i in range(3)}
    # lab allows retain 2 at most and runs v1.8.2, which has no system-backup task.
    assert "not valid on that cluster" in lines["nightly"]
    assert "less than or equal to 2" in lines["nightly"]
    assert "not valid on that cluster" in lines["sys"]
    assert "v1.9.0" in lines["sys"]
    assert "already exists" in lines["trim"]
    assert backends["lab"].names("recurringjobs") == ["trim"]
    assert [c.dry_run for c in backends["lab"].writes()] == [True]
    dialog.reject()


def test_copy_creates_valid_jobs_after_a_dry_run(qtbot, page_for, backends) -> None:
    page, _ = page_for()
    select(qtbot, page, "nightly")
    page.copy_action.trigger()
    dialog = page.copy_dialog
    combo = dialog.findChild(QComboBox, "copyTargetCombo")
    combo.setCurrentIndex(combo.findData("viewer"))
    qtbot.mouseClick(dialog.findChild(QPushButton, "copyJobsButton"), Qt.MouseButton.LeftButton)
    results = dialog.findChild(QListWidget, "copyResultsList")
    qtbot.waitUntil(lambda: results.count() == 1, timeout=5000)
    assert results.item(0).text() == "nightly: created"
    assert [(c.method, c.dry_run) for c in backends["viewer"].writes()] == [
        ("create", True),
        ("create", False),
    ]
    dialog.reject()


def test_week_view_shows_the_listed_jobs_with_backups_heavy(qtbot, page_for) -> None:
    page, _ = page_for()
    view = page.week_view
    qtbot.waitUntil(lambda: len(view.rows()) == 3, timeout=5000)
    rows = {row.label: row for row in view.rows()}
    assert rows["nightly"].heavy
    assert rows["sys"].heavy
    assert not rows["trim"].heavy
    assert len(rows["nightly"].runs) == 7
    assert all(run.hour == 2 and run.minute == 0 for run in rows["nightly"].runs)
    qtbot.keyClicks(page.findChild(QLineEdit, "jobsFilterEdit"), "trim")
    qtbot.waitUntil(lambda: [row.label for row in view.rows()] == ["trim"], timeout=5000)


def test_an_unreadable_kubeconfig_is_said_on_the_page(qtbot, task_runner) -> None:
    def broken() -> KubeconfigSet:
        raise ValueError("/home/me/.kube/config: mapping values are not allowed here")

    session = ClusterSession(task_runner, broken, lambda kset, name: PROBES[name])
    page = JobsPage(session, task_runner, lambda name: None, watch_timeout=1)
    qtbot.addWidget(page)
    page.show()
    assert not page.is_loaded()
    session.reload()
    qtbot.waitUntil(page.is_loaded, timeout=5000)
    assert "Could not read the kubeconfig" in page.findChild(QLabel, "jobsEmptyState").text()
    assert not page.new_action.isEnabled()
    assert page.shutdown(5000)
