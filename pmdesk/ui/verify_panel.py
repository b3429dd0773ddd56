"""Verify: each gate waiting, running, passed or failed, with its duration and live output."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.notifications import GateProgress
from pmdesk.models import Plan, PlanStatus, check_mark, mark
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.widgets.log_view import LogView

SPINNER = "◐◓◑◒"
MARKS = {"waiting": "…", "passed": mark(True), "failed": mark(False), "skipped": mark(True, skipped=True)}


class VerifyPanel(QDialog):
    def __init__(self, plan_id: str, gate_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan_id = plan_id
        self.verify_run_id: str | None = None
        self.setWindowTitle(self.tr("Verify plan — gate:all"))
        self.resize(760, 520)
        layout = QVBoxLayout(self)
        self.headline = QLabel(self.tr("Running the project's gates…"))
        self.headline.setObjectName("SectionTitle")
        layout.addWidget(self.headline)
        self.table = QTableWidget(len(gate_names), 4)
        self.table.setAccessibleName(self.tr("Gates"))
        self.table.setHorizontalHeaderLabels(["", self.tr("Gate"), self.tr("Duration"), self.tr("Result")])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 30)
        self.table.setColumnWidth(1, 150)
        self.rows: dict[str, int] = {}
        self.states: dict[str, str] = {}
        for row, name in enumerate(gate_names):
            self.rows[name] = row
            self.states[name] = "waiting"
            for col, text in enumerate((MARKS["waiting"], name, "", "")):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.log = LogView()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.log)
        layout.addWidget(split, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self._frame = 0
        self._spin = QTimer(self)
        self._spin.setInterval(150)
        self._spin.timeout.connect(self._animate)
        self._spin.start()

    def bind(self, bridge: EngineBridge) -> None:
        """Follow the plan's gates and its verify run's output."""
        bridge.gateProgress.connect(self.on_progress)
        bridge.plansChanged.connect(self._plans_changed)
        bridge.logLines.connect(self._log_lines)

    def _plans_changed(self, _project_id: str, plans: list[Plan]) -> None:
        for plan in plans:
            if plan.plan_id == self.plan_id and plan.verify_run_id:
                self.verify_run_id = plan.verify_run_id

    def _log_lines(self, run_id: str, events: list[dict[str, Any]]) -> None:
        if run_id == self.verify_run_id:
            self.log.append_events(events)

    def _cell(self, row: int, column: int) -> QTableWidgetItem:
        item = self.table.item(row, column)
        assert item is not None  # every cell was made in __init__
        return item

    def is_running(self) -> bool:
        return self._spin.isActive()

    def state_of(self, gate: str) -> str:
        return self.states.get(gate, "")

    def on_progress(self, updates: list[GateProgress]) -> None:
        for update in updates:
            if update.plan_id != self.plan_id or update.gate not in self.rows:
                continue
            row = self.rows[update.gate]
            self.states[update.gate] = update.state
            self._cell(row, 0).setText(MARKS.get(update.state, SPINNER[0]))
            if update.duration_ms is not None:
                self._cell(row, 2).setText(f"{update.duration_ms} ms")
            if update.message:
                self._cell(row, 3).setText(update.message)
                self._cell(row, 3).setToolTip(update.message)

    def _animate(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        for gate, state in self.states.items():
            if state == "running":
                self._cell(self.rows[gate], 0).setText(SPINNER[self._frame])

    def finished_with(self, plan: Plan) -> None:
        self._spin.stop()
        if plan.gate_result:
            for check in plan.gate_result.checks:
                row = self.rows.get(check.name)
                if row is None:
                    continue
                self.states[check.name] = "skipped" if check.skipped else ("passed" if check.passed else "failed")
                self._cell(row, 0).setText(check_mark(check))
                self._cell(row, 2).setText(f"{check.duration} ms" if check.duration is not None else "")
                self._cell(row, 3).setText(check.message)
        verdict = {PlanStatus.VERIFIED: self.tr("VERIFIED — every gate passed."),
                   PlanStatus.FAILED: self.tr("FAILED — see the failed gates. Nothing is retried automatically."),
                   PlanStatus.CANCELLED: self.tr("Cancelled.")}.get(plan.status, plan.status.value)
        self.headline.setText(verdict)

