"""Time for the scheduler, injectable so that tests can drive it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time (UTC, aware) for slots and records; a monotonic clock for spans and deadlines.

    The engine compares the two to notice clock jumps and sleep/resume: the monotonic clock does
    not move while the machine sleeps, the wall clock does.
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
