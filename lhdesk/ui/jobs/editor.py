"""The RecurringJob editor: one form whose fields follow the task, checked as the user types.

The rules live in ``lhdesk.core.recurringjob`` (``TASKS``, ``PARAMETERS``, ``validate``,
``warnings_for``, ``retain_bounds``); this dialog only shows them. Parameters are key/value
rows like Longhorn's own model, and each known key gets a typed value editor chosen by its
kind in ``VALUE_EDITORS``, so a new parameter needs one core registry entry and no new form.

Saving is two server calls, both off the GUI thread: a dry run (``dryRun=All``) whose refusals
are shown beside the fields, then the real create or replace. An edit sends the
resourceVersion it was loaded with; a 409 opens ``JobConflictDialog`` (theirs against yours,
Reload or Overwrite), so nothing is overwritten silently.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lhdesk.core import cron
from lhdesk.core.errors import AlreadyExists, BadRequest, Conflict, GatewayError, Invalid, NotFound
from lhdesk.core.recurringjob import (
    DEFAULT_CONCURRENCY,
    DEFAULT_GROUP,
    PARAMETERS,
    TASKS,
    ClusterFacts,
    FieldError,
    ManifestError,
    ParameterInfo,
    RecurringJobSpec,
    retain_bounds,
    validate,
    warnings_for,
)
from lhdesk.core.retention import BackupRecord, forecast
from lhdesk.core.versions import Capabilities
from lhdesk.ui.cronfield import PRESETS
from lhdesk.ui.jobs.model import format_run, next_runs, parse_time
from lhdesk.ui.jobs.pending import PendingTasks
from lhdesk.ui.jobs.ports import RECURRING_JOBS, SYSTEM_BACKUPS, JobsApi
from lhdesk.ui.tasks import Outcome, TaskRunner

log = logging.getLogger(__name__)

NAMESPACE = "longhorn-system"
SYSTEM_BACKUP_JOB_LABEL = "recurring-job.longhorn.io/system-backup"
"""The label a system-backup job puts on the SystemBackups it creates (value: the job name)."""

ERROR_STYLE = "color: #c62828;"
WARNING_STYLE = "color: #ef6c00;"
NEXT_RUNS = 5

CRON_PRESETS = PRESETS
"""The same presets as every other schedule field in lhdesk (``lhdesk.ui.cronfield``)."""

# Fields of the form, and the manifest paths whose errors they show.
FIELDS = ("name", "task", "cron", "retain", "concurrency", "groups", "labels", "parameters")


def field_of(path: str) -> str:
    """Which form field shows an error at a manifest path ("general" when none does)."""
    if path in ("metadata.name", "spec.name"):
        return "name"
    for prefix, key in (
        ("spec.groups", "groups"),
        ("spec.labels", "labels"),
        ("spec.parameters", "parameters"),
    ):
        if path.startswith(prefix):
            return key
    return {
        "spec.task": "task",
        "spec.cron": "cron",
        "spec.retain": "retain",
        "spec.concurrency": "concurrency",
    }.get(path, "general")


# Longhorn's webhook reports one message with no field; these words say which field it is about.
_MESSAGE_FIELDS = (
    ("cron", "cron"),
    ("retain", "retain"),
    ("parameter", "parameters"),
    ("label", "labels"),
    ("group", "groups"),
    ("task", "task"),
    ("concurrency", "concurrency"),
    ("name", "name"),
)
_WEBHOOK_PREFIX = re.compile(r'^admission webhook "[^"]*" denied the request:\s*')


def server_refusals(error: GatewayError) -> list[tuple[str, str]]:
    """(form field, message) for each thing the server refused; "general" when unplaceable."""
    causes: list[tuple[str, str]] = []
    if isinstance(error, Invalid) and error.causes:
        causes = list(error.causes)
    else:
        causes = [("", error.server_message or str(error))]
    refusals: list[tuple[str, str]] = []
    for path, message in causes:
        text = _WEBHOOK_PREFIX.sub("", message.strip()) or str(error)
        where = field_of(path) if path else "general"
        if where == "general":
            lowered = text.lower()
            where = next((key for word, key in _MESSAGE_FIELDS if word in lowered), "general")
        refusals.append((where, text))
    return refusals


def _camel(key: str) -> str:
    head, *rest = key.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _label(text: str, name: str, style: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    label.setVisible(bool(text))
    return label


def _show(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


# -- typed value editors for parameters -----------------------------------------------------------


class IntValueEditor(QWidget):
    """A spin box (``<camelKey>Spin``) for integer parameters such as ``full-backup-interval``.

    Signals:
        value_changed(): the value was edited.
    """

    value_changed = Signal()

    def __init__(self, info: ParameterInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: ParameterInfo | None = info
        self.spin = QSpinBox(self)
        self.spin.setObjectName(f"{_camel(info.key)}Spin")
        self.spin.setRange(info.minimum or 0, 1_000_000)
        self.spin.setToolTip(info.description)
        self.spin.setAccessibleName(info.key)
        self.spin.setValue(int(info.default) if info.default.isdigit() else 0)
        self.spin.valueChanged.connect(self.value_changed)
        self.explanation = _label(info.description, f"{_camel(info.key)}Explanation")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.spin)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.explanation)

    def value(self) -> str:
        return str(self.spin.value())

    def set_value(self, value: str) -> None:
        if re.fullmatch(r"[0-9]+", value):
            self.spin.setValue(int(value))


class ChoiceValueEditor(QWidget):
    """A combo box (``<camelKey>Combo``) whose every value is explained, e.g. ``volume-backup-policy``.

    Signals:
        value_changed(): another value was chosen.
    """

    value_changed = Signal()

    def __init__(self, info: ParameterInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: ParameterInfo | None = info
        self.combo = QComboBox(self)
        self.combo.setObjectName(f"{_camel(info.key)}Combo")
        self.combo.setAccessibleName(info.key)
        for choice in info.choices:
            suffix = " (default)" if choice.value == info.default else ""
            self.combo.addItem(choice.value + suffix, choice.value)
            self.combo.setItemData(self.combo.count() - 1, choice.explanation, Qt.ItemDataRole.ToolTipRole)
        self.explanation = _label("", f"{_camel(info.key)}Explanation")
        self.combo.currentIndexChanged.connect(self._on_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.explanation)
        self.set_value(info.default)
        self._on_changed()

    def value(self) -> str:
        data = self.combo.currentData()
        return data if isinstance(data, str) else self.combo.currentText()

    def set_value(self, value: str) -> None:
        row = self.combo.findData(value)
        if row < 0:
            # A value the server stored but that is not valid: show it so validation can say so.
            self.combo.addItem(f"{value} (not valid)", value)
            row = self.combo.count() - 1
        self.combo.setCurrentIndex(row)

    @Slot()
    def _on_changed(self) -> None:
        info = self.info
        value = self.value()
        explanation = next((c.explanation for c in info.choices if c.value == value), "") if info else ""
        _show(self.explanation, explanation)
        self.value_changed.emit()


class TextValueEditor(QWidget):
    """Free text, for a key no registry entry knows (validation then says it is not valid).

    Signals:
        value_changed(): the text was edited.
    """

    value_changed = Signal()

    def __init__(self, info: ParameterInfo | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: ParameterInfo | None = info
        self.edit = QLineEdit(self)
        self.edit.setObjectName("parameterValueEdit")
        self.edit.textChanged.connect(self.value_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)

    def value(self) -> str:
        return self.edit.text()

    def set_value(self, value: str) -> None:
        self.edit.setText(value)


ValueEditorWidget = IntValueEditor | ChoiceValueEditor | TextValueEditor
"""A typed value editor: a widget with ``value()``, ``set_value(str)`` and a ``value_changed`` signal."""

VALUE_EDITORS: dict[str, Callable[[ParameterInfo, QWidget | None], ValueEditorWidget]] = {
    "int": IntValueEditor,
    "choice": ChoiceValueEditor,
}
"""Value editor per ``ParameterInfo.kind``."""


def value_editor_for(key: str, parent: QWidget | None = None) -> ValueEditorWidget:
    info = PARAMETERS.get(key)
    if info is None:
        return TextValueEditor(None, parent)
    return VALUE_EDITORS[info.kind](info, parent)


# -- key/value rows -----------------------------------------------------------------------------


class LabelsEdit(QWidget):
    """Key/value rows for ``spec.labels``: a Key and a Value column, a remove button per row.

    Signals:
        changed(): a row was added, removed or edited.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labelsEdit")
        self._rows: list[tuple[QLineEdit, QLineEdit, QToolButton]] = []
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.addWidget(QLabel("Key"), 0, 0)
        self._grid.addWidget(QLabel("Value"), 0, 1)
        self.add_button = QPushButton("Add label", self)
        self.add_button.setObjectName("addLabelButton")
        self.add_button.clicked.connect(self._on_add_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._update_header()

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Rows with a key or a value, as typed; blank rows are dropped."""
        out = []
        for key_edit, value_edit, _ in self._rows:
            key, value = key_edit.text().strip(), value_edit.text()
            if key or value:
                out.append((key, value))
        return tuple(out)

    def set_pairs(self, pairs: Sequence[tuple[str, str]]) -> None:
        while self._rows:
            self._remove(0)
        for key, value in pairs:
            self.add_row(key, value)
        self.changed.emit()

    def row_edits(self, row: int) -> tuple[QLineEdit, QLineEdit]:
        key_edit, value_edit, _ = self._rows[row]
        return key_edit, value_edit

    def row_count(self) -> int:
        return len(self._rows)

    def add_row(self, key: str = "", value: str = "") -> tuple[QLineEdit, QLineEdit]:
        row = len(self._rows) + 1
        key_edit = QLineEdit(key, self)
        key_edit.setObjectName(f"labelKeyEdit{row - 1}")
        key_edit.setPlaceholderText("key, e.g. team or example.com/tier")
        value_edit = QLineEdit(value, self)
        value_edit.setObjectName(f"labelValueEdit{row - 1}")
        value_edit.setPlaceholderText("value (required)")
        remove = QToolButton(self)
        remove.setText("Remove")
        remove.setObjectName(f"removeLabelButton{row - 1}")
        remove.setToolTip("Remove this label")
        key_edit.textChanged.connect(self.changed)
        value_edit.textChanged.connect(self.changed)
        remove.clicked.connect(self._on_remove_clicked)
        self._grid.addWidget(key_edit, row, 0)
        self._grid.addWidget(value_edit, row, 1)
        self._grid.addWidget(remove, row, 2)
        self._rows.append((key_edit, value_edit, remove))
        self._update_header()
        return key_edit, value_edit

    def _remove(self, index: int) -> None:
        for gone in self._rows.pop(index):
            self._grid.removeWidget(gone)
            gone.deleteLater()
        # Re-lay the rows below so the grid has no holes.
        for row, widgets in enumerate(self._rows[index:], start=index):
            for column, widget in enumerate(widgets):
                self._grid.removeWidget(widget)
                self._grid.addWidget(widget, row + 1, column)
        self._update_header()

    def _update_header(self) -> None:
        for column in (0, 1):
            item = self._grid.itemAtPosition(0, column)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setVisible(bool(self._rows))

    @Slot()
    def _on_add_clicked(self) -> None:
        key_edit, _ = self.add_row()
        key_edit.setFocus()
        self.changed.emit()

    @Slot()
    def _on_remove_clicked(self) -> None:
        sender = self.sender()
        for index, (_, _, remove) in enumerate(self._rows):
            if remove is sender:
                self._remove(index)
                self.changed.emit()
                return


class ParametersEdit(QWidget):
    """Key/value rows for ``spec.parameters``: only the task's keys, each with its typed editor.

    Signals:
        changed(): a row was added, removed or edited.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("parametersEdit")
        self._keys: tuple[str, ...] = ()
        self._rows: list[tuple[str, QLabel, ValueEditorWidget, QToolButton]] = []
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(1, 1)
        self.add_combo = QComboBox(self)
        self.add_combo.setObjectName("addParameterCombo")
        self.add_combo.setToolTip("The parameters this task takes")
        self.add_button = QPushButton("Add parameter", self)
        self.add_button.setObjectName("addParameterButton")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.none_label = _label("This task takes no parameters.", "noParametersLabel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        adder = QHBoxLayout()
        adder.addWidget(self.add_combo)
        adder.addWidget(self.add_button)
        adder.addStretch(1)
        layout.addLayout(adder)
        layout.addWidget(self.none_label)

    def set_keys(self, keys: Sequence[str], drop_others: bool = True) -> None:
        """Offer only these keys; with ``drop_others``, rows with other keys go (the task changed)."""
        self._keys = tuple(keys)
        if drop_others:
            for index in reversed(range(len(self._rows))):
                if self._rows[index][0] not in self._keys:
                    self._remove(index)
        self._update_adder()

    def keys(self) -> tuple[str, ...]:
        return self._keys

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((key, editor.value()) for key, _, editor, _ in self._rows)

    def set_pairs(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Show these parameters, including keys the task does not take (validation flags them)."""
        while self._rows:
            self._remove(0)
        for key, value in pairs:
            self.add_row(key, value)
        self._update_adder()
        self.changed.emit()

    def editor(self, key: str) -> ValueEditorWidget | None:
        return next((editor for k, _, editor, _ in self._rows if k == key), None)

    def add_row(self, key: str, value: str | None = None) -> ValueEditorWidget:
        row = len(self._rows)
        info = PARAMETERS.get(key)
        name = QLabel(key, self)
        name.setObjectName(f"parameterKeyLabel{row}")
        if info is not None:
            name.setToolTip(info.description)
        editor = value_editor_for(key, self)
        if value is not None:
            editor.set_value(value)
        remove = QToolButton(self)
        remove.setText("Remove")
        remove.setObjectName(f"removeParameterButton{row}")
        remove.setToolTip(f"Remove {key} (absent means {info.default})" if info else f"Remove {key}")
        editor.value_changed.connect(self.changed)
        remove.clicked.connect(self._on_remove_clicked)
        top = Qt.AlignmentFlag.AlignTop
        self._grid.addWidget(name, row, 0, top)
        self._grid.addWidget(editor, row, 1)
        self._grid.addWidget(remove, row, 2, top)
        self._rows.append((key, name, editor, remove))
        self._update_adder()
        return editor

    def _remove(self, index: int) -> None:
        _, name, editor, remove = self._rows.pop(index)
        for widget in (name, editor, remove):
            self._grid.removeWidget(widget)
            widget.deleteLater()
        for row, (_, n, e, r) in enumerate(self._rows[index:], start=index):
            for column, widget in enumerate((n, e, r)):
                self._grid.removeWidget(widget)
                if column == 1:
                    self._grid.addWidget(widget, row, column)
                else:
                    self._grid.addWidget(widget, row, column, Qt.AlignmentFlag.AlignTop)
        self._update_adder()

    def _update_adder(self) -> None:
        used = {key for key, _, _, _ in self._rows}
        free = [key for key in self._keys if key not in used]
        with QSignalBlocker(self.add_combo):
            self.add_combo.clear()
            for key in free:
                self.add_combo.addItem(key, key)
                info = PARAMETERS.get(key)
                if info is not None:
                    self.add_combo.setItemData(
                        self.add_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
                    )
        self.add_combo.setVisible(bool(free))
        self.add_button.setVisible(bool(free))
        self.none_label.setVisible(not self._keys and not self._rows)

    @Slot()
    def _on_add_clicked(self) -> None:
        key = self.add_combo.currentData()
        if isinstance(key, str):
            self.add_row(key)
            self.changed.emit()

    @Slot()
    def _on_remove_clicked(self) -> None:
        sender = self.sender()
        for index, (_, _, _, remove) in enumerate(self._rows):
            if remove is sender:
                self._remove(index)
                self.changed.emit()
                return


# -- the conflict dialog ------------------------------------------------------------------------


class JobConflictDialog(QDialog):
    """Someone changed the job since it was loaded: theirs and yours side by side.

    ``choice`` is "reload", "overwrite", or None (cancelled) once the dialog is finished.
    """

    RELOAD = "reload"
    OVERWRITE = "overwrite"

    def __init__(self, theirs: dict[str, Any], yours: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobConflictDialog")
        name = str((yours.get("metadata") or {}).get("name") or "")
        self.setWindowTitle(f"{name} was changed on the cluster")
        self.choice: str | None = None
        self.theirs = theirs
        self.yours = yours
        differences = [
            key
            for key in sorted(set(theirs.get("spec") or {}) | set(yours.get("spec") or {}))
            if (theirs.get("spec") or {}).get(key) != (yours.get("spec") or {}).get(key)
        ]
        summary = "Someone else changed this job since you opened it. Your save was not applied." + (
            f" Fields that differ: {', '.join(differences)}." if differences else " The specs are equal."
        )
        self.summary = _label(summary, "conflictSummary")
        self.theirs_view = QPlainTextEdit(to_yaml(_shown(theirs)), self)
        self.theirs_view.setObjectName("theirsYaml")
        self.theirs_view.setReadOnly(True)
        self.yours_view = QPlainTextEdit(to_yaml(_shown(yours)), self)
        self.yours_view.setObjectName("yoursYaml")
        self.yours_view.setReadOnly(True)
        panes = QGridLayout()
        panes.addWidget(QLabel("<b>Theirs</b> (on the cluster now)"), 0, 0)
        panes.addWidget(QLabel("<b>Yours</b> (not saved)"), 0, 1)
        panes.addWidget(self.theirs_view, 1, 0)
        panes.addWidget(self.yours_view, 1, 1)
        self.reload_button = QPushButton("Reload theirs", self)
        self.reload_button.setObjectName("reloadJobButton")
        self.reload_button.setToolTip("Drop your changes and edit what is on the cluster now")
        self.overwrite_button = QPushButton("Overwrite with mine", self)
        self.overwrite_button.setObjectName("overwriteJobButton")
        self.overwrite_button.setToolTip("Replace their version with yours")
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.reload_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.overwrite_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.reload_button.clicked.connect(self._on_reload_clicked)
        self.overwrite_button.clicked.connect(self._on_overwrite_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(panes)
        layout.addWidget(buttons)
        self.resize(900, 520)

    @Slot()
    def _on_reload_clicked(self) -> None:
        self.choice = self.RELOAD
        self.accept()

    @Slot()
    def _on_overwrite_clicked(self) -> None:
        self.choice = self.OVERWRITE
        self.accept()


def _shown(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without the bookkeeping nobody compares (managedFields)."""
    out = copy.deepcopy(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return out


# -- the editor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorTarget:
    """Where the editor saves: the context's name (shown), its gateway and what it knows of it."""

    context: str
    api: JobsApi
    facts: ClusterFacts
    namespace: str = NAMESPACE


class JobEditor(QDialog):
    """Create or edit one RecurringJob of any task type.

    ``existing`` is the object being edited (name and task then read-only), None to create;
    ``template`` pre-fills a new job (Duplicate). ``read_only`` shows the job without Save.

    Signals:
        saved(dict): the object the server stored (after create or replace).
    """

    saved = Signal(object)

    def __init__(
        self,
        tasks: TaskRunner,
        target: EditorTarget,
        existing: dict[str, Any] | None = None,
        template: RecurringJobSpec | None = None,
        read_only: bool = False,
        read_only_reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("jobEditor")
        self._tasks = tasks
        self.target = target
        self.facts = target.facts
        self._existing = copy.deepcopy(existing) if existing is not None else None
        self._read_only = read_only
        self._read_only_reason = read_only_reason or "This context cannot change recurring jobs."
        self._pending = PendingTasks(tasks)
        self._busy = ""
        self._server_errors: dict[str, list[str]] = {}
        self._system_backups: list[BackupRecord] | None = None
        self._conflict: JobConflictDialog | None = None
        self._errors: list[FieldError] = []
        self._build()
        self._fill(self._initial_spec(template))
        if self._existing is None:
            self._on_task_changed()
        else:
            self._apply_task_rules(self.current_task(), self.retain_spin.value())
            if self.current_task() == "system-backup":
                self._load_system_backups()
        if self._read_only:
            self._apply_read_only()
        self._revalidate()

    # -- construction -------------------------------------------------------------------------

    @property
    def editing(self) -> bool:
        return self._existing is not None

    def _initial_spec(self, template: RecurringJobSpec | None) -> RecurringJobSpec:
        if self._existing is not None:
            try:
                return RecurringJobSpec.from_manifest(self._existing)
            except ManifestError as exc:
                log.warning("the job cannot be read fully: %s", exc)
                name = str((self._existing.get("metadata") or {}).get("name") or "")
                return RecurringJobSpec(name=name, task="snapshot", cron="")
        if template is not None:
            return template
        return RecurringJobSpec(
            name="", task="snapshot", cron="0 0 * * *", retain=1, concurrency=DEFAULT_CONCURRENCY
        )

    def _build(self) -> None:
        title = "Edit recurring job" if self.editing else "New recurring job"
        self.setWindowTitle(f"{title} — {self.target.context}")
        version = self.facts.longhorn_version
        where = f"Context <b>{self.target.context}</b>"
        if version is not None:
            where += f" · Longhorn {version}"
        where += f" · retention at most {self.facts.max_retention}"
        self.context_label = QLabel(where, self)
        self.context_label.setObjectName("editorContextLabel")
        self.read_only_label = _label(
            f"Read-only: {self._read_only_reason}" if self._read_only else "",
            "editorReadOnlyLabel",
            WARNING_STYLE,
        )

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form = form
        self._rows: dict[str, QWidget] = {}
        self._error_labels: dict[str, QLabel] = {}

        # Name
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("jobNameEdit")
        self.name_edit.setPlaceholderText("e.g. nightly-backup (lowercase, 2-40 characters)")
        self.name_edit.setMaxLength(253)
        self.name_edit.textChanged.connect(self._on_field_edited)
        self._add_row("name", "&Name", [self.name_edit])

        # Task
        self.task_combo = QComboBox(self)
        self.task_combo.setObjectName("taskTypeCombo")
        self.task_combo.setAccessibleName("Task")
        for info in TASKS.values():
            if not self._task_offered(info.name):
                continue
            self.task_combo.addItem(info.title, info.name)
            self.task_combo.setItemData(
                self.task_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
            )
        self.task_description = _label("", "taskDescription")
        self.task_warning = _label("", "taskWarning", WARNING_STYLE)
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        task_note = ""
        if not Capabilities.for_version(version).system_backup_job and version is not None:
            task_note = f"System Backup jobs need Longhorn v1.9.0 or later; this cluster runs {version}."
        self.task_note = _label(task_note, "taskNote")
        self._add_row(
            "task", "&Task", [self.task_combo, self.task_description, self.task_warning, self.task_note]
        )

        # Schedule
        self.cron_edit = QLineEdit(self)
        self.cron_edit.setObjectName("cronEdit")
        self.cron_edit.setPlaceholderText(
            "minute hour day-of-month month day-of-week, or @daily, @every 2h …"
        )
        self.cron_edit.textChanged.connect(self._on_cron_changed)
        self.cron_preset = QComboBox(self)
        self.cron_preset.setObjectName("cronPresetCombo")
        self.cron_preset.setAccessibleName("Schedule presets")
        self.cron_preset.addItem("Presets…", "")
        for label, expr in CRON_PRESETS:
            self.cron_preset.addItem(f"{label}  ({expr})" if label != expr else label, expr)
        self.cron_preset.activated.connect(self._on_preset_activated)
        cron_line = QWidget(self)
        cron_row = QHBoxLayout(cron_line)
        cron_row.setContentsMargins(0, 0, 0, 0)
        cron_row.addWidget(self.cron_edit, 1)
        cron_row.addWidget(self.cron_preset)
        self.cron_description = _label("", "cronDescription")
        self.next_runs_list = QListWidget(self)
        self.next_runs_list.setObjectName("nextRunsList")
        self.next_runs_list.setAccessibleName("Next runs")
        self.next_runs_list.setMaximumHeight(self.fontMetrics().height() * 6 + 8)
        self.next_runs_list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        local_zone = datetime.now().astimezone().tzname() or "local time"
        self.cron_note = _label(
            "Longhorn runs schedules in the cluster's time zone, normally UTC. "
            f"Next runs are shown in UTC and in your time zone ({local_zone}).",
            "cronTimeZoneNote",
        )
        self._add_row(
            "cron", "&Schedule", [cron_line, self.cron_description, self.next_runs_list, self.cron_note]
        )

        # Retain
        self.retain_spin = QSpinBox(self)
        self.retain_spin.setObjectName("retainSpin")
        self.retain_spin.setAccessibleName("Retain")
        self.retain_spin.valueChanged.connect(self._on_retain_changed)
        self.retain_hint = _label("", "retainHint")
        self.retain_warning = _label("", "retainWarning", WARNING_STYLE)
        self.forecast_label = _label("", "retentionForecast")
        self._add_row(
            "retain",
            "&Retain",
            [self.retain_spin, self.retain_hint, self.retain_warning, self.forecast_label],
        )

        # Concurrency
        self.concurrency_spin = QSpinBox(self)
        self.concurrency_spin.setObjectName("concurrencySpin")
        self.concurrency_spin.setAccessibleName("Concurrency")
        self.concurrency_spin.setRange(1, 10_000)
        self.concurrency_spin.setToolTip("How many volumes one run processes at the same time")
        self.concurrency_spin.valueChanged.connect(self._on_field_edited)
        self._add_row("concurrency", "&Concurrency", [self.concurrency_spin])

        # Groups
        self.groups_edit = QLineEdit(self)
        self.groups_edit.setObjectName("groupsEdit")
        self.groups_edit.setPlaceholderText("comma-separated, e.g. default, gold")
        self.groups_edit.textChanged.connect(self._on_groups_changed)
        self.default_group_button = QPushButton("Add to default group", self)
        self.default_group_button.setObjectName("addDefaultGroupButton")
        self.default_group_button.setToolTip(
            "Volumes with no recurring job or group labels use the jobs of the default group"
        )
        self.default_group_button.clicked.connect(self._on_default_group_clicked)
        groups_line = QWidget(self)
        groups_row = QHBoxLayout(groups_line)
        groups_row.setContentsMargins(0, 0, 0, 0)
        groups_row.addWidget(self.groups_edit, 1)
        groups_row.addWidget(self.default_group_button)
        self._add_row("groups", "&Groups", [groups_line])

        # Labels
        self.labels_edit = LabelsEdit(self)
        self.labels_edit.changed.connect(self._on_field_edited)
        self._add_row("labels", "&Labels", [self.labels_edit])

        # Parameters
        self.parameters_edit = ParametersEdit(self)
        self.parameters_edit.changed.connect(self._on_field_edited)
        self.parameters_warning = _label("", "parametersWarning", WARNING_STYLE)
        self._add_row("parameters", "&Parameters", [self.parameters_edit, self.parameters_warning])

        form_page = QWidget(self)
        form_page.setLayout(form)
        self.yaml_preview = QPlainTextEdit(self)
        self.yaml_preview.setObjectName("yamlPreview")
        self.yaml_preview.setReadOnly(True)
        self.yaml_preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("jobEditorTabs")
        self.tabs.addTab(form_page, "Job")
        yaml_page = QWidget(self)
        yaml_layout = QVBoxLayout(yaml_page)
        yaml_layout.addWidget(QLabel("Exactly what Save sends to the cluster:"))
        yaml_layout.addWidget(self.yaml_preview)
        self.tabs.addTab(yaml_page, "YAML")

        self.status_label = _label("", "editorStatus")
        self.general_error = _label("", "generalError", ERROR_STYLE)
        self._error_labels["general"] = self.general_error
        self.save_button = QPushButton("Save", self)
        self.save_button.setObjectName("saveJobButton")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.buttons = QDialogButtonBox(self)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("cancelJobButton")
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.context_label)
        layout.addWidget(self.read_only_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.general_error)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(720, 780)

        if self.editing:
            self.name_edit.setReadOnly(True)
            self.name_edit.setToolTip("A job's name cannot change; duplicate it to get a new name")
            self.task_combo.setEnabled(False)
            self.task_combo.setToolTip("A job's task cannot change; create a new job instead")

    def _add_row(self, key: str, label: str, widgets: Sequence[QWidget]) -> None:
        container = QWidget(self)
        container.setObjectName(f"{key}Row")
        box = QVBoxLayout(container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        for widget in widgets:
            box.addWidget(widget)
        error = _label("", f"{_camel(key)}Error" if key != "name" else "jobNameError", ERROR_STYLE)
        box.addWidget(error)
        self._error_labels[key] = error
        title = QLabel(label, self)
        title.setBuddy(widgets[0])
        self.form.addRow(title, container)
        self._rows[key] = container

    def _task_offered(self, task: str) -> bool:
        if task != "system-backup":
            return True
        if self._existing is not None:
            return True
        version = self.facts.longhorn_version
        return version is None or Capabilities.for_version(version).system_backup_job

    def _fill(self, spec: RecurringJobSpec) -> None:
        """Put a spec into the widgets (without validating in between)."""
        quiet = (self.name_edit, self.task_combo, self.cron_edit)
        for widget in quiet:
            widget.blockSignals(True)
        self.name_edit.setText(spec.name)
        row = self.task_combo.findData(spec.task)
        if row < 0 and spec.task:
            # A task this build does not know, or one hidden on this cluster: show it as stored.
            self.task_combo.addItem(spec.task, spec.task)
            row = self.task_combo.count() - 1
        self.task_combo.setCurrentIndex(max(row, 0))
        self.cron_edit.setText(spec.cron)
        for widget in quiet:
            widget.blockSignals(False)
        self._apply_task_rules(self.current_task(), spec.retain)
        self.retain_spin.setValue(spec.retain)
        self.concurrency_spin.setValue(spec.concurrency if spec.concurrency >= 1 else DEFAULT_CONCURRENCY)
        self.groups_edit.setText(", ".join(spec.groups))
        self.labels_edit.set_pairs(spec.labels)
        self.parameters_edit.set_keys(self._task_info_keys(spec.task), drop_others=False)
        self.parameters_edit.set_pairs(spec.parameters)
        self._sync_preset()
        self._update_schedule()

    # -- reading the form -------------------------------------------------------------------------

    def current_task(self) -> str:
        data = self.task_combo.currentData()
        return data if isinstance(data, str) else ""

    def _task_info_keys(self, task: str) -> tuple[str, ...]:
        info = TASKS.get(task)
        return info.parameters if info is not None else ()

    def groups(self) -> tuple[str, ...]:
        """The groups typed, without blanks and duplicates, in order."""
        seen: list[str] = []
        for piece in re.split(r"[,\s]+", self.groups_edit.text()):
            if piece and piece not in seen:
                seen.append(piece)
        return tuple(seen)

    def current_spec(self) -> RecurringJobSpec:
        """The job as the form says it."""
        task = self.current_task()
        info = TASKS.get(task)
        uses_groups = info is None or info.uses_groups
        uses_labels = info is None or info.uses_labels
        return RecurringJobSpec(
            name=self.name_edit.text(),
            task=task,
            cron=self.cron_edit.text(),
            retain=self.retain_spin.value(),
            concurrency=self.concurrency_spin.value(),
            groups=self.groups() if uses_groups else (),
            labels=self.labels_edit.pairs() if uses_labels else (),
            parameters=self.parameters_edit.pairs(),
        )

    def body(self) -> dict[str, Any]:
        """What Save sends: the manifest, plus the loaded resourceVersion (and kept metadata) on edit."""
        manifest = self.current_spec().to_manifest(self.target.namespace)
        if self._existing is not None:
            loaded = self._existing.get("metadata") or {}
            metadata = manifest["metadata"]
            for key in ("labels", "annotations"):
                if loaded.get(key):
                    metadata[key] = copy.deepcopy(loaded[key])
            if loaded.get("resourceVersion"):
                metadata["resourceVersion"] = loaded["resourceVersion"]
        return manifest

    def errors(self) -> list[FieldError]:
        return list(self._errors)

    # -- reacting to edits --------------------------------------------------------------------------

    @Slot()
    def _on_field_edited(self) -> None:
        self._server_errors.clear()
        self._revalidate()

    def _apply_read_only(self) -> None:
        self.name_edit.setReadOnly(True)
        self.cron_edit.setReadOnly(True)
        self.groups_edit.setReadOnly(True)
        for widget in (
            self.task_combo,
            self.cron_preset,
            self.retain_spin,
            self.concurrency_spin,
            self.default_group_button,
            self.labels_edit,
            self.parameters_edit,
        ):
            widget.setEnabled(False)

    @Slot()
    def _on_task_changed(self) -> None:
        """The user picked another task (new jobs only: the combo is locked when editing)."""
        task = self.current_task()
        self._apply_task_rules(task, self.retain_spin.value())
        current = self.parameters_edit.pairs()
        self.parameters_edit.set_keys(self._task_info_keys(task))
        if task == "system-backup" and not any(key == "volume-backup-policy" for key, _ in current):
            # Longhorn's UI sends the policy explicitly; so does lhdesk (default if-not-present).
            self.parameters_edit.add_row("volume-backup-policy", PARAMETERS["volume-backup-policy"].default)
        if task == "system-backup" and self._existing is None:
            self._system_backups = []
        self._on_field_edited()

    def _apply_task_rules(self, task: str, retain: int) -> None:
        """Show the fields the task uses and bound retain as core says."""
        info = TASKS.get(task)
        low, high = retain_bounds(task, self.facts)
        fixed = info.retain_fixed if info is not None else None
        high = max(high, retain) if fixed is None else high
        with QSignalBlocker(self.retain_spin):
            self.retain_spin.setRange(low, high)
            if fixed is not None:
                self.retain_spin.setValue(fixed)
        self.retain_spin.setEnabled(fixed is None and not self._read_only)
        if fixed is not None:
            self.retain_spin.setToolTip(
                f"Always {fixed} for {info.title if info else task}: it keeps nothing"
            )
            _show(self.retain_hint, f"Fixed at {fixed}: this task keeps nothing.")
        else:
            counts = info.retain_counts if info is not None else "items kept"
            self.retain_spin.setToolTip(f"{counts} ({low}-{self.facts.max_retention})")
            _show(
                self.retain_hint, f"How many {counts}; {low} to {self.facts.max_retention} on this cluster."
            )
        uses_groups = info is None or info.uses_groups
        uses_labels = info is None or info.uses_labels
        uses_concurrency = info is None or info.uses_concurrency
        self.form.setRowVisible(self._rows["groups"], uses_groups)
        self.form.setRowVisible(self._rows["labels"], uses_labels)
        self.form.setRowVisible(self._rows["concurrency"], uses_concurrency)
        _show(self.task_description, info.description if info is not None else "")
        self.forecast_label.setVisible(task == "system-backup")

    @Slot(str)
    def _on_cron_changed(self, _text: str) -> None:
        self._sync_preset()
        self._update_schedule()
        self._on_field_edited()

    @Slot(int)
    def _on_preset_activated(self, row: int) -> None:
        expr = self.cron_preset.itemData(row)
        if isinstance(expr, str) and expr:
            self.cron_edit.setText(expr)

    def _sync_preset(self) -> None:
        row = self.cron_preset.findData(self.cron_edit.text())
        with QSignalBlocker(self.cron_preset):
            self.cron_preset.setCurrentIndex(max(row, 0))

    def _update_schedule(self) -> None:
        expr = self.cron_edit.text()
        self.next_runs_list.clear()
        if not expr:
            _show(self.cron_description, "")
            return
        try:
            schedule = cron.parse(expr)
            sentence = cron.describe(expr)
        except cron.CronError:
            _show(self.cron_description, "")
            return
        now = datetime.now(UTC)
        anchor = parse_time((self._existing or {}).get("metadata", {}).get("creationTimestamp")) or now
        note = ""
        if schedule.is_every:
            note = (
                " (counted from when the job was created; times are approximate)"
                if self._existing is not None
                else " (counted from when the job is created)"
            )
        _show(self.cron_description, sentence + note)
        for run in next_runs(schedule, now, NEXT_RUNS, anchor=anchor):
            self.next_runs_list.addItem(format_run(run, now))

    @Slot(int)
    def _on_retain_changed(self, _value: int) -> None:
        self._update_forecast()
        self._on_field_edited()

    @Slot(str)
    def _on_groups_changed(self, _text: str) -> None:
        self.default_group_button.setEnabled(DEFAULT_GROUP not in self.groups() and not self._read_only)
        self._on_field_edited()

    @Slot()
    def _on_default_group_clicked(self) -> None:
        groups = self.groups()
        if DEFAULT_GROUP not in groups:
            self.groups_edit.setText(", ".join((*groups, DEFAULT_GROUP)))

    def _revalidate(self) -> None:
        spec = self.current_spec()
        self._errors = validate(spec, self.facts)
        by_field: dict[str, list[str]] = {key: [] for key in (*FIELDS, "general")}
        for error in self._errors:
            by_field[field_of(error.field)].append(_error_text(error))
        for key, messages in self._server_errors.items():
            by_field.setdefault(key, []).extend(f"The cluster refused it: {m}" for m in messages)
        for key, label in self._error_labels.items():
            _show(label, "\n".join(by_field.get(key, [])))
        warnings: dict[str, list[str]] = {}
        for note in warnings_for(spec):
            warnings.setdefault(field_of(note.field), []).append(
                note.message[:1].upper() + note.message[1:] + "."
            )
        _show(self.retain_warning, " ".join(warnings.get("retain", [])))
        info = TASKS.get(spec.task)
        caveat = [info.caveat] if info is not None and info.caveat else []
        _show(self.task_warning, " ".join(caveat + warnings.get("task", [])))
        _show(self.parameters_warning, " ".join(warnings.get("parameters", [])))
        self.yaml_preview.setPlainText(to_yaml(self.body()))
        self._update_forecast()
        self._update_save_button()

    def _update_save_button(self) -> None:
        reason = ""
        if self._read_only:
            reason = f"Read-only: {self._read_only_reason}"
        elif self._busy:
            reason = self._busy
        elif self._errors:
            first = self._errors[0]
            reason = f"Fix this first — {_FIELD_TITLES.get(field_of(first.field), 'Job')}: {first.message}"
            if len(self._errors) > 1:
                reason += f" (and {len(self._errors) - 1} more)"
        elif self._server_errors:
            reason = "Change what the cluster refused first"
        self.save_button.setEnabled(not reason)
        self.save_button.setToolTip(reason or "Check the job with the cluster (dry run), then save it")

    # -- retention forecast (system-backup) ------------------------------------------------------

    def _load_system_backups(self) -> None:
        name = self.current_spec().name
        api = self.target.api
        selector = f"{SYSTEM_BACKUP_JOB_LABEL}={name}"
        _show(self.forecast_label, "Loading this job's system backups…")
        self._submit(
            lambda: api.list(SYSTEM_BACKUPS, selector)[0],
            self._on_system_backups_loaded,
            self._on_system_backups_failed,
            f"Listing system backups of {name}",
        )

    def _on_system_backups_loaded(self, items: list[dict[str, Any]]) -> None:
        records = []
        for item in items:
            status = item.get("status") if isinstance(item.get("status"), dict) else {}
            assert isinstance(status, dict)
            records.append(
                BackupRecord(
                    name=str((item.get("metadata") or {}).get("name") or ""),
                    state=str(status.get("state") or ""),
                    created=parse_time(status.get("createdAt")),
                )
            )
        self._system_backups = records
        self._update_forecast()

    def _on_system_backups_failed(self, outcome: Outcome) -> None:
        self._system_backups = None
        _show(self.forecast_label, f"Could not list this job's system backups: {outcome.error}")

    def _update_forecast(self) -> None:
        if self.current_task() != "system-backup":
            return
        records = self._system_backups
        if records is None:
            return
        retain = self.retain_spin.value()
        if not records:
            _show(
                self.forecast_label,
                f"Retention: this job has no system backups yet; it will keep its newest {retain}.",
            )
            return
        plan = forecast(records, retain, including_new=True)
        counted = len(plan.keep) + len(plan.delete)
        plural = "s" if counted != 1 else ""
        lines = [
            f"Retention forecast: this job has {counted} finished system backup{plural}. "
            f"After its next run (one more) it keeps the newest {retain}."
        ]
        if plan.delete:
            shown = ", ".join(plan.delete[:8]) + (
                f" and {len(plan.delete) - 8} more" if len(plan.delete) > 8 else ""
            )
            lines.append(f"It deletes (oldest and failed first): {shown}.")
        else:
            lines.append("It deletes none.")
        if plan.keep:
            lines.append(f"It keeps: {', '.join(plan.keep[-8:])} and the new one.")
        if plan.ignored:
            lines.append(f"In progress, not counted: {', '.join(plan.ignored[:8])}.")
        _show(self.forecast_label, "\n".join(lines))

    # -- saving ---------------------------------------------------------------------------------

    def _set_busy(self, text: str) -> None:
        self._busy = text
        _show(self.status_label, text)
        self._update_save_button()

    def _submit(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None],
        on_failure: Callable[[Outcome], None],
        description: str,
    ) -> None:
        self._pending.submit(fn, on_success, on_failure, description)

    @Slot()
    def _on_save_clicked(self) -> None:
        self._revalidate()
        if not self.save_button.isEnabled():
            return
        self._save(self.body())

    def _save(self, body: dict[str, Any]) -> None:
        api = self.target.api
        name = str(body["metadata"]["name"])
        if self._existing is not None:

            def dry_run() -> Any:
                return api.replace(RECURRING_JOBS, name, body, dry_run=True)

        else:

            def dry_run() -> Any:
                return api.create(RECURRING_JOBS, body, dry_run=True)

        self._set_busy(f"Checking {name} with {self.target.context} (dry run)…")
        self._submit(
            dry_run, lambda _result: self._commit(body), self._on_save_failed, f"Checking job {name}"
        )

    def _commit(self, body: dict[str, Any]) -> None:
        api = self.target.api
        name = str(body["metadata"]["name"])
        if self._existing is not None:

            def call() -> Any:
                return api.replace(RECURRING_JOBS, name, body)

        else:

            def call() -> Any:
                return api.create(RECURRING_JOBS, body)

        self._set_busy(f"Saving {name} to {self.target.context}…")
        self._submit(call, self._on_saved, self._on_save_failed, f"Saving job {name}")

    def _on_saved(self, stored: dict[str, Any]) -> None:
        self._set_busy("")
        log.info("recurring job %s saved to %s", self.current_spec().name, self.target.context)
        self.saved.emit(stored)
        self.accept()

    def _on_save_failed(self, outcome: Outcome) -> None:
        self._set_busy("")
        error = outcome.error
        if isinstance(error, Conflict):
            self._on_conflict()
            return
        if isinstance(error, AlreadyExists):
            self._server_errors = {"name": [f"a job named {self.current_spec().name} already exists"]}
        elif isinstance(error, NotFound) and self._existing is not None:
            self._existing = None
            self.name_edit.setReadOnly(False)
            self._server_errors = {}
            _show(self.general_error, "")
            self._revalidate()
            _show(
                self.status_label,
                "The job was deleted on the cluster since you opened it. Save creates it again.",
            )
            return
        elif isinstance(error, Invalid | BadRequest):
            refusals: dict[str, list[str]] = {}
            for key, message in server_refusals(error):
                refusals.setdefault(key, []).append(message)
            self._server_errors = refusals
        else:
            self._server_errors = {"general": [str(error)]}
        self._revalidate()
        _show(self.status_label, "Not saved.")

    def _on_conflict(self) -> None:
        api = self.target.api
        name = self.current_spec().name
        self._set_busy(f"{name} was changed on the cluster; loading their version…")
        self._submit(
            lambda: api.get(RECURRING_JOBS, name),
            self._on_theirs_loaded,
            self._on_save_failed,
            f"Reading job {name}",
        )

    def _on_theirs_loaded(self, theirs: dict[str, Any]) -> None:
        self._set_busy("")
        dialog = JobConflictDialog(theirs, self.body(), self)
        self._conflict = dialog
        dialog.finished.connect(self._on_conflict_finished)
        dialog.open()

    @Slot(int)
    def _on_conflict_finished(self, _result: int) -> None:
        dialog = self._conflict
        self._conflict = None
        if dialog is None:
            return
        dialog.deleteLater()
        theirs = dialog.theirs
        if dialog.choice == JobConflictDialog.RELOAD:
            self._existing = copy.deepcopy(theirs)
            self._server_errors = {}
            self._fill(RecurringJobSpec.from_manifest(theirs))
            self._on_task_changed()
            _show(self.status_label, "Reloaded the version on the cluster; your changes were dropped.")
        elif dialog.choice == JobConflictDialog.OVERWRITE:
            body = self.body()
            body["metadata"]["resourceVersion"] = (theirs.get("metadata") or {}).get("resourceVersion")
            if self._existing is not None:
                self._existing.setdefault("metadata", {})["resourceVersion"] = body["metadata"][
                    "resourceVersion"
                ]
            self._save(body)
        else:
            _show(self.status_label, "Not saved: the job changed on the cluster.")

    # -- closing --------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self._pending.cancel_all()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._pending.cancel_all()
        super().closeEvent(event)


_FIELD_TITLES = {
    "name": "Name",
    "task": "Task",
    "cron": "Schedule",
    "retain": "Retain",
    "concurrency": "Concurrency",
    "groups": "Groups",
    "labels": "Labels",
    "parameters": "Parameters",
    "general": "Job",
}


def _error_text(error: FieldError) -> str:
    path = error.field
    if path.startswith("spec.labels.") or path.startswith("spec.parameters."):
        return error.message
    if path.startswith("spec.groups["):
        return error.message
    return error.message[:1].upper() + error.message[1:]
