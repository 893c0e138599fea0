"""Controller plumbing: a scaled clock, a delaying work queue and the reconcile loop."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


class Clock:
    """Durations scaled by ``speed``; cron time either real UTC or running ``speed`` times faster.

    ``speed`` shortens everything Longhorn waits for (state steps, polls, the job's 5 s loop). Cron
    schedules stay on the real clock unless ``scale_cron`` is set, so the next runs lhdesk shows from
    the same cron expression stay true on the demo.
    """

    def __init__(self, speed: float = 1.0, scale_cron: bool = False) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self.scale_cron = scale_cron
        self._origin_real = time.time()
        self._origin_mono = time.monotonic()

    def scaled(self, seconds: float) -> float:
        """Real seconds a Longhorn duration of ``seconds`` takes in the simulation."""
        return seconds / self.speed

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def cron_now(self) -> datetime:
        """The time cron schedules are evaluated against."""
        if not self.scale_cron:
            return self.now()
        elapsed = (time.monotonic() - self._origin_mono) * self.speed
        return datetime.fromtimestamp(self._origin_real, UTC) + timedelta(seconds=elapsed)

    def cron_delay(self, moment: datetime) -> float:
        """Real seconds from now until cron time reaches ``moment``."""
        ahead = (moment - self.cron_now()).total_seconds()
        return max(0.0, ahead / self.speed if self.scale_cron else ahead)


def rfc3339(moment: datetime | None = None) -> str:
    """Kubernetes metav1.Time format: whole seconds, UTC, ``Z``."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkQueue:
    """Keys to reconcile, each at most once in the queue, each ready at its earliest requested time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._seq = 0
        self._closed = False

    def add(self, key: str, delay: float = 0.0) -> None:
        due = time.monotonic() + max(0.0, delay)
        with self._cond:
            if self._closed:
                return
            known = self._due.get(key)
            if known is not None and known <= due:
                return
            self._due[key] = due
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, key))
            self._cond.notify()

    def get(self) -> str | None:
        """Block until a key is due; None once the queue is closed."""
        with self._cond:
            while not self._closed:
                if self._heap:
                    due, _, key = self._heap[0]
                    if self._due.get(key) != due:
                        heapq.heappop(self._heap)  # superseded by an earlier request
                        continue
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        del self._due[key]
                        return key
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Controller(ABC):
    """One worker thread reconciling keys from a WorkQueue.

    ``reconcile(key)`` returns None when done or a delay in real seconds to look again. A 409
    Conflict requeues at once (the watch brings the newer object); other errors requeue with backoff.
    """

    name = "controller"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.queue = WorkQueue()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}

    def enqueue(self, key: str, delay: float = 0.0) -> None:
        self.queue.add(key, delay)

    @abstractmethod
    def reconcile(self, key: str) -> float | None:
        """Bring ``key`` one step closer to its desired state."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"ctrl-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.queue.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                again = self.reconcile(key)
                self._failures.pop(key, None)
            except ApiException as exc:
                if exc.status == 409:
                    again = 0.05
                else:
                    again = self._backoff(key)
                    log.warning("%s: reconciling %s failed: %s %s", self.name, key, exc.status, exc.reason)
            except Exception:
                again = self._backoff(key)
                log.exception("%s: reconciling %s failed", self.name, key)
            if again is not None:
                self.queue.add(key, again)

    def _backoff(self, key: str) -> float:
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        return float(min(0.1 * 2**count, 10.0))
