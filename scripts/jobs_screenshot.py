"""Render the Recurring jobs screenshots in docs/screenshots/ from a live demo cluster.

* ``jobs.png``: the Recurring jobs page (live table, week view) of the demo's admin context;
* ``jobs-editor-system-backup.png``: the editor on the demo's system-backup job, retain lowered
  to 3 so the retention forecast names the system backups the next run would delete;
* ``jobs-editor-backup.png``: the editor filling in a new backup job (groups, a label,
  ``full-backup-interval``).

It starts the demo cluster (small seed), waits for its history of system backups, builds the page
and the editor with the same pieces app.py uses, and saves ``widget.grab()`` of each. Nothing is
saved to the cluster.

    python scripts/jobs_screenshot.py [OUTPUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QPushButton, QSpinBox, QWidget

from lhdesk.demo.cluster import ADMIN_CONTEXT, DemoCluster
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.ui.jobs.editor import EditorTarget, JobEditor
from lhdesk.ui.jobs.page import JobsPage
from lhdesk.ui.jobs.ports import RECURRING_JOBS, JobsApi, cluster_facts
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.tasks import TaskRunner

ROOT = Path(__file__).resolve().parents[1]


def wait_for(what: str, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the event loop until ``done()``; a script, so a short poll is fine here."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.02)


def settle() -> None:
    for _ in range(20):
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, path: Path) -> None:
    settle()
    if not widget.grab().save(str(path), "PNG"):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Show both clocks the editor and the table offer: UTC (the cluster's) and a local zone that differs.
    os.environ.setdefault("TZ", "Europe/Berlin")
    time.tzset()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with (
        tempfile.TemporaryDirectory(prefix="lhdesk-jobs-shot-") as tmp,
        DemoCluster(Path(tmp), seed="small", speed=20.0) as demo,
    ):
        if not demo.wait_seeded(180):
            raise SystemExit("the demo cluster's seed did not finish")
        tasks = TaskRunner()
        factory = KubeconfigApiFactory(demo.kubeconfig_path)
        api = cast("JobsApi", factory(ADMIN_CONTEXT))
        session = ClusterSession(
            tasks,
            lambda: load_contexts(demo.kubeconfig_path),
            lambda kset, name: probe(kset, name, timeout=10),
            preferred=ADMIN_CONTEXT,
        )
        page = JobsPage(session, tasks, lambda context: cast("JobsApi", factory(context)))
        page.resize(1560, 760)
        page.show()
        session.reload()
        wait_for("the jobs page", lambda: page.context == ADMIN_CONTEXT and page.is_loaded())
        wait_for("the volume counts", lambda: all(job.display[9] != "…" for job in page.model.rows()))
        wait_for("the week view", lambda: len(page.week_view.rows()) == page.model.rowCount())
        save(page, out / "jobs.png")

        target = EditorTarget(ADMIN_CONTEXT, api, cluster_facts(api))
        stored: dict[str, Any] = api.get(RECURRING_JOBS, "system-backup-nightly")
        editor = JobEditor(tasks, target, existing=stored)
        editor.resize(760, 840)
        editor.show()
        forecast = editor.findChild(QWidget, "retentionForecast")
        wait_for("the retention forecast", lambda: "Retention forecast" in forecast.text())  # type: ignore[attr-defined]
        spin = editor.findChild(QSpinBox, "retainSpin")
        assert spin is not None
        spin.setValue(2)
        save(editor, out / "jobs-editor-system-backup.png")
        editor.reject()

        editor = JobEditor(tasks, target)
        editor.resize(760, 840)
        editor.show()
        name = editor.findChild(QLineEdit, "jobNameEdit")
        task = editor.findChild(QComboBox, "taskTypeCombo")
        cron = editor.findChild(QLineEdit, "cronEdit")
        groups = editor.findChild(QLineEdit, "groupsEdit")
        assert name is not None
        assert task is not None
        assert cron is not None
        assert groups is not None
        name.setText("nightly-databases")
        task.setCurrentIndex(task.findData("backup"))
        cron.setText("0 2 * * *")
        groups.setText("critical, default")
        key, value = editor.labels_edit.add_row("team", "databases")
        del key, value
        add = editor.findChild(QPushButton, "addParameterButton")
        assert add is not None
        add.click()
        interval = editor.findChild(QSpinBox, "fullBackupIntervalSpin")
        assert interval is not None
        interval.setValue(7)
        retain = editor.findChild(QSpinBox, "retainSpin")
        assert retain is not None
        retain.setValue(14)
        save(editor, out / "jobs-editor-backup.png")
        editor.reject()

        assert page.shutdown(30_000)
        page.close()
        page.deleteLater()
        session.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        tasks.shutdown()
        factory.close()
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
