"""New run, Plan, and Dispatch dialogs. They gather input; the controller acts."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.planning import PlanGenerationError, validate_answer, waves
from pmdesk.models import ExecutorKind, Plan, TaskState
from pmdesk.store import RunSummary
from pmdesk.ui.models.tables import parse_ts


class NewRunDialog(QDialog):
    def __init__(self, executors: list[str], default_executor: str | None, default_model: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("New run"))
        self.resize(560, 320)
        form = QFormLayout(self)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText(self.tr("What should the agent do?"))
        form.addRow(self.tr("Prompt"), self.prompt)
        self.executor = QComboBox()
        self.executor.addItem(self.tr("Automatic"), None)
        for name in executors:
            self.executor.addItem(name, name)
        if default_executor:
            self.executor.setCurrentIndex(max(0, self.executor.findData(default_executor)))
        form.addRow(self.tr("Executor"), self.executor)
        self.model = QLineEdit()
        self.model.setPlaceholderText(default_model)
        form.addRow(self.tr("Model"), self.model)
        self.command = QLineEdit()
        self.command.setPlaceholderText("aider --yes --message {prompt}")
        form.addRow(self.tr("Command template"), self.command)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Start run"))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.executor.currentIndexChanged.connect(self._executor_changed)
        self._executor_changed()

    def _executor_changed(self) -> None:
        self.command.setEnabled(self.executor.currentData() == ExecutorKind.COMMAND.value)

    def _accept(self) -> None:
        if self.prompt.toPlainText().strip():
            self.accept()

    def values(self) -> dict[str, Any]:
        executor = self.executor.currentData()
        return {
            "prompt": self.prompt.toPlainText().strip(),
            "executor": ExecutorKind(executor) if executor else None,
            "model": self.model.text().strip() or None,
            "command": self.command.text().strip() or None,
        }


class TaskEditor(QTableWidget):
    """Editable tasks: description, priority, dependencies (task numbers)."""

    HEADERS = ("Description", "Priority", "Depends on (#)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setColumnWidth(1, 70)
        self.setColumnWidth(2, 130)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(True)

    def set_tasks(self, rows: list[tuple[str, int, list[int]]]) -> None:
        self.setRowCount(0)
        for description, priority, deps in rows:
            self.add_task(description, priority, deps)

    def add_task(self, description: str = "", priority: int = 1, deps: list[int] | None = None) -> None:
        row = self.rowCount()
        self.insertRow(row)
        self.setItem(row, 0, QTableWidgetItem(description))
        self.setItem(row, 1, QTableWidgetItem(str(priority)))
        self.setItem(row, 2, QTableWidgetItem(", ".join(str(d) for d in deps or [])))

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.selectedIndexes()}, reverse=True)
        for row in rows:
            self.removeRow(row)
            self._renumber_after_removal(row + 1)

    def _renumber_after_removal(self, removed: int) -> None:
        for row in range(self.rowCount()):
            deps = self._deps(row)
            deps = [d - 1 if d > removed else d for d in deps if d != removed]
            self.item(row, 2).setText(", ".join(map(str, deps)))

    def move(self, delta: int) -> None:
        row = self.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.rowCount():
            return
        a, b = row + 1, target + 1
        texts = [[self.item(r, c).text() for c in range(3)] for r in (row, target)]
        for c in range(3):
            self.item(row, c).setText(texts[1][c])
            self.item(target, c).setText(texts[0][c])
        for r in range(self.rowCount()):  # dependencies follow the tasks they name
            deps = [b if d == a else a if d == b else d for d in self._deps(r)]
            self.item(r, 2).setText(", ".join(map(str, deps)))
        self.setCurrentCell(target, 0)

    def _deps(self, row: int) -> list[int]:
        text = self.item(row, 2).text() if self.item(row, 2) else ""
        out = []
        for part in text.replace(";", ",").split(","):
            part = part.strip().lstrip("#")
            if part:
                out.append(int(part) if part.isdigit() else -1)
        return out

    def answer(self) -> dict[str, Any]:
        """The tasks in the submit_plan format; validated like a model's answer."""
        tasks = []
        for row in range(self.rowCount()):
            description = (self.item(row, 0).text() if self.item(row, 0) else "").strip()
            priority_text = (self.item(row, 1).text() if self.item(row, 1) else "1").strip()
            priority: Any = int(priority_text) if priority_text.lstrip("-").isdigit() else priority_text
            deps = [f"t{d}" for d in self._deps(row)]
            tasks.append({"id": f"t{row + 1}", "description": description, "priority": priority, "dependencies": deps})
        return {"tasks": tasks}


class PlanDialog(QDialog):
    """Pick a packet and a model, generate, review and edit, then save the DRAFT."""

    generateRequested = Signal(str, str)  # packet id, model

    def __init__(self, packets: list[dict[str, Any]], default_model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Plan the follow-up"))
        self.resize(860, 560)
        self.plan: Plan | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.packet = QComboBox()
        for p in packets:
            self.packet.addItem(f"{p['packetId'][:16]} — {(p.get('prompt') or '')[:60]}", p["packetId"])
        form.addRow(self.tr("Inspection packet"), self.packet)
        model_row = QHBoxLayout()
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItem(default_model)
        model_row.addWidget(self.model, 1)
        self.generate_button = QPushButton(self.tr("Generate"))
        self.generate_button.setProperty("primary", True)
        self.generate_button.clicked.connect(self._generate)
        model_row.addWidget(self.generate_button)
        form.addRow(self.tr("Model"), model_row)
        layout.addLayout(form)
        self.status = QLabel(self.tr("Generate a plan with the AI, or write the tasks yourself."))
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.editor = TaskEditor()
        layout.addWidget(self.editor, 1)
        tools = QHBoxLayout()
        for text, slot in ((self.tr("Add task"), lambda: self.editor.add_task()),
                           (self.tr("Remove"), self.editor.remove_selected),
                           (self.tr("Move up"), lambda: self.editor.move(-1)),
                           (self.tr("Move down"), lambda: self.editor.move(1))):
            b = QPushButton(text)
            b.clicked.connect(slot)
            tools.addWidget(b)
        tools.addStretch(1)
        layout.addLayout(tools)
        self.error = QLabel()
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setText(self.tr("Save as DRAFT"))
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def packet_id(self) -> str | None:
        value = self.packet.currentData()
        return str(value) if value else None

    def _generate(self) -> None:
        packet_id = self.packet_id()
        if packet_id is None:
            self.error.setText(self.tr("There is no inspection packet to plan from."))
            return
        self.error.clear()
        self.generate_button.setEnabled(False)
        self.status.setText(self.tr("Asking the model for a plan…"))
        self.generateRequested.emit(packet_id, self.model.currentText().strip())

    def show_generated(self, plan: Plan) -> None:
        self.generate_button.setEnabled(True)
        self.plan = plan
        if plan.gate_result and not plan.gate_result.passed:
            check = plan.gate_result.checks[0]
            self.status.setText(self.tr("Plan generation failed. You can write the tasks yourself."))
            self.error.setText(f"{check.name}: {check.message}")
            return
        numbers = {t.task_id: i + 1 for i, t in enumerate(plan.tasks)}
        self.editor.set_tasks([(t.description, t.priority, [numbers[d] for d in t.dependencies]) for t in plan.tasks])
        self.status.setText(self.tr("%n tasks. Edit them if you like, then save the plan as DRAFT.").replace(
            "%n", str(len(plan.tasks))) + (f"  {plan.summary}" if plan.summary else ""))

    def _save(self) -> None:
        try:
            validate_answer(self.editor.answer())
        except PlanGenerationError as exc:
            self.error.setText(self.tr("The tasks cannot be saved: ") + re.sub(r"\bt(\d+)\b", r"#\1", str(exc)))
            return
        self.accept()

    def answer(self) -> dict[str, Any]:
        return self.editor.answer()


@dataclass
class Estimate:
    runs: int
    waves: int
    peak: int
    tokens: str
    cost: str
    time: str


def estimate(plan: Plan, parallel: bool, limit: int, history: list[RunSummary]) -> Estimate:
    """From the plan's shape and the project's finished runs; "unknown" without history."""
    graph = {t.task_id: list(t.dependencies) for t in plan.tasks}
    levels = waves(graph)
    limit = limit if parallel else 1
    peak = min(limit, max((len(w) for w in levels), default=0))
    done = [r for r in history if r.status == TaskState.COMPLETE and r.task_run_id is None]
    n = len(plan.tasks)
    tokens = [r.total_tokens for r in done if r.total_tokens]
    costs = [r.cost_usd for r in done if r.cost_usd is not None]
    durations = []
    for r in done:
        a, b = parse_ts(r.started_at), parse_ts(r.ended_at)
        if a and b:
            durations.append((b - a).total_seconds())
    unknown = "unknown"
    token_text = f"≈ {int(statistics.mean(tokens) * n):,} tokens (from {len(tokens)} past runs)" if tokens else unknown
    cost_text = f"≈ ${statistics.mean(costs) * n:.2f} (from {len(costs)} past runs)" if costs else unknown
    if durations:
        per = statistics.mean(durations)
        rounds = sum(-(-len(w) // max(1, limit)) for w in levels) if parallel else n
        seconds = per * rounds
        time_text = f"≈ {seconds / 60:.1f} min ({rounds} rounds of ≈ {per:.0f} s)"
    else:
        time_text = unknown
    return Estimate(runs=n, waves=len(levels), peak=peak, tokens=token_text, cost=cost_text, time=time_text)


class DispatchDialog(QDialog):
    def __init__(self, plan: Plan, concurrency: int, history: list[RunSummary], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Dispatch plan"))
        self.plan = plan
        self.history = history
        form = QFormLayout(self)
        form.addRow(QLabel(self.tr("Start the plan's %n tasks as agent runs in the project.").replace(
            "%n", str(len(plan.tasks)))))
        self.parallel = QCheckBox(self.tr("Run tasks in parallel (dependencies still come first)"))
        self.parallel.setChecked(True)
        form.addRow(self.parallel)
        self.limit = QSpinBox()
        self.limit.setRange(1, 32)
        self.limit.setValue(concurrency)
        form.addRow(self.tr("At most at once"), self.limit)
        self.labels: dict[str, QLabel] = {}
        for key, title in (("runs", self.tr("Runs")), ("waves", self.tr("Waves (dependency levels)")),
                           ("peak", self.tr("Agents at once, at most")), ("tokens", self.tr("Tokens")),
                           ("cost", self.tr("Cost")), ("time", self.tr("Time"))):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(title, label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Dispatch"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.parallel.toggled.connect(self._update)
        self.limit.valueChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.limit.setEnabled(self.parallel.isChecked())
        e = estimate(self.plan, self.parallel.isChecked(), self.limit.value(), self.history)
        for key in ("runs", "waves", "peak", "tokens", "cost", "time"):
            self.labels[key].setText(str(getattr(e, key)))

    def values(self) -> dict[str, Any]:
        return {"parallel": self.parallel.isChecked(), "max_parallel": self.limit.value()}
