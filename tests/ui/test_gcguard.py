"""The app's cycle collector runs on the GUI thread only."""

from __future__ import annotations

import gc

from lhdesk.ui.gcguard import GuiThreadCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collects_cycles_from_its_timer_and_gives_collection_back(qtbot) -> None:
    gc.enable()  # as in the app, before the collector exists
    collector = GuiThreadCollector(interval_ms=10)
    try:
        assert not gc.isenabled()
        for _ in range(gc.get_threshold()[0] * 2):
            Cycle()
        qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=5_000)
    finally:
        collector.stop()
    assert gc.isenabled()
    gc.disable()  # the suite keeps automatic collection off (tests/conftest.py)
