"""An Inspection Packet to read: its Markdown rendered, with Copy as Markdown and Export."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


class PacketDialog(QDialog):
    """Signals:
        exportWanted(path, as_json): the user chose where to save the packet, and how.
    """

    exportWanted = Signal(str, bool)

    def __init__(self, packet_id: str, markdown: str, heading: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.packet_id = packet_id
        self.markdown = markdown
        self.setWindowTitle(self.tr("Inspection packet %1").replace("%1", packet_id))
        self.resize(820, 640)
        self.setMinimumSize(480, 320)
        layout = QVBoxLayout(self)
        title = QLabel(heading)
        title.setObjectName("SectionTitle")
        title.setWordWrap(True)
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(title)
        self.view = QTextBrowser()
        self.view.setObjectName("PacketView")
        self.view.setOpenExternalLinks(False)
        self.view.setMarkdown(markdown)
        self.view.setAccessibleName(self.tr("Packet content"))
        layout.addWidget(self.view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton(self.tr("Copy as Markdown"))
        self.copy_button.setToolTip(self.tr("Copy the whole packet as Markdown (Ctrl+Shift+C)"))
        self.copy_button.clicked.connect(self.copy_markdown)
        self.export_button = QPushButton(self.tr("Export…"))
        self.export_button.setToolTip(self.tr("Save the packet as Markdown or JSON (Ctrl+S)"))
        self.export_button.clicked.connect(self.choose_export)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        QShortcut(QKeySequence("Ctrl+Shift+C"), self, self.copy_markdown)
        QShortcut(QKeySequence.StandardKey.Save, self, self.choose_export)
        self.file_dialog: QFileDialog | None = None
        self.view.setFocus()

    def copy_markdown(self) -> None:
        QGuiApplication.clipboard().setText(self.markdown)

    def choose_export(self) -> None:
        dialog = QFileDialog(self, self.tr("Export packet"), f"{self.packet_id}.md")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters([self.tr("Markdown (*.md)"), self.tr("JSON (*.json)")])
        dialog.setDefaultSuffix("md")
        dialog.fileSelected.connect(self._chosen)
        self.file_dialog = dialog
        dialog.open()

    def _chosen(self, path: str) -> None:
        if path:
            self.exportWanted.emit(path, path.lower().endswith(".json"))
