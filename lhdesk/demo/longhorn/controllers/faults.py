"""Fault knobs the tests and the demo turn while the simulator runs."""

from __future__ import annotations

import threading
from collections.abc import Callable

# The states a SystemBackup can be made to fail in, and the condition reason Longhorn gives there.
FAILURE_REASONS: dict[str, str] = {
    "CreatingVolumeBackups": "Start",
    "CreatingBackingImageBackups": "Start",
    "Generating": "Generate",
    "Uploading": "Upload",
    "Syncing": "Sync",
}


class SimulatorFaults:
    """Thread-safe switches. Setting one wakes the controllers it concerns.

    - ``backup_target_unavailable``: every backup target probe fails, as if S3 were unreachable.
    - ``fail_system_backup_in``: every SystemBackup fails when it reaches that state.
    - ``fail_system_backup(name, state)``: one named SystemBackup fails in ``state`` (wins over the global).
    """

    def __init__(
        self, backup_target_unavailable: bool = False, fail_system_backup_in: str | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._target_unavailable = backup_target_unavailable
        self._fail_in: str | None = None
        self._fail_by_name: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []
        if fail_system_backup_in is not None:
            self._fail_in = _check_state(fail_system_backup_in)

    def __repr__(self) -> str:
        return (
            f"SimulatorFaults(backup_target_unavailable={self.backup_target_unavailable}, "
            f"fail_system_backup_in={self.fail_system_backup_in!r})"
        )

    @property
    def backup_target_unavailable(self) -> bool:
        with self._lock:
            return self._target_unavailable

    @backup_target_unavailable.setter
    def backup_target_unavailable(self, value: bool) -> None:
        with self._lock:
            self._target_unavailable = bool(value)
        self._notify()

    @property
    def fail_system_backup_in(self) -> str | None:
        with self._lock:
            return self._fail_in

    @fail_system_backup_in.setter
    def fail_system_backup_in(self, state: str | None) -> None:
        checked = _check_state(state) if state is not None else None
        with self._lock:
            self._fail_in = checked
        self._notify()

    def fail_system_backup(self, name: str, state: str) -> None:
        checked = _check_state(state)
        with self._lock:
            self._fail_by_name[name] = checked
        self._notify()

    def clear_system_backup_failure(self, name: str) -> None:
        with self._lock:
            self._fail_by_name.pop(name, None)
        self._notify()

    def system_backup_fails_in(self, name: str, state: str) -> bool:
        with self._lock:
            wanted = self._fail_by_name.get(name, self._fail_in)
        return wanted == state

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


def _check_state(state: str) -> str:
    if state not in FAILURE_REASONS:
        known = ", ".join(FAILURE_REASONS)
        raise ValueError(f"a SystemBackup cannot be made to fail in {state!r}; states: {known}")
    return state
