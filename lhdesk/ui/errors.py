"""Uncaught exceptions, on any thread, end in the log and in a dialog; never in silence.

``install_excepthooks`` replaces ``sys.excepthook`` and ``threading.excepthook``. Both log the
error, then hand it to :class:`ErrorReporter`, whose signal is delivered on the GUI thread,
where an :class:`ErrorDialog` shows a one-line message with the traceback behind "Show Details...".
Qt's own messages are routed into :mod:`logging` by :func:`install_qt_message_handler`.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType

from PySide6.QtCore import QMessageLogContext, QObject, Qt, QtMsgType, Signal, Slot, qInstallMessageHandler
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)
qt_log = logging.getLogger("qt")


@dataclass(frozen=True)
class ErrorReport:
    """What went wrong, in words for a person, plus the details for a bug report."""

    title: str
    message: str
    details: str = ""


def report_from_exception(exc: BaseException, title: str = "Unexpected error") -> ErrorReport:
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = str(exc) or type(exc).__name__
    return ErrorReport(title, message, details)


class ErrorDialog(QMessageBox):
    """A non-modal error box; the traceback is hidden behind the "Show Details..." button."""

    def __init__(self, report: ErrorReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setIcon(QMessageBox.Icon.Critical)
        self.setWindowTitle(f"lhdesk: {report.title}")
        self.setText(report.title)
        self.setInformativeText(report.message)
        if report.details:
            self.setDetailedText(report.details)
        self.setStandardButtons(QMessageBox.StandardButton.Close)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)


class ErrorReporter(QObject):
    """Collects error reports from any thread and shows them on the GUI thread.

    Signals:
        reported(ErrorReport): an error to show; emitted from any thread, delivered queued.
    """

    reported = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dialog_parent: QWidget | None = None
        self.show_dialogs = True
        self._open: set[ErrorDialog] = set()
        self.reported.connect(self._show)

    @Slot(object)
    def _show(self, report: ErrorReport) -> None:
        if not self.show_dialogs:
            return
        dialog = ErrorDialog(report, self.dialog_parent)
        # A parentless dialog would be collected at once; keep it until the user closes it.
        self._open.add(dialog)
        dialog.finished.connect(lambda _result: self._open.discard(dialog))
        dialog.show()

    def report(self, report: ErrorReport) -> None:
        self.reported.emit(report)


def install_excepthooks(reporter: ErrorReporter) -> None:
    """Log every uncaught exception, on the GUI thread or a worker, and show it."""

    def on_exception(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Uncaught exception in %s", where, exc_info=(exc_type, exc, tb))
        exc.__traceback__ = tb
        reporter.report(report_from_exception(exc))

    def main_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        on_exception(exc_type, exc, tb, "the main thread")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            name = args.thread.name if args.thread is not None else "a thread"
            on_exception(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    sys.excepthook = main_hook
    threading.excepthook = thread_hook


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


# Messages Qt prints that say nothing about lhdesk; they are logged at DEBUG only.
_QT_NOISE = (
    # The offscreen platform has no window manager to pass size hints to.
    "This plugin does not support propagateSizeHints()",
)


def _qt_message(msg_type: QtMsgType, context: QMessageLogContext, message: str) -> None:
    level = logging.DEBUG if message in _QT_NOISE else _QT_LEVELS.get(msg_type, logging.WARNING)
    qt_log.log(level, "%s", message)


def install_qt_message_handler() -> None:
    """Route qDebug/qWarning/... into logging, so they reach the Activity panel too."""
    qInstallMessageHandler(_qt_message)
