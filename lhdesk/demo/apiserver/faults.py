"""Fault knobs for tests: added latency, injected error statuses, and dropped watches.

All knobs are thread-safe and may be changed while the server runs. Path prefixes are matched
against the request path without the query (e.g. ``/apis/longhorn.io/v1beta2/namespaces/x/systembackups``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorRule:
    prefix: str
    status: int
    rate: float
    methods: frozenset[str] | None
    message: str | None


class Faults:
    def __init__(self, drop_watches: Callable[[], int] | None = None) -> None:
        self._lock = threading.Lock()
        self._latency: float = 0.0
        self._prefix_latency: dict[str, float] = {}
        self._errors: list[ErrorRule] = []
        self._random = random.Random(0)
        self._drop = drop_watches

    # ------------------------------------------------------------------ latency

    @property
    def latency(self) -> float:
        """Seconds added to every request."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.set_latency(seconds)

    def set_latency(self, seconds: float, prefix: str | None = None) -> None:
        """Add ``seconds`` to every request, or only to requests under ``prefix`` (0 removes it)."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            if prefix is None:
                self._latency = float(seconds)
            elif seconds:
                self._prefix_latency[prefix] = float(seconds)
            else:
                self._prefix_latency.pop(prefix, None)

    def delay_for(self, path: str) -> float:
        with self._lock:
            extra = max((s for p, s in self._prefix_latency.items() if path.startswith(p)), default=0.0)
            return self._latency + extra

    # ------------------------------------------------------------------ errors

    def set_error(
        self,
        prefix: str,
        status: int,
        rate: float = 1.0,
        *,
        methods: list[str] | tuple[str, ...] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer requests under ``prefix`` with ``status`` (a ``Status`` body), with probability ``rate``.

        ``methods`` limits the rule to some HTTP methods (e.g. ``["POST"]``). A later rule for the
        same prefix replaces the earlier one.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within 0..1")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status")
        rule = ErrorRule(
            prefix,
            int(status),
            float(rate),
            frozenset(m.upper() for m in methods) if methods else None,
            message,
        )
        with self._lock:
            self._errors = [r for r in self._errors if r.prefix != prefix] + [rule]

    def clear_error(self, prefix: str) -> None:
        with self._lock:
            self._errors = [r for r in self._errors if r.prefix != prefix]

    def seed(self, seed: int) -> None:
        """Re-seed the random source behind error rates (runs are repeatable)."""
        with self._lock:
            self._random.seed(seed)

    def error_for(self, method: str, path: str) -> ErrorRule | None:
        with self._lock:
            matching = [
                r
                for r in self._errors
                if path.startswith(r.prefix) and (r.methods is None or method.upper() in r.methods)
            ]
            if not matching:
                return None
            rule = max(matching, key=lambda r: len(r.prefix))
            if rule.rate >= 1.0 or self._random.random() < rule.rate:
                return rule
            return None

    # ------------------------------------------------------------------ watches

    def drop_watches(self) -> int:
        """Cut every open watch connection now (without a clean end); return how many."""
        return self._drop() if self._drop else 0

    def clear(self) -> None:
        """Remove every latency and error rule."""
        with self._lock:
            self._latency = 0.0
            self._prefix_latency.clear()
            self._errors.clear()
