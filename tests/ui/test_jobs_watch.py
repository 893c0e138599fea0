"""WatchWorker and WatchFeed on a real QThread over the in-memory port: list, watch, relist, stop.

The worker emits from its own thread, so the tests listen through ``Recorder``, a GUI-thread
QObject with decorated slots (queued delivery), as every real receiver does.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Slot

from lhdesk.core.errors import Unreachable
from lhdesk.ui.jobs.watch import WatchEvent, WatchFeed, WatchWorker


class Recorder(QObject):
    def __init__(self, worker: WatchWorker) -> None:
        super().__init__()
        self.snapshots: list[tuple[dict[str, Any], ...]] = []
        self.events: list[WatchEvent] = []
        self.failures: list[str] = []
        worker.snapshot_listed.connect(self.on_listed)
        worker.object_changed.connect(self.on_changed)
        worker.failed.connect(self.on_failed)

    @Slot(object)
    def on_listed(self, items: tuple[dict[str, Any], ...]) -> None:
        self.snapshots.append(items)

    @Slot(object)
    def on_changed(self, event: WatchEvent) -> None:
        self.events.append(event)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.failures.append(message)


def names(items: tuple[dict[str, Any], ...]) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in items)


def test_worker_lists_then_reports_each_change(qtbot, memory_longhorn, make_job) -> None:
    memory_longhorn.put("recurringjobs", make_job("a"))
    worker = WatchWorker(memory_longhorn, "recurringjobs", timeout_seconds=1)
    seen = Recorder(worker)
    try:
        worker.start()
        qtbot.waitUntil(lambda: len(seen.snapshots) == 1, timeout=5000)
        assert names(seen.snapshots[0]) == ["a"]
        memory_longhorn.put("recurringjobs", make_job("b"))
        memory_longhorn.remove("recurringjobs", "a")
        qtbot.waitUntil(lambda: len(seen.events) == 2, timeout=5000)
        assert [(e.type, e.name) for e in seen.events] == [("ADDED", "b"), ("DELETED", "a")]
    finally:
        assert worker.stop(10_000)
    assert not worker.is_running()
    assert seen.failures == []


def test_worker_lists_again_when_the_watch_expires(qtbot, memory_longhorn, make_job) -> None:
    worker = WatchWorker(memory_longhorn, "recurringjobs", timeout_seconds=1)
    seen = Recorder(worker)
    try:
        worker.start()
        qtbot.waitUntil(lambda: len(seen.snapshots) == 1, timeout=5000)
        memory_longhorn.expire_watches()
        memory_longhorn.put("recurringjobs", make_job("late"))
        memory_longhorn.expire_watches()
        qtbot.waitUntil(lambda: any(names(s) == ["late"] for s in seen.snapshots[1:]), timeout=5000)
    finally:
        assert worker.stop(10_000)
    assert seen.failures == [], "an expired watch is not a failure"


def test_worker_reports_failures_and_retries(qtbot, memory_longhorn) -> None:
    memory_longhorn.list_error = Unreachable("Cannot reach 127.0.0.1:1: connection refused.")
    worker = WatchWorker(memory_longhorn, "recurringjobs", timeout_seconds=1, retry_delay=0.05)
    seen = Recorder(worker)
    try:
        worker.start()
        qtbot.waitUntil(lambda: bool(seen.failures), timeout=5000)
        assert "connection refused" in seen.failures[0]
        memory_longhorn.list_error = None
        qtbot.waitUntil(lambda: bool(seen.snapshots), timeout=5000)
    finally:
        assert worker.stop(10_000)


def test_stop_ends_within_the_watch_timeout(qtbot, memory_longhorn) -> None:
    worker = WatchWorker(memory_longhorn, "recurringjobs", timeout_seconds=1)
    seen = Recorder(worker)
    worker.start()
    qtbot.waitUntil(lambda: bool(seen.snapshots), timeout=5000)
    started = time.monotonic()
    assert worker.stop(10_000)
    assert time.monotonic() - started < 3


def test_feed_batches_a_burst_into_few_updates(qtbot, memory_longhorn, make_job) -> None:
    feed = WatchFeed(memory_longhorn, "recurringjobs", timeout_seconds=1, interval_ms=100)
    batches: list[tuple[WatchEvent, ...]] = []
    feed.changed.connect(batches.append)
    try:
        with qtbot.waitSignal(feed.listed, timeout=5000):
            feed.start()
        for n in range(300):
            memory_longhorn.put("recurringjobs", make_job(f"job-{n:03d}"))
        qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 300, timeout=10_000)
        assert len(batches) < 30
        assert [e.name for b in batches for e in b] == [f"job-{n:03d}" for n in range(300)]
    finally:
        assert feed.stop(10_000)


def test_closed_feed_says_nothing_more(qtbot, memory_longhorn, make_job) -> None:
    feed = WatchFeed(memory_longhorn, "recurringjobs", timeout_seconds=1, interval_ms=10)
    heard: list[object] = []
    feed.changed.connect(heard.append)
    feed.listed.connect(heard.append)
    with qtbot.waitSignal(feed.listed, timeout=5000):
        feed.start()
    heard.clear()
    feed.close()
    memory_longhorn.put("recurringjobs", make_job("ignored"))
    assert feed.join(10_000)
    qtbot.wait(50)
    assert heard == []
    assert feed.is_finished()
