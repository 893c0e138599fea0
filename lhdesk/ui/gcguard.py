"""Python's cycle collector, run only on the GUI thread.

The collector runs on whichever thread allocates when a generation's threshold is crossed: a
watch thread, a task of the pool. A parentless Qt object caught in a reference cycle would then be
destroyed on that thread, which corrupts Qt's heap and crashes later at random (seen in lhdesk's
tests as "malloc(): mismatching next->prev_size" inside QPainter::begin). Like qutebrowser
(misc/utilities GarbageCollector), lhdesk turns automatic collection off and collects from a
GUI-thread timer instead, honouring the same generation thresholds.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer, Slot

log = logging.getLogger(__name__)


class GuiThreadCollector(QObject):
    """Disables automatic collection while alive and collects on its own (GUI-thread) timer."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    @Slot()
    def collect_due(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as gc itself would."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                found = gc.collect(generation)
                if found:
                    log.debug("collected %d objects (generation %d)", found, generation)
                return

    def stop(self) -> None:
        """Stop the timer and give collection back to Python (after one last collection here)."""
        self._timer.stop()
        gc.collect()
        gc.enable()
