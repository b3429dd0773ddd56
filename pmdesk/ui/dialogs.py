"""New run, Plan, and Dispatch dialogs. They gather input; the controller acts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
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

from pmdesk.engine.plans.authoring import Generated
from pmdesk.engine.plans.estimate import DispatchEstimate
from pmdesk.engine.plans.shape import PlanGenerationError, validate_answer
from pmdesk.models import Budget, ExecutorKind, PermissionMode, Plan, cost_text
from pmdesk.store import PacketSummary
from pmdesk.ui.models.tables import executor_name


def tr(text: str) -> str:
    return QCoreApplication.translate("dialogs", text)


class NewRunDialog(QDialog):
    def __init__(self, executors: list[str], default_executor: str | None, default_model: str,
                 parent: QWidget | None = None, git_ok: bool = True) -> None:
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
            self.executor.addItem(executor_name(name), name)
        if default_executor:
            self.executor.setCurrentIndex(max(0, self.executor.findData(default_executor)))
        form.addRow(self.tr("Executor"), self.executor)
        self.model = QLineEdit()
        self.model.setPlaceholderText(default_model)
        form.addRow(self.tr("Model"), self.model)
        self.command = QLineEdit()
        self.command.setPlaceholderText("aider --yes --message {prompt}")
        form.addRow(self.tr("Command template"), self.command)
        self.in_worktree = QCheckBox(self.tr("In a new worktree (its own branch; your checkout stays as it is)"))
        self.in_worktree.setEnabled(git_ok)
        if not git_ok:
            self.in_worktree.setToolTip(self.tr("The project folder is not a git repository with a commit"))
        form.addRow(self.in_worktree)
        self.permission_mode = QComboBox()
        self.permission_mode.addItem(self.tr("The project's (Settings)"), None)
        for mode, text in ((PermissionMode.ASK, self.tr("Ask before every change")),
                           (PermissionMode.ACCEPT_EDITS, self.tr("Accept file edits; commands ask")),
                           (PermissionMode.PLAN, self.tr("Plan first; I approve the plan")),
                           (PermissionMode.BYPASS, self.tr("Bypass: nothing asks (in its own worktree)"))):
            self.permission_mode.addItem(text, mode.value)
        form.addRow(self.tr("Permissions"), self.permission_mode)
        self.in_worktree.toggled.connect(lambda _on: self._bypass_offered())
        self._bypass_offered()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Start run"))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.executor.currentIndexChanged.connect(self._executor_changed)
        self._executor_changed()

    def _executor_changed(self) -> None:
        self.command.setEnabled(self.executor.currentData() == ExecutorKind.COMMAND.value)

    def _bypass_offered(self) -> None:
        """Bypass only for a run in a worktree of its own; unticking the worktree takes it back."""
        isolated = self.in_worktree.isEnabled() and self.in_worktree.isChecked()
        item = self.permission_mode.model().item(self.permission_mode.findData(PermissionMode.BYPASS.value))  # type: ignore[attr-defined]
        item.setEnabled(isolated)
        if not isolated and self.permission_mode.currentData() == PermissionMode.BYPASS.value:
            self.permission_mode.setCurrentIndex(0)

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
            "in_worktree": self.in_worktree.isEnabled() and self.in_worktree.isChecked(),
            "permission_mode": PermissionMode(mode) if (mode := self.permission_mode.currentData()) else None,
        }


class TaskEditor(QTableWidget):
    """Editable tasks: description, priority, dependencies (task numbers)."""

    HEADERS = ("Description", "Priority", "Depends on (#)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setAccessibleName(self.tr("The plan's tasks"))
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

    def _cell(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def _set_cell(self, row: int, column: int, text: str) -> None:
        item = self.item(row, column)
        if item is None:
            self.setItem(row, column, QTableWidgetItem(text))
        else:
            item.setText(text)

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.selectedIndexes()}, reverse=True)
        for row in rows:
            self.removeRow(row)
            self._renumber_after_removal(row + 1)

    def _renumber_after_removal(self, removed: int) -> None:
        for row in range(self.rowCount()):
            deps = self._deps(row)
            deps = [d - 1 if d > removed else d for d in deps if d != removed]
            self._set_cell(row, 2, ", ".join(map(str, deps)))

    def move_row(self, delta: int) -> None:
        row = self.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.rowCount():
            return
        a, b = row + 1, target + 1
        texts = [[self._cell(r, c) for c in range(3)] for r in (row, target)]
        for c in range(3):
            self._set_cell(row, c, texts[1][c])
            self._set_cell(target, c, texts[0][c])
        for r in range(self.rowCount()):  # dependencies follow the tasks they name
            deps = [b if d == a else a if d == b else d for d in self._deps(r)]
            self._set_cell(r, 2, ", ".join(map(str, deps)))
        self.setCurrentCell(target, 0)

    def _deps(self, row: int) -> list[int]:
        text = self._cell(row, 2)
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
            description = self._cell(row, 0).strip()
            priority_text = self._cell(row, 1).strip() or "1"
            priority: Any = int(priority_text) if priority_text.lstrip("-").isdigit() else priority_text
            deps = [f"t{d}" for d in self._deps(row)]
            tasks.append({"id": f"t{row + 1}", "description": description, "priority": priority, "dependencies": deps})
        return {"tasks": tasks}


class PlanDialog(QDialog):
    """Pick a packet and a model, generate, review and edit, then save the DRAFT."""

    generateRequested = Signal(str, str)  # packet id, model
    goalRequested = Signal(str, str)  # goal, model
    fixRequested = Signal(str)  # model: fix tasks for the plan being fixed

    def __init__(self, packets: list[PacketSummary], default_model: str, parent: QWidget | None = None,
                 editing: Plan | None = None, fixing: Plan | None = None) -> None:
        super().__init__(parent)
        self.editing = editing  # a saved DRAFT opened again: Save replaces its tasks
        self.fixing = fixing  # a FAILED plan whose verify the model plans fixes for
        self.generated_packet_id: str | None = None  # the packet the editor's tasks were planned from
        self.setWindowTitle(self.tr("Edit plan %1").replace("%1", editing.plan_id) if editing else
                            self.tr("Plan fixes for %1").replace("%1", fixing.plan_id) if fixing else
                            self.tr("Plan the follow-up"))
        self.resize(860, 560)
        self.model_used: str | None = None  # the model whose answer the editor holds
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.goal = QPlainTextEdit()
        self.goal.setPlaceholderText(self.tr("What should the plan achieve? The model also reads the project's "
                                             "files, README and recent plans. Leave empty to plan the follow-up "
                                             "of an inspected run instead."))
        self.goal.setMaximumHeight(72)
        self.goal.setTabChangesFocus(True)
        if editing is not None and editing.goal:
            self.goal.setPlainText(editing.goal)
        form.addRow(self.tr("Goal"), self.goal)
        self.packet = QComboBox()
        for p in packets:
            self.packet.addItem(f"{p['packetId'][:16]} — {(p.get('prompt') or '')[:60]}", p["packetId"])
        if not packets:
            self.packet.addItem(self.tr("(none yet: Inspect a run to plan its follow-up)"), None)
        form.addRow(self.tr("or Inspection packet"), self.packet)
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
                           (self.tr("Move up"), lambda: self.editor.move_row(-1)),
                           (self.tr("Move down"), lambda: self.editor.move_row(1))):
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
        buttons.button(QDialogButtonBox.StandardButton.Save).setText(
            self.tr("Save DRAFT") if editing else self.tr("Save as DRAFT"))
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)
        if editing is not None:
            found = self.packet.findData(editing.packet_id) if editing.packet_id else -1
            if found >= 0:
                self.packet.setCurrentIndex(found)
            self.model_used = editing.model
            numbers = {t.task_id: i + 1 for i, t in enumerate(editing.tasks)}
            self.editor.set_tasks([(t.description, t.priority, [numbers[d] for d in t.dependencies if d in numbers])
                                   for t in editing.tasks])
            self.status.setText(self.tr("DRAFT plan with %n tasks. Edit them (or generate again), then save; "
                                        "nothing changes until you do.").replace("%n", str(len(editing.tasks))))
        if fixing is not None:
            for field in (self.goal, self.packet):
                form.labelForField(field).hide()
                field.hide()
            self.status.setText(self.tr("Generate asks the model for fix tasks from this plan's failed checks and "
                                        "what it changed; they start from its integration branch. Nothing is saved "
                                        "until you press Save."))
        self.editor.setFocus()

    def packet_id(self) -> str | None:
        value = self.packet.currentData()
        return str(value) if value else None

    def goal_text(self) -> str | None:
        return self.goal.toPlainText().strip() or None

    def _generate(self) -> None:
        if self.fixing is not None:
            self.error.clear()
            self._working(True)
            self.status.setText(self.tr("Inspecting the failed verify and asking the model for fixes… (nothing of "
                                        "the plan is saved until you press Save)"))
            self.fixRequested.emit(self.model.currentText().strip())
            return
        goal, packet_id = self.goal_text(), self.packet_id()
        if goal is None and packet_id is None:
            self.error.setText(self.tr("Write a goal, or inspect a run first to plan its follow-up."))
            return
        self.error.clear()
        self._working(True)
        self.status.setText(self.tr("Asking the model for a plan… (nothing is saved until you press Save)"))
        if goal is not None:
            self.goalRequested.emit(goal, self.model.currentText().strip())
        else:
            assert packet_id is not None
            self.generateRequested.emit(packet_id, self.model.currentText().strip())

    def _working(self, busy: bool) -> None:
        """While the model is asked, neither Generate (a second request) nor Save (half a plan) applies."""
        self.generate_button.setEnabled(not busy)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(not busy)
        save.setToolTip(self.tr("Wait for the model's answer") if busy else "")

    def show_generated(self, generated: Generated) -> None:
        self._working(False)
        if generated.failed is not None:
            result = generated.failed.gate_result
            check = result.checks[0] if result and result.checks else None
            self.generation_failed(f"{check.name}: {check.message}" if check else self.tr("no plan"))
            return
        assert generated.answer is not None
        self.model_used = generated.model
        self.generated_packet_id = generated.packet_id
        tasks = generated.answer.tasks
        numbers = {t.id: i + 1 for i, t in enumerate(tasks)}
        self.editor.set_tasks([(t.description, t.priority, [numbers[d] for d in t.dependencies]) for t in tasks])
        summary = generated.answer.summary
        self.status.setText(self.tr("%n tasks, not saved yet. Edit them if you like, then save the plan as "
                                    "DRAFT.").replace("%n", str(len(tasks))) + (f"  {summary}" if summary else ""))

    def generation_failed(self, message: str) -> None:
        self._working(False)
        self.status.setText(self.tr("Plan generation failed (recorded as a FAILED plan). You can write the tasks "
                                    "yourself."))
        self.error.setText(message)

    def _save(self) -> None:
        try:
            validate_answer(self.editor.answer())
        except PlanGenerationError as exc:
            self.error.setText(self.tr("The tasks cannot be saved: ") + re.sub(r"\bt(\d+)\b", r"#\1", str(exc)))
            return
        self.accept()

    def answer(self) -> dict[str, Any]:
        return self.editor.answer()


def dollars_box(name: str, value: float) -> QDoubleSpinBox:
    """An amount in USD where 0 reads "none" (no budget)."""
    box = QDoubleSpinBox()
    box.setAccessibleName(name)
    box.setRange(0, 1_000_000)
    box.setDecimals(2)
    box.setPrefix("$")
    box.setSpecialValueText(tr("none"))
    box.setValue(value)
    return box


def estimate_texts(e: DispatchEstimate) -> dict[str, str]:
    """The engine's estimate in words; "unknown" where there is no history behind a figure."""
    unknown = tr("unknown")

    like = executor_name(e.executor) + (f", {e.model}" if e.model else "") if e.executor else tr("any agent")

    def basis(n: int) -> str:
        said = tr(" (from 1 similar run: %1)") if n == 1 else tr(" (median of %n similar runs: %1)")
        return said.replace("%n", str(n)).replace("%1", like)

    tokens = f"≈ {e.tokens:,} tokens{basis(e.tokens_basis)}" if e.tokens is not None else unknown
    cost = f"≈ {cost_text(e.cost_usd)}{basis(e.cost_basis)}" if e.cost_usd is not None else unknown
    time = (tr("≈ %1 min (%2 rounds of ≈ %3 s)").replace("%1", f"{e.seconds / 60:.1f}").replace("%2", str(e.rounds))
            .replace("%3", f"{e.seconds_per_run or 0:.0f}") if e.seconds is not None else unknown)
    left = ([cost_text(max(0.0, e.budget_left_usd))] if e.budget_left_usd is not None else []) + \
        ([f"{max(0, e.budget_left_tokens):,} tokens"] if e.budget_left_tokens is not None else [])
    budget = tr("no budget") if not left else tr("%1 left").replace("%1", tr(" and ").join(left))
    if e.over_budget:
        budget += "\n" + tr("Over budget: %1. Dispatch would start nothing.").replace("%1", e.over_budget)
    return {"runs": str(e.runs), "waves": str(e.waves), "peak": str(e.peak), "tokens": tokens, "cost": cost,
            "time": time, "budget": budget}


class DispatchDialog(QDialog):
    """Parallel or not, how many at once, and what that would take (the engine's estimate)."""

    gitInitRequested = Signal()
    clusterWanted = Signal(str)  # the user chose to run on this cluster: ask it what it has free

    def __init__(self, plan: Plan, concurrency: int, estimator: Callable[[bool, int, float | None], DispatchEstimate],
                 parent: QWidget | None = None, no_isolation: str | None = None, cluster: str | None = None,
                 on_cluster: bool = False) -> None:
        """``no_isolation``: why the tasks cannot each get a worktree (the folder is no git repository).
        ``estimator(parallel, limit, plan budget in USD)``: the engine's numbers, quick (no I/O).
        ``cluster``: the Ray cluster chosen in Settings (or the project's), offered beside this machine;
        ``on_cluster``: it is the default."""
        super().__init__(parent)
        self.setWindowTitle(self.tr("Dispatch plan"))
        self.plan = plan
        self.estimator = estimator
        form = QFormLayout(self)
        form.addRow(QLabel(self.tr("Start the plan's %n tasks as agent runs.").replace("%n", str(len(plan.tasks)))))
        self.where = QLabel()
        self.where.setWordWrap(True)
        form.addRow(self.where)
        # Parented now: when isolation works they are never put in the layout, and a parentless
        # widget would be a hidden top-level window of its own, outliving the dialog.
        self.in_place = QCheckBox(self.tr("Run in place instead: one task at a time, in the project folder"), self)
        self.git_init = QPushButton(self.tr("Make it a git repository (one commit of its files)"), self)
        self.git_init.clicked.connect(self.gitInitRequested)
        if no_isolation:
            self.where.setText(self.tr("<b>No isolation:</b> %1").replace("%1", no_isolation.replace("<", "&lt;")))
            form.addRow(self.git_init)
            form.addRow(self.in_place)
        else:
            self.where.setText(self.tr("Each task works in its own git worktree, on its own branch; your checkout "
                                       "is not touched, so you can keep working."))
            self.in_place.hide()
            self.git_init.hide()
        self.run_on = QComboBox()
        self.run_on.setAccessibleName(self.tr("Where the runs execute"))
        self.run_on.addItem(self.tr("This machine"), "local")
        if cluster:
            self.run_on.addItem(self.tr("Ray cluster %1").replace("%1", cluster), cluster)
            self.run_on.setCurrentIndex(1 if on_cluster else 0)
        self.run_on.setEnabled(cluster is not None)
        self.run_on.setToolTip(self.tr("A Ray cluster is chosen in Settings (pmdesk[ray])") if not cluster else "")
        form.addRow(self.tr("Run on"), self.run_on)
        self.cluster_state = QLabel()
        self.cluster_state.setWordWrap(True)
        self.cluster_state.setObjectName("hint")
        form.addRow(self.cluster_state)
        self._cluster_takes: int | None = None  # what the chosen cluster takes at once, once it answered
        self._cluster_problem: str | None = None
        self.parallel = QCheckBox(self.tr("Run tasks in parallel (dependencies still come first)"))
        self.parallel.setChecked(True)
        form.addRow(self.parallel)
        self.limit = QSpinBox()
        self.limit.setRange(1, 32)
        self.limit.setValue(concurrency)
        form.addRow(self.tr("At most at once"), self.limit)
        self.budget = dollars_box(self.tr("Plan budget in USD"), 0.0)
        self.budget.setToolTip(self.tr("What the plan's runs may spend in all; a run that would go over it waits "
                                       "for you (none: only the project's monthly budget counts)"))
        form.addRow(self.tr("Plan budget"), self.budget)
        self.labels: dict[str, QLabel] = {}
        for key, title in (("runs", self.tr("Runs")), ("waves", self.tr("Waves (dependency levels)")),
                           ("peak", self.tr("Agents at once, at most")), ("tokens", self.tr("Tokens")),
                           ("cost", self.tr("Cost")), ("time", self.tr("Time")), ("budget", self.tr("Budget"))):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(title, label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("Dispatch"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.no_isolation = no_isolation
        self.parallel.toggled.connect(self._update)
        self.limit.valueChanged.connect(self._update)
        self.budget.valueChanged.connect(self._update)
        self.in_place.toggled.connect(self._update)
        self.run_on.currentIndexChanged.connect(self._where_changed)
        self._where_changed()

    def on(self) -> str:
        return str(self.run_on.currentData() or "local")

    def _where_changed(self) -> None:
        self._cluster_takes, self._cluster_problem = None, None
        if self.on() != "local":
            self.cluster_state.setText(self.tr("Asking the cluster what it has free…"))
            self._cluster_problem = self.tr("waiting for the cluster's answer")
            self.clusterWanted.emit(self.on())
        else:
            self.cluster_state.setText("")
        self._update()

    def show_cluster(self, address: str, takes: int | None, text: str) -> None:
        """The cluster's answer (``takes`` None: it cannot be used, ``text`` says why)."""
        if address != self.on():
            return  # the user chose elsewhere meanwhile
        self._cluster_takes = takes
        self._cluster_problem = None if takes is not None else text
        self.cluster_state.setText(text)
        self._update()

    def isolation_ready(self) -> None:
        """The folder became a repository: dispatch isolated after all."""
        self.no_isolation = None
        self.where.setText(self.tr("Each task works in its own git worktree, on its own branch; your checkout "
                                   "is not touched, so you can keep working."))
        self.in_place.setChecked(False)
        self.in_place.hide()
        self.git_init.hide()
        self._update()

    def _update(self) -> None:
        in_place = self.in_place.isChecked()
        self.parallel.setEnabled(not in_place)
        if in_place:
            self.parallel.setChecked(False)
        self.limit.setEnabled(self.parallel.isChecked())
        limit = self.limit.value() if self._cluster_takes is None else max(1, min(self.limit.value(),
                                                                                  self._cluster_takes))
        found = self.estimator(self.parallel.isChecked(), limit, self.budget.value() or None)
        texts = estimate_texts(found)
        for key, label in self.labels.items():
            label.setText(texts[key])
        # Running in place is the user's explicit choice; over budget, the engine would start nothing;
        # a cluster runs isolated tasks only, and only once it answered.
        on_cluster = self.on() != "local"
        why = found.over_budget or (self._cluster_problem if on_cluster else None) or \
            (self.tr("a cluster runs isolated tasks only") if on_cluster and in_place else None)
        self.ok.setEnabled((self.no_isolation is None or in_place) and not why)
        self.ok.setToolTip(why or "")

    def values(self) -> dict[str, Any]:
        usd = self.budget.value()
        return {"parallel": self.parallel.isChecked(), "max_parallel": self.limit.value(),
                "in_place": self.no_isolation is not None and self.in_place.isChecked(),
                "budget": Budget(usd=usd) if usd else None, "on": self.on()}


class MergeDialog(QDialog):
    """What merging a plan would bring into the user's branch, and how: merge or squash."""

    def __init__(self, plan: Plan, into_branch: str, fast_forward: bool, files: list[tuple[str, int, int]],
                 needs_force: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Merge plan"))
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        added, removed = sum(f[1] for f in files), sum(f[2] for f in files)
        head = QLabel(self.tr("Bring plan %1 into <b>%2</b>: %3 file(s), +%4 −%5.").replace("%1", plan.plan_id)
                      .replace("%2", into_branch).replace("%3", str(len(files))).replace("%4", str(added))
                      .replace("%5", str(removed)))
        head.setWordWrap(True)
        layout.addWidget(head)
        listing = QTableWidget(len(files), 3)
        listing.setAccessibleName(self.tr("Files the merge brings"))
        listing.setHorizontalHeaderLabels([self.tr("File"), "+", "−"])
        listing.verticalHeader().hide()
        listing.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        listing.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, (path, plus, minus) in enumerate(files):
            for column, text in enumerate((path, f"+{plus}", f"−{minus}")):
                listing.setItem(row, column, QTableWidgetItem(text))
        layout.addWidget(listing, 1)
        self.squash = QCheckBox(self.tr("Squash into one commit"))
        how = self.tr("It fast-forwards (no merge commit).") if fast_forward else \
            self.tr("Your branch has moved since the plan's base: a merge commit joins them.")
        self.how = QLabel(how)
        self.how.setWordWrap(True)
        layout.addWidget(self.how)
        layout.addWidget(self.squash)
        self.force = QCheckBox(self.tr("Merge anyway (%1); the activity records it").replace("%1", needs_force or ""))
        self.force.setVisible(needs_force is not None)
        layout.addWidget(self.force)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("Merge"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.needs_force = needs_force
        self.force.toggled.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.ok.setEnabled(self.needs_force is None or self.force.isChecked())

    def values(self) -> dict[str, Any]:
        return {"squash": self.squash.isChecked(), "force": self.needs_force is not None and self.force.isChecked()}


class RetryDialog(QDialog):
    """Retry a task: what to add to it for this try, and whether its cancelled dependents go too."""

    def __init__(self, number: int, description: str, error: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Retry task #%1").replace("%1", str(number)))
        layout = QVBoxLayout(self)
        said = QLabel(self.tr("<b>#%1</b> %2").replace("%1", str(number)).replace(
            "%2", description.replace("<", "&lt;")[:400]) + (
            "<br><i>" + self.tr("Ended: %1").replace("%1", error.replace("<", "&lt;")[:300]) + "</i>" if error else ""))
        said.setWordWrap(True)
        layout.addWidget(said)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText(self.tr("Add to the task for this try (optional), e.g. use the existing helper"))
        self.extra.setAccessibleName(self.tr("Added to the task for this try"))
        layout.addWidget(self.extra)
        self.dependents = QCheckBox(self.tr("Also the tasks that were cancelled because it failed"))
        self.dependents.setChecked(True)
        layout.addWidget(self.dependents)
        note = QLabel(self.tr("A new run starts in a fresh worktree from the same starting point; the earlier run, "
                              "its branch and its log are kept."))
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Retry"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.extra.setFocus()

    def values(self) -> tuple[str | None, bool]:
        return self.extra.text().strip() or None, self.dependents.isChecked()
