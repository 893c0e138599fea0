"""Suite-wide fixtures: headless Qt, settings and data dirs in tmp, and no leaked threads."""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

# Headless unless the caller chose a platform (e.g. xcb under Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep QSettings, QStandardPaths and the data dir of every test out of the user's home."""
    root = tmp_path_factory.mktemp("userdirs")
    old = {
        k: os.environ.get(k)
        for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "LHDESK_DATA_DIR")
    }
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    os.environ["LHDESK_DATA_DIR"] = str(root / "data" / "lhdesk")
    yield root
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def task_runner(qapp: object) -> Iterator[object]:
    """A TaskRunner that is shut down (and its pool joined) when the test ends."""
    from lhdesk.ui.tasks import TaskRunner

    runner = TaskRunner()
    yield runner
    assert runner.shutdown(10_000), "background tasks did not finish"


@pytest.fixture
def qsettings(tmp_path: Path, qapp: object) -> Iterator[object]:
    """A fresh INI QSettings in tmp for one test."""
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "lhdesk.ini"), QSettings.Format.IniFormat)
    yield settings
    settings.sync()


_started_qthreads: weakref.WeakSet[object] = weakref.WeakSet()


def _track_qthreads() -> None:
    """Record every QThread started from Python, so a test that leaks one can be failed."""
    from PySide6.QtCore import QThread

    if getattr(QThread.start, "_lhdesk_tracked", False):
        return
    original = QThread.start

    def start(self: QThread, *args: object) -> None:
        _started_qthreads.add(self)
        original(self, *args)

    start._lhdesk_tracked = True  # type: ignore[attr-defined]
    QThread.start = start  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_leaked_qthreads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a QThread running (napari's rule). Only for tests that use Qt."""
    uses_qt = {"qtbot", "qapp"} & set(request.fixturenames) or "PySide6.QtCore" in sys.modules
    if not uses_qt:
        yield
        return
    _track_qthreads()
    from PySide6.QtCore import QThreadPool

    before = {id(t) for t in _started_qthreads}
    yield
    leaked = []
    for thread in list(_started_qthreads):
        try:
            running = thread.isRunning()  # type: ignore[attr-defined]
        except RuntimeError:  # the C++ object is already gone, so it is not running
            continue
        if running and id(thread) not in before:
            leaked.append(thread)
    if QThreadPool.globalInstance().activeThreadCount():
        leaked.append("the global QThreadPool")
    if leaked:
        pytest.fail(f"{request.node.nodeid} left {len(leaked)} QThread(s) running: {leaked!r}", pytrace=False)


# -- the demo cluster, on both API servers ------------------------------------------------------

BACKENDS = ("builtin", "real")


def backend_unavailable(backend: str) -> str | None:
    """Why ``backend`` cannot run on this machine, or None."""
    if backend == "real":
        from lhdesk.demo.realapi import cache_dir, is_built

        if not is_built():
            return (
                f"the real kube-apiserver is not built in {cache_dir()} (run: scripts/kube-apiserver build)"
            )
    return None


def require_backend(backend: str) -> None:
    """Skip when ``backend`` cannot run here; in CI (or with LHDESK_REQUIRE_REAL_API) fail instead."""
    reason = backend_unavailable(backend)
    if reason is None:
        return
    if os.environ.get("CI") or os.environ.get("LHDESK_REQUIRE_REAL_API"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKENDS)
def demo_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A seeded demo cluster (Longhorn v1.12.1, speed 10), started once per backend per session.

    Every integration test that talks to a cluster uses this fixture, so it runs against the
    built-in API server and against a real kube-apiserver alike.
    """
    from lhdesk.demo.cluster import DemoCluster

    backend = str(request.param)
    require_backend(backend)
    cluster = DemoCluster(
        tmp_path_factory.mktemp(f"demo-{backend}"), backend=backend, seed="small", speed=10.0
    )
    cluster.start()
    try:
        assert cluster.wait_seeded(180), "the demo cluster's seed did not finish"
        yield cluster
    finally:
        cluster.stop()
