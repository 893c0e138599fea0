"""The Clusters page against the demo cluster, over real HTTPS, with every state a user meets.

One kubeconfig holds the demo's two contexts plus contexts that are broken on purpose: a closed
port, a wrong CA, a wrong token, a missing user and a missing login plugin. The user clicks
"Check all" and reads the states and messages in the table, as with a real fleet of clusters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QTableView

from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.fleet import MISSING_PLUGIN, STALE_TOKEN, write_fleet_kubeconfig
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.clusters import ClustersPage, Column
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.settings import Settings

pytestmark = pytest.mark.integration


EXPECTED = {
    "demo-admin": ("connected", "v1.12.1"),
    "demo-readonly": ("forbidden", "can read but not create"),
    "closed-port": ("unreachable", "connection refused"),
    "wrong-ca": ("tls-error", "certificate"),
    "wrong-token": ("auth-required", ""),
    "missing-user": ("invalid", "nobody"),
    "missing-plugin": ("auth-required", MISSING_PLUGIN),
}


def test_check_all_shows_every_state_with_an_actionable_message(
    qtbot, qsettings, task_runner, demo_cluster: DemoCluster, tmp_path: Path
) -> None:
    config = write_fleet_kubeconfig(demo_cluster.kubeconfig_path, tmp_path / "fleet")
    settings = Settings(qsettings)
    session = ClusterSession(
        task_runner, lambda: load_contexts(config), lambda k, n: probe(k, n, timeout=5.0)
    )
    page = ClustersPage(session, settings)
    window = MainWindow(settings, task_runner, LogBridge(RingBufferHandler()), [page], session=session)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(session.contexts_changed):
        session.reload()
    page.check_all_action.trigger()
    qtbot.waitUntil(lambda: not any(s.checking for s in session.statuses()), timeout=30_000)
    table = window.findChild(QTableView, "clustersTable")
    model = table.model()
    rows = {model.index(r, Column.CONTEXT).data().split(" ")[0]: r for r in range(model.rowCount())}
    assert set(rows) == set(EXPECTED)
    for name, (state, words) in EXPECTED.items():
        row = rows[name]
        message = model.index(row, Column.MESSAGE).data()
        assert model.index(row, Column.STATE).data() == state, (name, message)
        assert words.lower() in message.lower() or words in model.index(row, Column.LONGHORN).data(), (
            name,
            message,
        )
        assert STALE_TOKEN not in message
    admin = rows["demo-admin"]
    assert model.index(admin, Column.LONGHORN).data() == "v1.12.1"
    assert model.index(admin, Column.KUBERNETES).data().startswith("v1.")
    assert "demo-admin" in window.context_label.text()
