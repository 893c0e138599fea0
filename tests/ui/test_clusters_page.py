"""The Clusters page and the context picker, driven like a user, over injected load/probe calls.

These tests pin the UI's behaviour with plain callables standing in for the kubeconfig loader
and the prober; the same page against the demo cluster is tested in tests/integration.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QTableView

from lhdesk.core.clusters import ContextInfo, ContextState, KubeconfigSet, ProbeResult
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.clusters import ClustersPage, ClustersTableModel, Column
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.settings import Settings


def ctx(name: str, error: str | None = None, insecure: bool = False) -> ContextInfo:
    return ContextInfo(
        name=name,
        cluster=f"{name}-cluster",
        server=f"https://{name}.example:6443",
        user=f"{name}-user",
        namespace="longhorn-system",
        source_file=Path("/tmp/kubeconfig"),
        error=error,
        error_state=ContextState.INVALID if error else None,
        insecure=insecure,
    )


KSET = KubeconfigSet(
    contexts=(ctx("prod"), ctx("lab", insecure=True), ctx("broken", error="user 'ghost' is not defined")),
    current="lab",
    files=(),
)

ANSWERS = {
    "prod": ProbeResult("prod", ContextState.CONNECTED, "Longhorn v1.12.1 is ready.", "v1.31.0", "v1.12.1"),
    "lab": ProbeResult("lab", ContextState.UNREACHABLE, "Connection refused by lab.example:6443."),
}


class Prober:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kset: KubeconfigSet, name: str) -> ProbeResult:
        with self.lock:
            self.calls.append(name)
        return ANSWERS[name]


def build(qtbot, qsettings, task_runner, prober: Prober, preferred: str | None = None):
    settings = Settings(qsettings)
    session = ClusterSession(task_runner, lambda: KSET, prober, preferred=preferred)
    page = ClustersPage(session, settings)
    window = MainWindow(settings, task_runner, LogBridge(RingBufferHandler()), [page], session=session)
    qtbot.addWidget(window)
    window.show()
    session.reload()
    qtbot.waitUntil(page.is_loaded)
    return window, page, session


def cell(table: QTableView, row: int, column: Column) -> str:
    return table.model().index(row, column).data()


def test_every_context_is_listed_even_the_broken_one(qtbot, qsettings, task_runner) -> None:
    window, _page, _session = build(qtbot, qsettings, task_runner, Prober())
    table = window.findChild(QTableView, "clustersTable")
    assert [cell(table, r, Column.CONTEXT).split(" ")[0] for r in range(3)] == ["prod", "lab", "broken"]
    assert cell(table, 2, Column.STATE) == "invalid"
    assert "ghost" in cell(table, 2, Column.MESSAGE)
    assert "TLS not verified" in cell(table, 1, Column.SERVER)


def test_current_context_comes_from_the_kubeconfig_and_is_probed(qtbot, qsettings, task_runner) -> None:
    prober = Prober()
    window, _page, session = build(qtbot, qsettings, task_runner, prober)
    qtbot.waitUntil(
        lambda: session.current is not None and session.current.probe.state is ContextState.UNREACHABLE
    )
    assert prober.calls == ["lab"]
    assert "lab" in window.context_label.text()
    assert "unreachable" in window.context_label.text()
    picker = window.findChild(QComboBox, "contextPicker")
    assert picker.currentText() == "lab — unreachable"


def test_check_all_probes_every_valid_context(qtbot, qsettings, task_runner) -> None:
    prober = Prober()
    window, page, _session = build(qtbot, qsettings, task_runner, prober)
    page.check_all_action.trigger()
    table = window.findChild(QTableView, "clustersTable")
    qtbot.waitUntil(lambda: cell(table, 0, Column.STATE) == "connected")
    assert cell(table, 0, Column.LONGHORN) == "v1.12.1"
    assert cell(table, 0, Column.KUBERNETES) == "v1.31.0"
    assert "broken" not in prober.calls


def test_switching_with_the_picker_is_remembered(qtbot, qsettings, task_runner) -> None:
    window, _page, session = build(qtbot, qsettings, task_runner, Prober())
    picker = window.findChild(QComboBox, "contextPicker")
    picker.setFocus()
    with qtbot.waitSignal(session.current_changed):
        qtbot.keyClick(picker, Qt.Key.Key_Up)  # from lab up to prod
    assert session.current.info.name == "prod"
    assert Settings(qsettings).last_context == "prod"
    qtbot.waitUntil(lambda: "connected" in window.context_label.text())


def test_enter_on_a_row_uses_that_context(qtbot, qsettings, task_runner) -> None:
    window, _page, session = build(qtbot, qsettings, task_runner, Prober())
    table = window.findChild(QTableView, "clustersTable")
    table.setFocus()
    table.setCurrentIndex(table.model().index(0, Column.CONTEXT))  # prod
    with qtbot.waitSignal(session.current_changed):
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert session.current.info.name == "prod"
    # The same choices on a right click.
    assert [a.objectName() for a in table.actions()] == [
        "checkContextAction",
        "useContextAction",
        "contextColourAction",
    ]


def test_preferred_context_wins_over_the_kubeconfig_current(qtbot, qsettings, task_runner) -> None:
    _window, _page, session = build(qtbot, qsettings, task_runner, Prober(), preferred="prod")
    assert session.current.info.name == "prod"


def test_colour_chip_is_remembered(qtbot, qsettings, task_runner) -> None:
    _window, page, _session = build(qtbot, qsettings, task_runner, Prober())
    page.set_colour("prod", "#c62828")
    assert Settings(qsettings).context_colours == {"prod": "#c62828"}
    assert not page.model.index(0, 0).data(Qt.ItemDataRole.DecorationRole).isNull()


def test_model_passes_the_model_tester(qtmodeltester, qapp) -> None:
    from lhdesk.ui.session import ContextStatus

    model = ClustersTableModel({"prod": "#ff0000"})
    model.reset_rows(tuple(ContextStatus(info, info.unprobed()) for info in KSET.contexts))
    qtmodeltester.check(model)
