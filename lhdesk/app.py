"""Composition root: builds logging, settings, workers and the main window, in this order.

1. QApplication (names used by QSettings and QStandardPaths).
2. Logging: the ring buffer behind the Activity panel, Qt messages routed into logging.
3. Exception hooks: uncaught errors on any thread are logged and shown.
4. Settings (typed QSettings) and the background task runner.
5. Pages, then the main window, which restores its geometry.
On quit the task runner is shut down and joined before the application object goes away.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import yaml
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from lhdesk import __version__
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.errors import ErrorReporter, install_excepthooks, install_qt_message_handler
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.overview import Overview, OverviewPage
from lhdesk.ui.settings import Settings
from lhdesk.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_MS = 60_000


def kubeconfig_overview(explicit: str | None) -> Overview:
    """Which kubeconfig files exist and which contexts they name (no network)."""
    if explicit:
        candidates = [explicit]
    elif os.environ.get("KUBECONFIG"):
        candidates = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        candidates = [str(Path.home() / ".kube" / "config")]
    files: list[str] = []
    contexts: list[str] = []
    current: str | None = None
    problems: list[str] = []
    for path in candidates:
        if not os.path.isfile(path):
            continue
        files.append(path)
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        if not isinstance(doc, dict):
            problems.append(f"{path}: not a kubeconfig (top level is not a mapping)")
            continue
        for entry in doc.get("contexts") or []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name not in contexts:
                contexts.append(name)
        if current is None and isinstance(doc.get("current-context"), str) and doc["current-context"]:
            current = doc["current-context"]
    return Overview(tuple(candidates), tuple(files), tuple(contexts), current, tuple(problems))


class Application:
    """Owns everything the window needs, and tears it down in reverse order."""

    def __init__(self, qapp: QApplication, args: argparse.Namespace) -> None:
        self.qapp = qapp
        self.args = args
        self.log_handler = RingBufferHandler()
        logging.getLogger().addHandler(self.log_handler)
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
        self.log_bridge = LogBridge(self.log_handler)
        install_qt_message_handler()
        self.errors = ErrorReporter()
        install_excepthooks(self.errors)
        self.settings = Settings()
        self.tasks = TaskRunner()
        explicit = args.kubeconfig
        pages = [OverviewPage(self.tasks, lambda: kubeconfig_overview(explicit))]
        self.window = MainWindow(self.settings, self.tasks, self.log_bridge, pages)
        self.errors.dialog_parent = self.window
        qapp.aboutToQuit.connect(self.shutdown)
        log.info("lhdesk %s started", __version__)

    def shutdown(self) -> None:
        self.tasks.shutdown()
        self.log_bridge.detach()
        logging.getLogger().removeHandler(self.log_handler)

    def screenshot(self, path: str, page_name: str | None) -> None:
        """Render the window to ``path`` once the page's data has loaded, then quit."""
        page = self.window.show_page(page_name or self.window.settings.last_page)
        if page_name and (page is None or page.name != page_name):
            log.error("no page named %r; pages: %s", page_name, ", ".join(self.window.pages))
            QTimer.singleShot(0, lambda: self.qapp.exit(2))
            return

        def grab() -> None:
            ok = self.window.grab().save(path, "PNG")
            if ok:
                log.info("screenshot written to %s", path)
            else:
                log.error("could not write the screenshot to %s", path)
            self.qapp.exit(0 if ok else 1)

        def give_up() -> None:
            log.error("the page did not finish loading within %d s", SCREENSHOT_TIMEOUT_MS // 1000)
            self.qapp.exit(1)

        if page is None or page.is_loaded():
            QTimer.singleShot(0, grab)
            return
        timer = QTimer(self.window)
        timer.setSingleShot(True)
        timer.timeout.connect(give_up)
        timer.start(SCREENSHOT_TIMEOUT_MS)
        page.loaded.connect(timer.stop)
        # Let the loaded page paint once before it is grabbed.
        page.loaded.connect(lambda: QTimer.singleShot(0, grab))


def run_gui(args: argparse.Namespace) -> int:
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setOrganizationName("lhdesk")
    qapp.setApplicationName("lhdesk")
    qapp.setApplicationVersion(__version__)
    app = Application(qapp, args)
    app.window.show()
    if args.screenshot:
        app.screenshot(args.screenshot, args.page)
    elif args.page:
        app.window.show_page(args.page)
    return qapp.exec()
