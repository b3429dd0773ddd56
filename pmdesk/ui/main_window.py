"""The main window."""

from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QTableWidget, QTableWidgetItem

from pmdesk.engine.engine import Engine


class MainWindow(QMainWindow):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.setWindowTitle("pmdesk")
        self.resize(1100, 700)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Name", "Status", "Path"])
        self.setCentralWidget(self.table)

    async def start(self) -> None:
        self.engine.recover()
        projects = self.engine.projects()
        self.table.setRowCount(len(projects))
        for row, project in enumerate(projects):
            ov = self.engine.overview(project)
            for col, text in enumerate((ov.name, ov.status.value, ov.path)):
                self.table.setItem(row, col, QTableWidgetItem(text))
