"""Copy recurring jobs into another kubeconfig context, checked against that cluster first.

``copy_jobs`` is the blocking part (run it on the task runner): it reads the target's facts
(Longhorn version, ``recurring-job-max-retention``), validates each job with core's rules for
that cluster, asks the server with a dry run, and only then creates it. Each job gets its own
``CopyResult``; one refusal never stops the others. ``CopyJobsDialog`` picks the target and shows
the results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lhdesk.core.errors import AlreadyExists, BadRequest, GatewayError, Invalid
from lhdesk.core.recurringjob import ManifestError, RecurringJobSpec, validate
from lhdesk.ui.jobs.pending import PendingTasks
from lhdesk.ui.jobs.ports import RECURRING_JOBS, JobsApi, cluster_facts
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.tasks import Outcome, TaskRunner

log = logging.getLogger(__name__)

CREATED = "created"
EXISTS = "exists"
INVALID = "invalid"
REFUSED = "refused"
FAILED = "failed"

_COLOURS = {CREATED: "#2e7d32", EXISTS: "#ef6c00", INVALID: "#c62828", REFUSED: "#c62828", FAILED: "#c62828"}


@dataclass(frozen=True)
class CopyResult:
    """What happened to one job: ``outcome`` is created, exists, invalid, refused or failed."""

    name: str
    outcome: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == CREATED

    def __str__(self) -> str:
        words = {
            CREATED: "created",
            EXISTS: "not copied: a job with this name already exists there",
            INVALID: "not copied: not valid on that cluster",
            REFUSED: "not copied: the cluster refused it (dry run)",
            FAILED: "not copied",
        }[self.outcome]
        return f"{self.name}: {words}" + (f" — {self.message}" if self.message else "")


def copy_jobs(
    api: JobsApi, objects: Sequence[dict[str, Any]], version_hint: str | None = None
) -> list[CopyResult]:
    """Create each job on the cluster behind ``api`` after checking it there. Blocking."""
    facts = cluster_facts(api, version_hint)
    results: list[CopyResult] = []
    for obj in objects:
        name = str((obj.get("metadata") or {}).get("name") or "")
        try:
            spec = RecurringJobSpec.from_manifest(obj)
        except ManifestError as exc:
            results.append(CopyResult(name, INVALID, str(exc)))
            continue
        problems = validate(spec, facts)
        if problems:
            results.append(CopyResult(name, INVALID, "; ".join(str(p) for p in problems)))
            continue
        body = spec.to_manifest()
        # The target gateway puts its own namespace in.
        body["metadata"].pop("namespace", None)
        try:
            api.create(RECURRING_JOBS, body, dry_run=True)
        except AlreadyExists:
            results.append(CopyResult(name, EXISTS))
            continue
        except (Invalid, BadRequest) as exc:
            results.append(CopyResult(name, REFUSED, exc.server_message or str(exc)))
            continue
        except GatewayError as exc:
            results.append(CopyResult(name, FAILED, str(exc)))
            continue
        try:
            api.create(RECURRING_JOBS, body)
        except AlreadyExists:
            results.append(CopyResult(name, EXISTS))
        except GatewayError as exc:
            results.append(CopyResult(name, FAILED, str(exc)))
        else:
            results.append(CopyResult(name, CREATED))
    return results


class CopyJobsDialog(QDialog):
    """Pick another context and copy the selected jobs there; shows one result line per job.

    Signals:
        copied(tuple[CopyResult, ...]): the copy ran (whatever each job's outcome).
    """

    copied = Signal(object)

    def __init__(
        self,
        session: ClusterSession,
        tasks: TaskRunner,
        api_for: Callable[[str], JobsApi],
        objects: Sequence[dict[str, Any]],
        source_context: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("copyJobsDialog")
        self.setWindowTitle(f"Copy recurring jobs from {source_context}")
        self._session = session
        self._tasks = tasks
        self._api_for = api_for
        self._objects = [dict(obj) for obj in objects]
        self._pending = PendingTasks(tasks)
        self.results: tuple[CopyResult, ...] = ()
        names = [str((obj.get("metadata") or {}).get("name") or "") for obj in self._objects]

        self.target_combo = QComboBox(self)
        self.target_combo.setObjectName("copyTargetCombo")
        self.target_combo.setAccessibleName("Target context")
        for status in session.statuses():
            if status.info.name == source_context:
                continue
            label = status.info.name
            if status.probe.longhorn_version:
                label += f" (Longhorn {status.probe.longhorn_version})"
            self.target_combo.addItem(label, status.info.name)
        self.jobs_label = QLabel(
            f"{len(names)} job{'s' if len(names) != 1 else ''}: {', '.join(names[:10])}"
            + (f" and {len(names) - 10} more" if len(names) > 10 else ""),
            self,
        )
        self.jobs_label.setObjectName("copyJobsLabel")
        self.jobs_label.setWordWrap(True)
        self.explanation = QLabel(
            "Each job is checked against the target cluster's Longhorn version and retention limit, "
            "then with a server dry run, and only then created. "
            "Jobs that already exist there are left alone.",
            self,
        )
        self.explanation.setWordWrap(True)
        self.results_list = QListWidget(self)
        self.results_list.setObjectName("copyResultsList")
        self.status_label = QLabel("", self)
        self.status_label.setObjectName("copyStatus")
        self.status_label.setWordWrap(True)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setObjectName("copyJobsButton")
        self.copy_button.setEnabled(self.target_combo.count() > 0)
        self.copy_button.setToolTip(
            "Copy the jobs to the chosen context"
            if self.target_combo.count()
            else "There is no other context"
        )
        self.copy_button.clicked.connect(self._on_copy_clicked)
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setObjectName("closeCopyButton")
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Jobs", self.jobs_label)
        form.addRow("&Target context", self.target_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.explanation)
        layout.addWidget(self.results_list, 1)
        layout.addWidget(self.status_label)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def target(self) -> str | None:
        data = self.target_combo.currentData()
        return data if isinstance(data, str) else None

    @Slot()
    def _on_copy_clicked(self) -> None:
        target = self.target()
        if target is None:
            return
        status = self._session.status(target)
        hint = status.probe.longhorn_version if status is not None else None
        api_for, objects = self._api_for, list(self._objects)
        self.copy_button.setEnabled(False)
        self.target_combo.setEnabled(False)
        self.results_list.clear()
        self.status_label.setText(f"Copying {len(objects)} job(s) to {target}…")
        self._pending.cancel_all()
        self._pending.submit(
            lambda: copy_jobs(api_for(target), objects, hint),
            self._on_copied,
            self._on_failed,
            f"Copying recurring jobs to {target}",
        )

    def _on_copied(self, results: list[CopyResult]) -> None:
        self.results = tuple(results)
        for result in results:
            item = QListWidgetItem(str(result))
            item.setForeground(QColor(_COLOURS[result.outcome]))
            item.setData(Qt.ItemDataRole.UserRole, result.outcome)
            item.setToolTip(result.message or str(result))
            self.results_list.addItem(item)
        created = sum(1 for r in results if r.ok)
        self.status_label.setText(f"{created} of {len(results)} job(s) created on {self.target()}.")
        self.copy_button.setEnabled(True)
        self.target_combo.setEnabled(True)
        self.copied.emit(self.results)

    def _on_failed(self, outcome: Outcome) -> None:
        self.status_label.setText(f"Could not copy to {self.target()}: {outcome.error}")
        self.copy_button.setEnabled(True)
        self.target_combo.setEnabled(True)

    def done(self, result: int) -> None:
        self._pending.cancel_all()
        super().done(result)
