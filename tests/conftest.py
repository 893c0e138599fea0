"""Suite-wide fixtures: headless Qt, settings and data dirs in tmp, and no leaked threads."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# Python's cycle collector never runs by itself in this suite: it would run on whichever thread
# allocates when it is due (a watch thread, a pool task, a demo cluster's controller), and a
# parentless Qt object in a cycle would then be destroyed there and corrupt Qt's heap. The app
# avoids the same with ui/gcguard.py. Here the main thread collects after every test: the young
# generation each time (with automatic collection off, all a test made is still young, so this is
# cheap), and everything every FULL_COLLECTION_EVERY tests (a full pass over a heap holding the
# session's demo clusters costs about a second).
FULL_COLLECTION_EVERY = 50
_tests_since_full_collection = 0


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread() -> Iterator[None]:
    global _tests_since_full_collection
    yield
    _tests_since_full_collection += 1
    if _tests_since_full_collection >= FULL_COLLECTION_EVERY:
        _tests_since_full_collection = 0
        gc.collect()
    else:
        gc.collect(0)


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


@pytest.fixture(scope="session")
def backend_guard() -> Callable[[str], None]:
    """``backend_guard("real")``: for tests that parametrise their own backend and start their own
    cluster; skips (fails in CI) when that backend cannot run here."""
    return require_backend


@pytest.fixture(scope="session")
def demo_cluster(demo_cluster_factory: Callable[..., Any]) -> object:
    """A seeded demo cluster (Longhorn v1.12.1, speed 10), started once per backend per session.

    Every integration test that talks to a cluster uses this fixture (or ``backend`` /
    ``demo_cluster_factory``), so it runs against the built-in API server and against a real
    kube-apiserver alike.
    """
    return demo_cluster_factory(seed="small", speed=10.0)


# -- one test matrix: the ``backend`` fixture, special clusters, built-in-only tests, a summary -----
#
# Every integration test that talks to a cluster depends on ``backend``: directly, through
# ``demo_cluster`` or ``demo_cluster_factory``, or through fixtures built on it (tests/demo's
# ``ctrl_stack``). pytest groups the tests by this session-scoped parameter, so all ``[builtin]``
# cases run first, then all ``[real]`` ones, and each backend's clusters are stopped before the next
# backend's start.

BUILTIN_ONLY = "built-in API server only: "


def pytest_configure(config: pytest.Config) -> None:
    gc.disable()  # see _collect_garbage_on_the_main_thread
    config.addinivalue_line(
        "markers",
        "server_knobs(reason): the test needs a knob only the built-in API server has (api_faults, "
        "watch_history); its [real] case is skipped with that reason (a documented difference)",
    )


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``builtin`` or ``real``: the API server under the test. Skips (fails in CI) when unavailable."""
    name = str(request.param)
    require_backend(name)
    return name


# demo_cluster's arguments: that cluster serves most modules, so it is never stopped early.
_DEFAULT_CLUSTER = ("v1.12.1", "small", 10.0, False)
# How many other clusters stay running. Each runs a simulator (and, on the real backend, etcd and
# kube-apiserver) that takes CPU from the tests while idle; most are used by one module only.
_MORE_CLUSTERS = 2


class DemoClusters:
    """Demo clusters of one backend, started on first use and shared by their arguments.

    A cluster start dominates test time (real: about 5 s for the API server alone), so tests that
    need a special cluster share one with every test that asks for the same. ``demo_cluster``'s
    cluster runs until the backend's tests are done; of the others, the two most recently asked for
    keep running and an older one is stopped (in the background) when a third is started. So a test
    module may hold (for example in a module-scoped fixture) one special cluster, and ask for one more.
    """

    def __init__(self, backend: str, root: Path) -> None:
        self.backend = backend
        self._root = root
        self._clusters: dict[tuple[object, ...], Any] = {}  # least recently asked for first
        self._stopping: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def __call__(
        self,
        *,
        longhorn_version: str = "v1.12.1",
        seed: str = "small",
        speed: float = 10.0,
        scale_cron: bool = False,
    ) -> Any:
        """The started cluster with these arguments (its seed complete)."""
        from lhdesk.demo.cluster import DemoCluster

        key = (longhorn_version, seed, float(speed), scale_cron)
        cluster = self._clusters.pop(key, None)
        if cluster is not None:
            self._clusters[key] = cluster
            return cluster
        if key != _DEFAULT_CLUSTER:
            self._make_room()
        name = f"{self.backend}-{longhorn_version}-{seed}-x{speed:g}{'-cron' if scale_cron else ''}"
        cluster = DemoCluster(
            self._root / name,
            backend=self.backend,  # type: ignore[arg-type]
            longhorn_version=longhorn_version,
            seed=seed,  # type: ignore[arg-type]
            speed=speed,
            scale_cron=scale_cron,
        )
        cluster.start()
        try:
            assert cluster.wait_seeded(180), "the demo cluster's seed did not finish"
        except BaseException:
            cluster.stop()
            raise
        self._clusters[key] = cluster
        return cluster

    def _make_room(self) -> None:
        others = [key for key in self._clusters if key != _DEFAULT_CLUSTER]
        while len(others) >= _MORE_CLUSTERS:
            self._stop_in_background(self._clusters.pop(others.pop(0)))

    def _stop_in_background(self, cluster: Any) -> None:
        # A stop mostly waits for the simulator's watches to end (up to 10 s on the built-in
        # server), so nobody waits for it here; stop() joins these threads.
        def stop() -> None:
            try:
                cluster.stop()
            except BaseException as exc:
                self._errors.append(exc)

        thread = threading.Thread(target=stop, name="demo-cluster-stop")
        thread.start()
        self._stopping.append(thread)

    def stop(self) -> None:
        """Stop every cluster, all at once, and wait for them."""
        while self._clusters:
            self._stop_in_background(self._clusters.popitem()[1])
        for thread in self._stopping:
            thread.join()
        self._stopping.clear()
        if self._errors:
            raise self._errors[0]


@pytest.fixture(scope="session")
def demo_cluster_factory(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoClusters]:
    """``demo_cluster_factory(longhorn_version=..., seed=..., speed=..., scale_cron=...)``: a started
    demo cluster on ``backend``, shared with every test that asks for the same arguments. Don't stop
    it; do undo what you change (fault knobs, objects others could see)."""
    clusters = DemoClusters(backend, tmp_path_factory.mktemp(f"demo-{backend}"))
    try:
        yield clusters
    finally:
        clusters.stop()


def _backend_of(item: pytest.Item) -> str | None:
    """The backend a test case runs against, from its parameters (``[builtin]`` / ``[real]``)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for value in callspec.params.values():
        if isinstance(value, str) and value in BACKENDS:
            return value
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the [real] case of a ``server_knobs`` test before its fixtures start anything."""
    marker = item.get_closest_marker("server_knobs")
    if marker is not None and _backend_of(item) == "real":
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
        pytest.skip(BUILTIN_ONLY + str(reason))


_MATRIX_BACKEND: dict[str, str] = {}
_MATRIX_OUTCOME: dict[str, str] = {}
_MATRIX_SKIPS: dict[str, set[str]] = {}
_OUTCOME_ORDER = ("passed", "failed", "skipped", "built-in only", "xfailed")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = _backend_of(item)
        if name is not None:
            _MATRIX_BACKEND[item.nodeid] = name


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = _MATRIX_BACKEND.get(report.nodeid)
    if name is None:
        return
    if report.when != "call" and report.passed:
        return
    if report.failed:
        outcome = "failed"
    elif report.skipped and hasattr(report, "wasxfail"):
        outcome = "xfailed"
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        outcome = "built-in only" if BUILTIN_ONLY in reason else "skipped"
        if outcome == "skipped":
            _MATRIX_SKIPS.setdefault(name, set()).add(reason.removeprefix("Skipped: "))
    else:
        outcome = "passed"
    if _MATRIX_OUTCOME.get(report.nodeid) != "failed":
        _MATRIX_OUTCOME[report.nodeid] = outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Per backend: how many integration test cases passed, failed and were skipped."""
    if not _MATRIX_OUTCOME:
        return
    terminalreporter.section("integration tests per API-server backend")
    for name in BACKENDS:
        counts = dict.fromkeys(_OUTCOME_ORDER, 0)
        for nodeid, outcome in _MATRIX_OUTCOME.items():
            if _MATRIX_BACKEND[nodeid] == name:
                counts[outcome] += 1
        shown = [f"{n} {k}" for k, n in counts.items() if n or k in ("passed", "failed", "skipped")]
        terminalreporter.write_line(f"{name:8} {', '.join(shown)}")
        for reason in sorted(_MATRIX_SKIPS.get(name, ())):
            terminalreporter.write_line(f"{'':8} skipped because: {reason}")
