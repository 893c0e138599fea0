"""A week at a glance: every job's runs over the next 7 days on one grid, so collisions show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

HEAVY_COLOUR = "#c62828"
LIGHT_COLOUR = "#1565c0"


@dataclass(frozen=True)
class WeekRow:
    """One job: its label, whether it is heavy (backups), and its run times (aware, any zone)."""

    label: str
    runs: tuple[datetime, ...]
    heavy: bool = False


class ScheduleWeekView(QWidget):
    """Seven day columns, one row per job, a tick per run, in UTC (Longhorn's clock).

    Hours where two or more heavy jobs run are shaded, because that is where backups collide.
    """

    LABEL_WIDTH = 170
    ROW_HEIGHT = 22
    HEADER_HEIGHT = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scheduleWeekView")
        self.setAccessibleName("Runs over the next seven days")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._rows: tuple[WeekRow, ...] = ()
        self._start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def set_rows(self, rows: Sequence[WeekRow], start: datetime) -> None:
        """Show ``rows`` over the 7 days from ``start`` (truncated to midnight UTC)."""
        self._rows = tuple(rows)
        self._start = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.updateGeometry()
        self.update()

    def rows(self) -> tuple[WeekRow, ...]:
        return self._rows

    def collisions(self) -> list[datetime]:
        """Start of each hour (UTC) in the week where two or more heavy jobs run."""
        counts: dict[datetime, set[str]] = {}
        end = self._start + timedelta(days=7)
        for row in self._rows:
            if not row.heavy:
                continue
            for run in row.runs:
                run = run.astimezone(UTC)
                if self._start <= run < end:
                    counts.setdefault(run.replace(minute=0, second=0, microsecond=0), set()).add(row.label)
        return sorted(hour for hour, labels in counts.items() if len(labels) > 1)

    def sizeHint(self) -> QSize:
        return QSize(900, self.HEADER_HEIGHT + max(1, len(self._rows)) * self.ROW_HEIGHT + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(400, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        grid_left = self.LABEL_WIDTH
        grid_width = max(1, self.width() - grid_left - 4)
        day_width = grid_width / 7
        total = timedelta(days=7).total_seconds()
        height = self.HEADER_HEIGHT + len(self._rows) * self.ROW_HEIGHT

        def x_of(moment: datetime) -> float:
            return grid_left + (moment - self._start).total_seconds() / total * grid_width

        shade = QColor(HEAVY_COLOUR)
        shade.setAlpha(40)
        for hour in self.collisions():
            painter.fillRect(
                QRectF(x_of(hour), self.HEADER_HEIGHT, max(2.0, grid_width / 168), height), shade
            )

        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        bold = QFont(self.font())
        bold.setBold(True)
        for day in range(8):
            x = grid_left + day * day_width
            painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.setFont(bold)
        for day in range(7):
            label = (self._start + timedelta(days=day)).strftime("%a %d %b")
            painter.drawText(
                QRectF(grid_left + day * day_width, 0, day_width, self.HEADER_HEIGHT),
                Qt.AlignmentFlag.AlignCenter,
                label,
            )
        painter.drawText(
            QRectF(4, 0, grid_left - 8, self.HEADER_HEIGHT), Qt.AlignmentFlag.AlignVCenter, "UTC"
        )
        painter.setFont(self.font())
        end = self._start + timedelta(days=7)
        for index, row in enumerate(self._rows):
            top = self.HEADER_HEIGHT + index * self.ROW_HEIGHT
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(
                QRectF(4, top, grid_left - 8, self.ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                painter.fontMetrics().elidedText(row.label, Qt.TextElideMode.ElideRight, grid_left - 8),
            )
            painter.setPen(QColor(HEAVY_COLOUR if row.heavy else LIGHT_COLOUR))
            for run in row.runs:
                run = run.astimezone(UTC)
                if self._start <= run < end:
                    x = x_of(run)
                    painter.drawLine(QPointF(x, top + 4), QPointF(x, top + self.ROW_HEIGHT - 4))
        painter.end()
