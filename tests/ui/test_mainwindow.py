"""The main window, driven the way a user drives it."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QListWidget, QMessageBox, QPushButton

from lhdesk.logbuffer import RingBufferHandler
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.errors import ErrorReporter, install_excepthooks
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.pages import Page
from lhdesk.ui.settings import Settings
from lhdesk.ui.tasks import TaskRunner


class NotesPage(Page):
    """A page whose data loads in the background, like every real page."""

    name = "notes"
    title = "Notes"

    def __init__(self, tasks: TaskRunner) -> None:
        super().__init__()
        self.label = QLabel("loading", self)
        tasks.submit(lambda: "loaded from disk", self._on_loaded, description="Reading notes")

    def _on_loaded(self, text: str) -> None:
        self.label.setText(text)
        self.mark_loaded()


def make_window(qtbot, qsettings: QSettings, task_runner: TaskRunner, *_: object) -> MainWindow:
    bridge = LogBridge(RingBufferHandler(capacity=50))
    page = NotesPage(task_runner)
    other = NotesPage(task_runner)
    other.name = "other"
    window = MainWindow(Settings(qsettings), task_runner, bridge, [page, other])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: page.is_loaded() and other.is_loaded())
    return window


def test_sidebar_lists_the_pages_and_switches_between_them(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)
    nav = window.findChild(QListWidget, "navigation")
    assert [nav.item(i).text() for i in range(nav.count())] == ["Notes", "Notes"]
    nav.setFocus()
    qtbot.keyClick(nav, Qt.Key.Key_Down)
    assert window.current_page().name == "other"
    assert Settings(qsettings).last_page == "other"
    assert window.current_page().label.text() == "loaded from disk"


def test_a_page_badge_shows_a_count_on_its_sidebar_entry(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)
    nav = window.navigation
    window.set_page_badge("other", 2)
    assert [nav.item(i).text() for i in range(nav.count())] == ["Notes", "Notes (2)"]
    assert nav.item(1).toolTip() == "2 alerts not looked at"
    window.set_page_badge("other", 0)
    assert (nav.item(1).text(), nav.item(1).toolTip()) == ("Notes", "")


def test_no_cluster_configured_shows_in_the_status_bar(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)
    assert window.context_label.text() == "No cluster configured"


def test_geometry_is_restored(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)
    window.resize(760, 700)  # the offscreen screen is 800x800
    size = window.size()
    window.close()
    again = make_window(qtbot, qsettings, task_runner)
    assert again.size() == size


def test_activity_panel_filters_by_level(qtbot, qsettings, task_runner) -> None:
    handler = RingBufferHandler(capacity=50)
    bridge = LogBridge(handler)
    logger = logging.getLogger("lhdesk.test.activity")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        window = MainWindow(Settings(qsettings), task_runner, bridge, [])
        qtbot.addWidget(window)
        logger.debug("probing quietly")
        logger.warning("cluster lab unreachable")
        panel = window.activity
        qtbot.waitUntil(lambda: panel.model.rowCount() == 2)
        assert panel.proxy.rowCount() == 1  # INFO and up by default
        combo = window.findChild(QComboBox, "activityLevelCombo")
        combo.setFocus()
        qtbot.keyClicks(combo, "DEBUG")
        assert combo.currentText() == "DEBUG"
        assert panel.proxy.rowCount() == 2
        assert Settings(qsettings).activity_level == "DEBUG"
        qtbot.mouseClick(window.findChild(QPushButton, "activityClearButton"), Qt.MouseButton.LeftButton)
        assert panel.model.rowCount() == 0
    finally:
        logger.removeHandler(handler)
        bridge.detach()


def test_activity_model_passes_the_model_tester(qtmodeltester, qapp) -> None:
    handler = RingBufferHandler(capacity=3)
    bridge = LogBridge(handler)
    logger = logging.getLogger("lhdesk.test.model")
    logger.addHandler(handler)
    try:
        from lhdesk.ui.activity import ActivityModel

        model = ActivityModel([], capacity=3)
        bridge.entry_added.connect(model.append)
        for i in range(5):
            logger.warning("entry %d", i)
        QApplication.processEvents()
        assert model.rowCount() == 3
        assert model.index(2, 3).data() == "entry 4"
        qtmodeltester.check(model)
    finally:
        logger.removeHandler(handler)
        bridge.detach()


def test_about_dialog_names_every_component(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)
    window.about_action.trigger()
    dialog = window.findChild(QMessageBox) or window.findChild(object, "aboutDialog")
    qtbot.waitUntil(lambda: window.findChild(QLabel, "aboutText") is not None)
    text = window.findChild(QLabel, "aboutText").text()
    for name in ("lhdesk", "Qt", "PySide6", "kubernetes client", "boto3"):
        assert name in text
    assert dialog is not None
    dialog.close()


def test_uncaught_worker_exception_is_logged_and_shown(qtbot, qsettings, task_runner, caplog) -> None:
    import sys

    reporter = ErrorReporter()
    saved = sys.excepthook, threading.excepthook
    install_excepthooks(reporter)
    try:

        def crash() -> None:
            raise KeyError("lost volume")

        with qtbot.waitSignal(reporter.reported) as blocker:
            thread = threading.Thread(target=crash, name="worker-x")
            thread.start()
            thread.join()
        report = blocker.args[0]
        assert "lost volume" in report.message
        assert "Traceback" in report.details
        assert any("thread worker-x" in r.getMessage() for r in caplog.records)
        qtbot.waitUntil(lambda: any(w.objectName() == "errorDialog" for w in QApplication.topLevelWidgets()))
        dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog")
        assert dialog.detailedText() == report.details
        dialog.close()
    finally:
        sys.excepthook, threading.excepthook = saved


def test_failed_task_without_handler_opens_error_dialog(qtbot, qsettings, task_runner) -> None:
    window = make_window(qtbot, qsettings, task_runner)

    def fail() -> None:
        raise OSError("disk full")

    task_runner.submit(fail, description="saving")
    qtbot.waitUntil(lambda: any(w.objectName() == "errorDialog" for w in QApplication.topLevelWidgets()))
    dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog")
    assert "disk full" in dialog.informativeText()
    dialog.close()
    assert window.activity_label.text() == "Idle"
