"""Help > About: what this build is made of, for bug reports."""

from __future__ import annotations

from importlib import metadata

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from lhdesk import __version__


def component_versions() -> dict[str, str]:
    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "lhdesk": __version__,
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "kubernetes client": dist("kubernetes"),
        "boto3": dist("boto3"),
    }


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About lhdesk")
        rows = "".join(
            f"<tr><td>{name}</td><td><b>{v}</b></td></tr>" for name, v in component_versions().items()
        )
        text = QLabel(
            "<h3>lhdesk</h3><p>A desktop console for Longhorn admins: system backups, recurring jobs"
            f" and restores, across every cluster in your kubeconfig.</p><table cellspacing=4>{rows}</table>",
            self,
        )
        text.setObjectName("aboutText")
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
