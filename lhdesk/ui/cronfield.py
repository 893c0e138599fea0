"""A cron field in Longhorn's dialect: presets, the expression, an English sentence and the next runs.

The rules are :mod:`lhdesk.core.cron`'s (robfig/cron v1 ``ParseStandard``, evaluated in UTC); this
widget only shows them. Run times are written in UTC, the cluster's clock, and in local time, the
reader's. Whoever owns the schedule decides how ``@every`` is anchored by passing ``next_runs``:
workstation schedules anchor at the Unix epoch, a RecurringJob's CronJob at its creation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from PySide6.QtCore import QSignalBlocker, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from lhdesk.core import cron as core_cron

#: (label, expression) offered in the presets box; all evaluated in UTC.
PRESETS: tuple[tuple[str, str], ...] = (
    ("Every hour", "0 * * * *"),
    ("Every 6 hours", "0 */6 * * *"),
    ("Every 12 hours", "0 */12 * * *"),
    ("Daily at 02:00 UTC", "0 2 * * *"),
    ("Weekdays at 01:00 UTC", "0 1 * * 1-5"),
    ("Weekly, Sunday 03:00 UTC", "0 3 * * 0"),
    ("Monthly, day 1 at 04:00 UTC", "0 4 1 * *"),
    ("Every 30 minutes (@every)", "@every 30m"),
)
_CUSTOM = "Custom"

NextRuns = Callable[[str, datetime, int], Sequence[datetime]]


def default_next_runs(expr: str, after: datetime, count: int) -> list[datetime]:
    """Runs strictly after ``after``; ``@every`` anchored at ``after`` (robfig's own behaviour)."""
    return core_cron.parse(expr).next_runs(after, count)


def format_run(moment: datetime) -> str:
    """``Sat 05 Dec 02:00 UTC (03:00 local)``; the local part is left out where it is UTC anyway."""
    utc = moment.astimezone(UTC)
    local = utc.astimezone()
    text = utc.strftime("%a %d %b %H:%M UTC")
    if utc.second:
        text = utc.strftime("%a %d %b %H:%M:%S UTC")
    if local.utcoffset() != utc.utcoffset():
        same_day = local.date() == utc.date()
        local_text = local.strftime("%H:%M" if same_day else "%a %H:%M")
        text += f" ({local_text} local)"
    return text


class CronField(QWidget):
    """Presets, the expression, what it means, and when it runs next.

    Signals:
        changed(str): the expression changed (typed or picked from the presets), valid or not.
    """

    changed = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        next_runs: NextRuns | None = None,
        run_count: int = 3,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("cronField")
        self._next_runs = next_runs or default_next_runs
        self._run_count = run_count
        self._now = now or (lambda: datetime.now(UTC))
        self._problem: str | None = None

        self.presets = QComboBox(self)
        self.presets.setObjectName("cronPresetCombo")
        self.presets.setAccessibleName("Schedule presets")
        self.presets.addItem(_CUSTOM, "")
        for label, expr in PRESETS:
            self.presets.addItem(f"{label}  —  {expr}", expr)
        self.edit = QLineEdit(self)
        self.edit.setObjectName("cronEdit")
        self.edit.setAccessibleName("Cron expression (UTC)")
        self.edit.setPlaceholderText("0 2 * * *   or   @every 6h")
        self._help = (
            "Longhorn's cron: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, "
            "@monthly, @yearly, @every <duration>. Evaluated in UTC."
        )
        self.edit.setToolTip(self._help)
        self.description = QLabel(self)
        self.description.setObjectName("cronDescription")
        self.description.setWordWrap(True)
        self.next_label = QLabel(self)
        self.next_label.setObjectName("cronNextRuns")
        self.next_label.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("cronError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.hide()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 2)
        row.addWidget(self.presets, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.description)
        layout.addWidget(self.next_label)

        self.presets.activated.connect(self._on_preset_activated)
        self.edit.textChanged.connect(self._on_text_changed)
        self._update()

    # -- public ------------------------------------------------------------------------------

    def expression(self) -> str:
        return self.edit.text().strip()

    def set_expression(self, expr: str) -> None:
        self.edit.setText(expr)

    def problem(self) -> str | None:
        """Why the expression cannot be saved (Longhorn's words), or None when it is fine."""
        return self._problem

    def refresh(self) -> None:
        """Recompute the next runs (the clock moved on)."""
        self._update()

    # -- slots -------------------------------------------------------------------------------

    @Slot(int)
    def _on_preset_activated(self, index: int) -> None:
        expr = self.presets.itemData(index)
        if isinstance(expr, str) and expr:
            self.edit.setText(expr)

    @Slot(str)
    def _on_text_changed(self, text: str) -> None:
        self._update()
        self.changed.emit(self.expression())

    def _update(self) -> None:
        expr = self.expression()
        with QSignalBlocker(self.presets):
            found = self.presets.findData(expr) if expr else -1
            self.presets.setCurrentIndex(found if found > 0 else 0)
        self._problem = None
        if not expr:
            self._problem = "a schedule is required"
            self._show(None, "", "")
            return
        try:
            parsed = core_cron.parse(expr)
            sentence = core_cron.describe(expr)
        except core_cron.CronError as exc:
            self._problem = str(exc)
            self._show(self._problem, "", "")
            return
        if not parsed.can_run:
            self._problem = "; ".join(parsed.warnings) or "this schedule never runs"
            self._show(self._problem, sentence, "")
            return
        warning = "; ".join(parsed.warnings)
        runs = list(self._next_runs(expr, self._now(), self._run_count))
        if runs:
            upcoming = "Next runs: " + ", ".join(format_run(r) for r in runs)
        else:
            upcoming = "No run within the next five years."
        self._show(None, sentence + (f" — note: {warning}" if warning else ""), upcoming)

    def _show(self, error: str | None, sentence: str, upcoming: str) -> None:
        self.error_label.setVisible(bool(error))
        self.error_label.setText(error or "")
        self.edit.setProperty("invalid", bool(error))
        self.edit.setToolTip(error or self._help)
        self.description.setText(sentence)
        self.description.setVisible(bool(sentence))
        self.next_label.setText(upcoming)
        self.next_label.setVisible(bool(upcoming))
