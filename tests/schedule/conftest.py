"""Fixtures for the scheduler tests: a fake clock, an in-memory SystemBackup API, a store in tmp.

The fake API is for logic only (ordering, adoption, retention choices, recovery bookkeeping).
Everything that talks to a cluster is tested against the demo cluster over HTTPS.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lhdesk.core.errors import AlreadyExists, NotFound
from lhdesk.schedule.store import Store


class FakeClock:
    """Wall and monotonic time that move only when told to."""

    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.mono = 1000.0
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.wall

    def monotonic(self) -> float:
        with self.lock:
            return self.mono

    def advance(self, seconds: float) -> None:
        """Time passes normally: both clocks move."""
        with self.lock:
            self.wall += timedelta(seconds=seconds)
            self.mono += seconds

    def jump(self, seconds: float) -> None:
        """Only the wall clock moves (the machine slept, or the clock was set)."""
        with self.lock:
            self.wall += timedelta(seconds=seconds)


def _selector_matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        if "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


class FakeApi:
    """SystemBackups in memory. A created backup reaches ``final_state`` after ``steps`` watch calls.

    ``fail_next`` makes the next created backups end in Error; ``create_error`` is raised by create.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.objects: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.steps = 2
        self.fail_next = 0
        self.create_error: Exception | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.on_watch: Any = None
        self._progress: dict[str, int] = {}
        self._final: dict[str, str] = {}

    def _bump(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def put(self, name: str, state: str, labels: Mapping[str, str], created: datetime | None = None) -> None:
        """An existing backup, e.g. from an earlier run."""
        obj: dict[str, Any] = {
            "metadata": {
                "name": name,
                "labels": dict(labels),
                "creationTimestamp": (created or self.clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "spec": {"volumeBackupPolicy": "if-not-present"},
            "status": {"state": state},
        }
        if state == "Ready" and created is not None:
            obj["status"]["createdAt"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        if state == "Error":
            obj["status"]["conditions"] = [{"type": "Error", "reason": "Upload", "message": "boom"}]
        self._bump(obj)
        self.objects[name] = obj

    # -- the SystemBackupApi protocol -------------------------------------------------------

    def list(self, plural: str, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        items = [
            copy.deepcopy(o)
            for o in self.objects.values()
            if _selector_matches(label_selector, o["metadata"].get("labels") or {})
        ]
        return items, str(self.version)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        if name not in self.objects:
            raise NotFound(f"SystemBackup '{name}' was not found", name=name)
        return copy.deepcopy(self.objects[name])

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
        if self.create_error is not None:
            raise self.create_error
        name = body["metadata"]["name"]
        if name in self.objects:
            raise AlreadyExists(f"SystemBackup '{name}' already exists.", name=name)
        obj = copy.deepcopy(dict(body))
        obj["metadata"]["creationTimestamp"] = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["status"] = {"state": ""}
        self._bump(obj)
        self.objects[name] = obj
        self.created.append(name)
        self._progress[name] = 0
        if self.fail_next:
            self.fail_next -= 1
            self._final[name] = "Error"
        else:
            self._final[name] = "Ready"
        return copy.deepcopy(obj)

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        if name not in self.objects:
            if missing_ok:
                return None
            raise NotFound(f"SystemBackup '{name}' was not found", name=name)
        self.deleted.append(name)
        return self.objects.pop(name)

    def watch(
        self, plural: str, resource_version: str, timeout_seconds: int, label_selector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        if self.on_watch is not None:
            self.on_watch()
        for name in list(self._progress):
            obj = self.objects.get(name)
            if obj is None or obj["status"]["state"] in ("Ready", "Error"):
                continue
            self._progress[name] += 1
            if self._progress[name] >= self.steps:
                final = self._final[name]
                obj["status"]["state"] = final
                if final == "Ready":
                    obj["status"]["createdAt"] = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
                else:
                    obj["status"]["conditions"] = [
                        {
                            "type": "Error",
                            "reason": "Generate",
                            "message": "failed to generate system backup file",
                        }
                    ]
            else:
                obj["status"]["state"] = "Generating"
            self._bump(obj)
            if _selector_matches(label_selector, obj["metadata"].get("labels") or {}):
                yield "MODIFIED", copy.deepcopy(obj)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 10, 0, 0, 500000, tzinfo=UTC))


@pytest.fixture
def fake_api(clock: FakeClock) -> FakeApi:
    return FakeApi(clock)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path / "data")
    yield s
    s.close()
