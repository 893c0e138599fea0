"""Composition root: builds logging, settings, workers and the main window, in this order.

1. QApplication (names used by QSettings and QStandardPaths).
2. Logging: the ring buffer behind the Activity panel, Qt messages routed into logging.
3. Exception hooks: uncaught errors on any thread are logged and shown; cycles are collected on
   the GUI thread only (ui/gcguard.py), so no Qt object is ever destroyed on a worker.
4. Settings (typed QSettings) and the background task runner.
5. The schedule store (data dir), the scheduler thread and its api factory (kubeconfig gateways).
6. Pages, then the main window, which restores its geometry; alerts (tray or banner, sidebar badge).
On quit the scheduler thread is stopped and joined, then the task runner, before the application
object goes away.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from lhdesk import __version__
from lhdesk.core.clusters import KubeconfigSet, ProbeResult
from lhdesk.kube.kubeconfig import kubeconfig_paths, load_contexts
from lhdesk.kube.probe import probe
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.paths import DATA_DIR_ENV
from lhdesk.schedule.store import Store, StoreError
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.clusters import ClustersPage
from lhdesk.ui.errors import ErrorReport, ErrorReporter, install_excepthooks, install_qt_message_handler
from lhdesk.ui.gcguard import GuiThreadCollector
from lhdesk.ui.jobs.page import JobsPage
from lhdesk.ui.jobs.ports import JobsApi
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.notify import Notifier, SchedulerTray, app_icon, install_banner
from lhdesk.ui.pages import Page
from lhdesk.ui.scheduler import SchedulerHost
from lhdesk.ui.schedules import SchedulesPage
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.settings import Settings
from lhdesk.ui.tasks import Outcome, TaskRunner

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_MS = 60_000
PROBE_TIMEOUT_S = 5.0


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
        # Before any worker thread exists: cycles are collected on the GUI thread only.
        self.collector = GuiThreadCollector()
        self.settings = Settings()
        # Probes of many contexts run side by side, each bounded by its own timeout.
        self.tasks = TaskRunner(max_threads=24)
        self.demo: Any = None
        self.demo_dir: tempfile.TemporaryDirectory[str] | None = None
        explicit = Path(args.kubeconfig) if args.kubeconfig else None
        paths, _ = kubeconfig_paths(explicit, os.environ)
        use_demo = args.demo or (explicit is None and not any(p.exists() for p in paths))
        if use_demo:
            if not args.demo:
                log.info("No kubeconfig found (%s): opening the demo cluster", ", ".join(map(str, paths)))
            self.demo_dir = tempfile.TemporaryDirectory(prefix="lhdesk-demo-")
            explicit = Path(self.demo_dir.name) / "kubeconfig"
        self.session = ClusterSession(
            self.tasks,
            lambda: load_contexts(explicit),
            self._probe,
            preferred=args.context or self.settings.last_context or None,
        )
        # Workstation schedules: the demo keeps its own, so it never touches the user's clusters.
        self.data_dir = self._data_dir()
        self.api_factory = KubeconfigApiFactory(explicit)
        self.store: Store | None = None
        self.scheduler: SchedulerHost | None = None
        self.tray: SchedulerTray | None = None
        self.notifier: Notifier | None = None
        jobs_api = self.api_factory
        # The factory's gateways (LonghornGateway) serve the jobs page's port as well.
        self.jobs_page = JobsPage(
            self.session, self.tasks, lambda context: cast("JobsApi", jobs_api(context))
        )
        pages: list[Page] = [ClustersPage(self.session, self.settings), self.jobs_page]
        store_problem = ""
        try:
            self.store = Store.in_dir(self.data_dir)
        except StoreError as exc:
            store_problem = str(exc)
        if self.store is not None:
            self.scheduler = SchedulerHost(
                self.data_dir, self.store, self.api_factory, freshness_rules=self.store.freshness_rules
            )
            factory = self.api_factory
            pages.append(
                SchedulesPage(
                    self.store,
                    self.scheduler,
                    self.tasks,
                    self.session,
                    recurring_jobs=lambda context: factory(context).list("recurringjobs")[0],
                )
            )
        self.window = MainWindow(self.settings, self.tasks, self.log_bridge, pages, session=self.session)
        self.errors.dialog_parent = self.window
        if store_problem:
            self.errors.report(ErrorReport("Workstation schedules are unavailable", store_problem, ""))
        if self.scheduler is not None:
            self._wire_alerts(self.scheduler)
            self.scheduler.start()
        qapp.aboutToQuit.connect(self.shutdown)
        log.info("lhdesk %s started", __version__)
        if self.demo_dir is not None:
            self.tasks.submit(
                self._start_demo,
                self._on_demo_started,
                self._on_demo_failed,
                description="Starting the demo cluster",
            )
        else:
            self.session.reload()

    def _data_dir(self) -> Path:
        """Where the schedule store and the scheduler lock live (AppDataLocation, or LHDESK_DATA_DIR)."""
        if self.demo_dir is not None:
            return Path(self.demo_dir.name) / "data"
        override = os.environ.get(DATA_DIR_ENV)
        if override:
            return Path(override).expanduser()
        return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))

    def _wire_alerts(self, scheduler: SchedulerHost) -> None:
        """Alerts go to the tray where there is one, else to a banner; the sidebar shows a count."""
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = SchedulerTray(scheduler)
            self.tray.open_requested.connect(self._on_open_requested)
            self.tray.quit_requested.connect(self.qapp.quit)
            self.tray.show()
        banner = install_banner(self.window)
        banner.show_requested.connect(lambda: self._on_open_requested(SchedulesPage.name))
        self.notifier = Notifier(
            scheduler, tray=self.tray.icon if self.tray else None, banner=banner, parent=self.window
        )
        self.notifier.unseen_changed.connect(partial(self.window.set_page_badge, SchedulesPage.name))
        if self.tray is not None:
            self.notifier.unseen_changed.connect(self.tray.set_unseen)
        self.window.navigation.currentRowChanged.connect(self._on_page_shown)

    def _on_open_requested(self, page: str) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        if page:
            self.window.show_page(page)

    def _on_page_shown(self, row: int) -> None:
        current = self.window.current_page()
        if self.notifier is not None and current is not None and current.name == SchedulesPage.name:
            self.notifier.acknowledge()

    def _start_demo(self) -> Any:
        """Runs on a worker: the demo cluster takes a couple of seconds to come up."""
        assert self.demo_dir is not None
        try:
            from lhdesk.demo.cluster import DemoCluster
        except ImportError as exc:
            raise RuntimeError(
                f"The demo cluster needs lhdesk's demo extra ({exc.name} is missing): "
                "pip install -e '.[demo]'"
            ) from exc
        demo = DemoCluster(Path(self.demo_dir.name))
        self.demo = demo  # so that a quit during start-up still stops it (after the pool is joined)
        demo.start()  # writes <workdir>/kubeconfig
        return demo

    def _on_demo_started(self, demo: Any) -> None:
        log.info("Demo cluster ready at %s (S3 at %s)", demo.api_url, demo.s3_endpoint)
        self.session.reload()

    def _on_demo_failed(self, outcome: Outcome) -> None:
        self.errors.report(ErrorReport("The demo cluster did not start", str(outcome.error), outcome.details))
        self.session.reload()

    @staticmethod
    def _probe(kset: KubeconfigSet, name: str) -> ProbeResult:
        return probe(kset, name, timeout=PROBE_TIMEOUT_S)

    def shutdown(self) -> None:
        # Longer than one API read timeout (30 s), so a run stuck in a call still ends and joins.
        joined = self.scheduler.stop(40_000) if self.scheduler is not None else True
        # The jobs page's watches end within their 5 s server timeout; join them before the pool.
        joined = self.jobs_page.shutdown(40_000) and joined
        if self.tray is not None:
            self.tray.close()
        drained = self.tasks.shutdown()
        # Closing a database or client under a thread still using it can crash: leave them to the exit.
        if joined and drained:
            self.api_factory.close()
            if self.store is not None:
                self.store.close()
        if self.demo is not None:
            self.demo.stop()
        if self.demo_dir is not None:
            self.demo_dir.cleanup()
        self.log_bridge.detach()
        logging.getLogger().removeHandler(self.log_handler)
        self.collector.stop()  # every thread is joined: Python may collect where it likes again

    def screenshot(self, path: str, page_name: str | None) -> None:
        """Render the window to ``path`` once the page's data has loaded, then quit."""
        page = self.window.show_page(page_name or self.window.settings.last_page)
        if page_name and (page is None or page.name != page_name):
            log.error("no page named %r; pages: %s", page_name, ", ".join(self.window.pages))
            QTimer.singleShot(0, lambda: self.qapp.exit(2))
            return

        def grab() -> None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            ok = self.window.grab().save(path, "PNG")
            if ok:
                log.info("screenshot written to %s", path)
            else:
                log.error("could not write the screenshot to %s", path)
            self.qapp.exit(0 if ok else 1)

        def give_up() -> None:
            log.error("the page did not finish loading within %d s", SCREENSHOT_TIMEOUT_MS // 1000)
            self.qapp.exit(1)

        if page is not None:
            page.before_screenshot()
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
    qapp.setWindowIcon(app_icon(64))
    # Desktop launchers started by packaging/lhdesk.desktop find the window by this name.
    qapp.setDesktopFileName("lhdesk")
    app = Application(qapp, args)
    app.window.show()
    if args.screenshot:
        app.screenshot(args.screenshot, args.page)
    elif args.page:
        app.window.show_page(args.page)
    return qapp.exec()
