"""The Overview page: where lhdesk looked for clusters, and what it found."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from lhdesk.ui.pages import Page
from lhdesk.ui.tasks import Outcome, TaskRunner


@dataclass(frozen=True)
class Overview:
    """What the kubeconfig search found. ``contexts`` is empty when no cluster is configured."""

    searched: tuple[str, ...]
    files: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    current: str | None = None
    problems: tuple[str, ...] = field(default=())


class OverviewPage(Page):
    name = "overview"
    title = "Overview"

    def __init__(
        self, tasks: TaskRunner, load: Callable[[], Overview], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._load = load
        self.headline = QLabel(self)
        self.headline.setObjectName("overviewHeadline")
        self.headline.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.body = QLabel(self)
        self.body.setObjectName("overviewBody")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addWidget(self.headline)
        layout.addWidget(self.body)
        layout.addStretch(1)
        self.headline.setText("Looking for clusters…")
        self.refresh()

    def refresh(self) -> None:
        self._tasks.submit(self._load, self._on_loaded, self._on_failed, description="Reading kubeconfig")

    @Slot(object)
    def _on_loaded(self, overview: Overview) -> None:
        searched = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in overview.searched)
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in overview.problems)
        if not overview.contexts:
            self.headline.setText("No cluster configured")
            text = (
                f"<p>lhdesk found no kubeconfig context. It looked in:</p><ul>{searched}</ul>"
                "<p>Point it at a cluster with <code>lhdesk --kubeconfig PATH</code> or the"
                " <code>KUBECONFIG</code> variable.</p>"
            )
        else:
            self.headline.setText(f"{len(overview.contexts)} kubeconfig contexts")
            items = "".join(
                f"<li><b>{html.escape(c)}</b>{' (current)' if c == overview.current else ''}</li>"
                for c in overview.contexts
            )
            files = ", ".join(f"<code>{html.escape(f)}</code>" for f in overview.files)
            text = f"<p>From {files}:</p><ul>{items}</ul>"
        if problems:
            text += f"<p>Problems:</p><ul>{problems}</ul>"
        self.body.setText(text)
        self.mark_loaded()

    @Slot(object)
    def _on_failed(self, outcome: Outcome) -> None:
        self.headline.setText("Could not read the kubeconfig")
        self.body.setText(html.escape(str(outcome.error)))
        self.mark_loaded()
