"""The page protocol shared by everything listed in the main window's sidebar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


class Page(QWidget):
    """A sidebar page. Subclasses load their data in the background and then call ``mark_loaded``.

    Signals:
        loaded(): the page's data is on screen; ``lhdesk --screenshot`` waits for it.
    """

    loaded = Signal()

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loaded = False
        self.setObjectName(f"{self.name}Page")

    def is_loaded(self) -> bool:
        return self._loaded

    def mark_loaded(self) -> None:
        self._loaded = True
        self.loaded.emit()

    def make_action(
        self,
        text: str,
        name: str,
        tip: str,
        slot: Callable[..., Any],
        shortcut: QKeySequence | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        """An action of this page; its shortcut works while the focus is inside the page."""
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)  # the shortcut's scope: the page and every widget in it
        return action

    def before_screenshot(self) -> None:
        """Load whatever a picture of this page should show beyond what opening it loads."""

    def refresh(self) -> None:
        """Reload the page's data (F5). Pages without remote data have nothing to do."""
        self.mark_loaded()
