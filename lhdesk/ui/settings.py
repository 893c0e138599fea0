"""A typed facade over QSettings (INI, user scope).

Every option is declared once, with its key, type and default; values are converted on read,
because an INI file gives back strings. Persisted UI state (geometry, column widths) lives in
the ``state/`` group, preferences in ``prefs/``. Nothing secret is ever stored here.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar, overload

from PySide6.QtCore import QByteArray, QSettings

T = TypeVar("T")


class Option(Generic[T]):
    """A typed QSettings entry, used as a descriptor on :class:`Settings`."""

    def __init__(self, key: str, default: T) -> None:
        self.key = key
        self.default = default

    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, obj: Settings, owner: type) -> T: ...
    def __get__(self, obj: Settings | None, owner: type) -> Option[T] | T:
        if obj is None:
            return self
        raw = obj.qsettings.value(self.key)
        if raw is None:
            return self.default
        return self.convert(raw)

    def __set__(self, obj: Settings, value: T) -> None:
        obj.qsettings.setValue(self.key, self.store(value))

    def convert(self, raw: Any) -> T:
        return raw  # type: ignore[no-any-return]

    def store(self, value: T) -> Any:
        return value


class StrOption(Option[str]):
    def convert(self, raw: Any) -> str:
        return str(raw)


class BytesOption(Option[QByteArray]):
    def convert(self, raw: Any) -> QByteArray:
        return raw if isinstance(raw, QByteArray) else QByteArray()


class JsonOption(Option[dict[str, str]]):
    """A small string mapping, stored as JSON text so the INI file stays readable."""

    def convert(self, raw: Any) -> dict[str, str]:
        try:
            value = json.loads(str(raw))
        except ValueError:
            return dict(self.default)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else dict(self.default)

    def store(self, value: dict[str, str]) -> str:
        return json.dumps(value, sort_keys=True)


class Settings:
    """lhdesk's settings. Tests point QSettings at a temp dir (see tests/conftest.py)."""

    window_geometry = BytesOption("state/window_geometry", QByteArray())
    window_state = BytesOption("state/window_state", QByteArray())
    last_page = StrOption("state/last_page", "")
    activity_level = StrOption("prefs/activity_level", "INFO")
    last_context = StrOption("state/last_context", "")
    #: Context name -> "#rrggbb", the chip that tells production from test.
    context_colours = JsonOption("prefs/context_colours", {})

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings if qsettings is not None else QSettings()

    def sync(self) -> None:
        self.qsettings.sync()
