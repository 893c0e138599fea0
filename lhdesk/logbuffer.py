"""A bounded in-memory log: the data behind the Activity panel. No Qt.

The handler keeps the newest records in a ring buffer and tells listeners about each new one,
from whatever thread logged it. Secrets never reach it: lhdesk never logs them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LogEntry:
    time: datetime
    level: int
    logger: str
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class RingBufferHandler(logging.Handler):
    """Keeps the last ``capacity`` records; calls each listener with every new :class:`LogEntry`."""

    def __init__(self, capacity: int = 5000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._listeners: list[Callable[[LogEntry], None]] = []
        self._guard = threading.Lock()

    def add_listener(self, listener: Callable[[LogEntry], None]) -> None:
        with self._guard:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[LogEntry], None]) -> None:
        with self._guard:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def entries(self) -> list[LogEntry]:
        with self._guard:
            return list(self._entries)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {record.exc_info[1]!r}"
            entry = LogEntry(
                datetime.fromtimestamp(record.created, UTC), record.levelno, record.name, message
            )
        except Exception:
            self.handleError(record)
            return
        with self._guard:
            self._entries.append(entry)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(entry)
