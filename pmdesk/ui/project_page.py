"""One project: its plans and their tasks, its runs and packets, a live log, and answering."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.costs import CostReport, budget_text, family, left
from pmdesk.engine.overview import ProjectOverview
from pmdesk.models import Plan, PlanStatus, PlanTask, Project, Run, TaskState, ToolRequest, check_mark, cost_text
from pmdesk.store import PacketSummary, PlanSummary, RunSummary, StateProblem
from pmdesk.store.summaries import plan_summary, run_summary
from pmdesk.ui.actions import ActionId, mirror
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.dashboard import Banner
from pmdesk.ui.models.record_model import RecordRole
from pmdesk.ui.models.tables import TaskRow, packets_model, plans_model, runs_model, status_text, task_rows, tasks_model
from pmdesk.ui.widgets.badge import AwaitingBadge
from pmdesk.ui.widgets.diff_view import DiffView
from pmdesk.ui.widgets.elided_label import ElidedLabel
from pmdesk.ui.widgets.log_view import LogView
from pmdesk.ui.widgets.request_card import RequestCard
from pmdesk.ui.widgets.tables import RecordTable


def merge_newer(listing: list[Any], live: list[Any], key: str) -> list[Any]:
    merged = {getattr(r, key): r for r in listing}
    for record in live:
        old = merged.get(getattr(record, key))
        if old is None or (record.updated_at or "") >= (old.updated_at or ""):
            merged[getattr(record, key)] = record
    return list(merged.values())


def section(title: str, widget: QWidget, *extra: QWidget, below: QWidget | None = None) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    row = QHBoxLayout()
    label = QLabel(title)
    label.setObjectName("SectionTitle")
    row.addWidget(label)
    row.addStretch(1)
    for w in extra:
        row.addWidget(w)
    layout.addLayout(row)
    layout.addWidget(widget, 1)
    if below is not None:
        layout.addWidget(below)
    return box


class ProjectPage(QWidget):
    """One project's page. Its buttons are the window's actions (``ui.actions``).

    Signals:
        backRequested: the back arrow was clicked.
        answerSubmitted(run_id, text): the user answered the selected run.
        decisionMade(run_id, allow, choices): the user decided what the selected run waits on.
        requestWanted(run_id): the selected run waits on a request this page has not seen.
        runSelected(run_id) / planSelected(plan_id): the selection moved.
        contextChanged: what the actions' rules read changed (selection, plan, packets).
        changesWanted: the Changes tab is showing and its subject (plan or run) may have changed.
        projectShown: another project's page is shown.
        said(text): something the user should read in the status bar.
    """

    backRequested = Signal()
    answerSubmitted = Signal(str, str)  # run id, text
    decisionMade = Signal(str, bool, object)  # run id, allow, choices (Engine.decide's keywords)
    requestWanted = Signal(str)  # run id: its pending request is not known here yet
    runSelected = Signal(str)
    planSelected = Signal(str)
    costWanted = Signal(str)  # plan id: its cost is read off the Qt thread and given back (set_plan_cost)
    contextChanged = Signal()
    changesWanted = Signal()
    projectShown = Signal()
    said = Signal(str)  # a line for the status bar

    def __init__(self, actions: Mapping[ActionId, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.plan: Plan | None = None
        self._plan_costs: dict[str, CostReport] = {}
        self.diff_subject: str | None = None  # what the Changes tab shows: the plan or run selected last
        self.last_selected = "task"  # which of a task row and a run was selected last (what Retry is for)
        self._task_wanted: tuple[str, str] | None = None  # a plan task to select once its plan is read (a search hit)
        self._focus_when_shown: str | None = None  # a run whose card takes the keyboard once its request is read
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)

        # -- header
        head = QHBoxLayout()
        self.back = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "")
        self.back.setToolTip(actions[ActionId.DASHBOARD].toolTip())
        self.back.setAccessibleName(self.tr("Back to the dashboard"))
        self.back.clicked.connect(self.backRequested)
        head.addWidget(self.back)
        titles = QVBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("PageTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("PageSubtitle")
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cost_line = ElidedLabel()
        self.cost_line.setObjectName("PageSubtitle")
        self.cost_line.setAccessibleName(self.tr("What the project's runs cost"))
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        titles.addWidget(self.cost_line)
        head.addLayout(titles)
        self.status_pill = QLabel()
        self.status_pill.setObjectName("StatusPill")
        head.addWidget(self.status_pill, 0, Qt.AlignmentFlag.AlignVCenter)
        self.badge = AwaitingBadge()
        self.badge.hide()
        head.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)

        def button(text: str, action: ActionId, primary: bool = False, spec_visibility: bool = False) -> QPushButton:
            b = QPushButton(text)
            b.setProperty("primary", primary)
            mirror(b, actions[action], hide_when_disabled=spec_visibility)
            head.addWidget(b)
            return b

        # The spec shows Plan, Dispatch and Verify only when they apply; the rest are disabled with a reason.
        self.new_run_button = button(self.tr("New run…"), ActionId.NEW_RUN)
        self.inspect_button = button(self.tr("Inspect"), ActionId.INSPECT)
        self.plan_button = button(self.tr("Plan…"), ActionId.PLAN, primary=True, spec_visibility=True)
        self.dispatch_button = button(self.tr("Dispatch…"), ActionId.DISPATCH, primary=True, spec_visibility=True)
        self.continue_button = button(self.tr("Continue"), ActionId.CONTINUE, spec_visibility=True)
        self.verify_button = button(self.tr("Verify…"), ActionId.VERIFY, primary=True, spec_visibility=True)
        self.fix_button = button(self.tr("Plan fixes…"), ActionId.FIX_PLAN, spec_visibility=True)
        self.merge_button = button(self.tr("Merge…"), ActionId.MERGE, primary=True, spec_visibility=True)
        layout.addLayout(head)

        self.problems_banner = Banner()
        self.problems_banner.hide()
        layout.addWidget(self.problems_banner)

        # -- tables
        self.plans = RecordTable(plans_model(self), stretch=2, widths={0: 110, 1: 60, 3: 90})
        self.plans.selectionModel().selectionChanged.connect(self._plan_selection)
        self.cancel_plan_button = QPushButton(self.tr("Cancel plan"))
        self.cancel_plan_button.setProperty("danger", True)
        mirror(self.cancel_plan_button, actions[ActionId.CANCEL_PLAN])
        self.tasks = RecordTable(tasks_model(self), badge_column=4, stretch=1,
                                 widths={0: 36, 2: 66, 3: 96, 4: 140, 5: 100, 6: 80})
        self.tasks.sort_by(0, Qt.SortOrder.AscendingOrder)
        self.tasks.selectionModel().selectionChanged.connect(self._task_selection)
        self.plan_result = QLabel()
        self.plan_result.setWordWrap(True)
        self.plan_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.conflict = QFrame()  # a merge conflict stopped verify: what, and the three ways on
        self.conflict.setObjectName("ConflictBox")
        conflict_layout = QVBoxLayout(self.conflict)
        conflict_layout.setContentsMargins(8, 6, 8, 6)
        self.conflict_label = QLabel()
        self.conflict_label.setWordWrap(True)
        self.conflict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        conflict_layout.addWidget(self.conflict_label)
        ways = QHBoxLayout()
        conflict_layout.addLayout(ways)
        self.conflict_buttons: list[QPushButton] = []
        for text, action in ((self.tr("Resolve with an agent"), ActionId.RESOLVE_AGENT),
                             (self.tr("Resolve by hand…"), ActionId.RESOLVE_BY_HAND),
                             (self.tr("Leave the task out"), ActionId.LEAVE_OUT)):
            way = QPushButton(text, self.conflict)
            mirror(way, actions[action])
            ways.addWidget(way)
            self.conflict_buttons.append(way)
        ways.addStretch(1)
        self.conflict.hide()
        below_tasks = QWidget()
        below_layout = QVBoxLayout(below_tasks)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.conflict)
        below_layout.addWidget(self.plan_result)

        self.runs = RecordTable(runs_model(self), badge_column=0, stretch=1,
                                widths={0: 140, 2: 110, 3: 80, 4: 75, 5: 75})
        self.runs.selectionModel().selectionChanged.connect(self._run_selection)
        self.cancel_run_button = QPushButton(self.tr("Cancel run"))
        self.cancel_run_button.setProperty("danger", True)
        mirror(self.cancel_run_button, actions[ActionId.CANCEL_RUN])
        self.interrupt_button = QPushButton(self.tr("Interrupt"))
        mirror(self.interrupt_button, actions[ActionId.INTERRUPT_RUN])
        run_buttons = QWidget()
        run_row = QHBoxLayout(run_buttons)
        run_row.setContentsMargins(0, 0, 0, 0)
        run_row.addWidget(self.interrupt_button)
        run_row.addWidget(self.cancel_run_button)
        self.packets = RecordTable(packets_model(self), stretch=1, widths={0: 140, 2: 110, 3: 90})
        self.runs.opened.connect(self._open_run)
        for table, name in ((self.plans, self.tr("Plans")), (self.tasks, self.tr("Tasks of the selected plan")),
                            (self.runs, self.tr("Runs")), (self.packets, self.tr("Inspection packets"))):
            table.setAccessibleName(name)
        self.tasks.opened.connect(self._open_task)
        self.changes = DiffView()
        tabs = QTabWidget()
        tabs.addTab(section(self.tr("Runs"), self.runs, run_buttons), self.tr("Runs"))
        tabs.addTab(section(self.tr("Inspection packets"), self.packets), self.tr("Packets"))
        tabs.addTab(self.changes, self.tr("Changes"))
        tabs.currentChanged.connect(lambda _i: self.changesWanted.emit() if tabs.currentWidget() is self.changes
                                    else None)
        self.tabs = tabs

        self.log = LogView()
        self.question = QFrame()
        self.question.setObjectName("QuestionBox")
        qlayout = QVBoxLayout(self.question)
        self.question_label = QLabel()
        self.question_label.setWordWrap(True)
        self.question_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer = QLineEdit()
        self.answer.setAccessibleName(self.tr("Your answer to the agent"))
        self.answer.setPlaceholderText(self.tr("Type your answer and press Enter"))
        self.answer.returnPressed.connect(self._send_answer)
        qlayout.addWidget(self.question_label)
        arow = QHBoxLayout()
        arow.addWidget(self.answer, 1)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setProperty("primary", True)
        self.send_button.clicked.connect(self._send_answer)
        arow.addWidget(self.send_button)
        qlayout.addLayout(arow)
        self.question.hide()
        self.request_card = RequestCard()
        self.request_card.decided.connect(self._decided)
        below_log = QWidget()
        below_layout = QVBoxLayout(below_log)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.request_card)
        below_layout.addWidget(self.question)
        self.requests: dict[str, ToolRequest | None] = {}  # what each run waits on, from its full record

        self.show_archived = QCheckBox(self.tr("Show archived"))
        self.show_archived.setToolTip(self.tr("Archived plans are left out of this list until you tick this"))
        self.show_archived.toggled.connect(lambda _on: self._filter_plans())
        self._filter_plans()
        left = QSplitter(Qt.Orientation.Vertical)
        self.new_plan_button = QPushButton(self.tr("New plan…"))
        mirror(self.new_plan_button, actions[ActionId.NEW_PLAN])
        left.addWidget(section(self.tr("Plans"), self.plans, self.show_archived, self.new_plan_button,
                               self.cancel_plan_button))
        left.addWidget(section(self.tr("Tasks of the selected plan"), self.tasks, below=below_tasks))
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("RightSplit")
        tabs.setMinimumHeight(96)  # a short window squeezes the tables before the agent's question
        self.log.setMinimumHeight(40)
        right.addWidget(tabs)
        right.addWidget(section(self.tr("Log"), self.log, below=below_log))
        right.setCollapsible(0, False)
        right.setCollapsible(1, False)
        self.right = right
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("ProjectSplit")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1000, 1000])  # halves at first (the user's split is restored on later starts)
        layout.addWidget(self.splitter, 1)
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)
        self.clock.start()

    def _tick(self) -> None:
        """Once a second: a working run's duration and every "… ago" move on."""
        if not self.isVisible():
            return
        self.runs.source.refresh_columns((3, 4), lambda r: not r.status.is_terminal and r.started_at is not None)
        self.plans.source.refresh_columns((3,))

    def bind(self, bridge: EngineBridge) -> None:
        """Listen to the engine for this page's project."""
        bridge.runsChanged.connect(self._runs_changed)
        bridge.plansChanged.connect(self._plans_changed)
        bridge.packetsAdded.connect(self._packets_added)
        bridge.logLines.connect(self._log_lines)

    # -- content ------------------------------------------------------------------------

    def show_project(self, project: Project) -> None:
        self.project = project
        self.plan = None
        self._plan_costs.clear()
        self.title.setText(project.name)
        self.subtitle.setText(project.path)
        self.plans.source.set_records([])
        self.tasks.source.set_records([])
        self.runs.source.set_records([])
        self.packets.source.set_records([])
        self.log.show_run(None, [])
        self.question.hide()
        self.request_card.clear()
        self.requests = {}
        self.plan_result.clear()
        self.conflict.hide()
        self.diff_subject = None
        self.changes.clear_view(self.tr("Select a plan or a run to see what it changed."))
        self.contextChanged.emit()
        self.projectShown.emit()

    def set_overview(self, overview: ProjectOverview) -> None:
        budget = self.project.settings.monthly_budget if self.project is not None else None
        month = overview.cost_month.text()
        if budget is not None and budget.usd is not None:
            month += self.tr(" of a %1 budget").replace("%1", cost_text(budget.usd))
        elif budget is not None and budget.tokens is not None:
            month += self.tr(" (%1 of %2 budget tokens)").replace("%1", f"{overview.cost_month.tokens:,}").replace(
                "%2", f"{budget.tokens:,}")
        self.cost_line.setText(self.tr("Cost today %1 · this month %2 · in all %3").replace(
            "%1", overview.cost_today.text()).replace("%2", month).replace("%3", overview.cost_total.text()))
        self.status_pill.setText(status_text(overview.status))
        self.status_pill.setProperty("status", overview.status.value)
        self.status_pill.style().unpolish(self.status_pill)
        self.status_pill.style().polish(self.status_pill)
        self.badge.setVisible(overview.awaiting > 0)
        self.status_pill.setVisible(overview.awaiting == 0)  # the badge says it already

    def set_problems(self, problems: list[StateProblem]) -> None:
        if not problems:
            self.problems_banner.hide()
            return
        latest = problems[-1]
        self.problems_banner.label.setText(self.tr(
            "%n state file(s) could not be read and were moved aside, so nothing else is affected. "
            "Latest: %1 — %2").replace("%n", str(len(problems))).replace("%1", latest.path).replace("%2", latest.message))
        self.problems_banner.show()

    def set_lists(self, runs: list[RunSummary], plans: list[PlanSummary], packets: list[PacketSummary]) -> None:
        """The listing read in a worker thread, merged with live updates that arrived meanwhile."""
        self.runs.source.set_records(merge_newer(runs, self.runs.source.records(), "run_id"))
        self.runs.sort_by(3)
        self.plans.source.set_records(merge_newer(plans, self.plans.source.records(), "plan_id"))
        self.plans.sort_by(3)
        known = {p["packetId"] for p in packets}
        self.packets.source.set_records(packets + [p for p in self.packets.source.records() if p["packetId"] not in known])
        self.packets.sort_by(3)
        if plans and self.plan is None:
            self.plans.selectRow(0)
        self.contextChanged.emit()

    def _mine(self, project_id: str) -> bool:
        return self.project is not None and self.project.project_id == project_id

    def _runs_changed(self, project_id: str, runs: list[Run]) -> None:
        if self._mine(project_id):
            self.runs_changed(runs)

    def _plans_changed(self, project_id: str, plans: list[Plan]) -> None:
        if self._mine(project_id):
            self.plans_changed(plans)

    def _packets_added(self, project_id: str, packets: list[PacketSummary]) -> None:
        if self._mine(project_id):
            self.packets_changed(packets)

    def _log_lines(self, run_id: str, events: list[dict[str, Any]]) -> None:
        if self.log.run_id == run_id:
            self.log.append_events(events)

    def runs_changed(self, runs: list[Run]) -> None:
        for run in runs:
            self.requests[run.run_id] = run.pending_request
        self.runs.source.upsert([run_summary(r) for r in runs])
        selected = self.selected_run()
        if selected is not None and any(r.run_id == selected.run_id for r in runs):
            self._show_question(selected)
        self.contextChanged.emit()

    def plans_changed(self, plans: list[Plan]) -> None:
        self.plans.source.upsert([plan_summary(p) for p in plans])
        for plan in plans:
            if self.plan is None or plan.plan_id == self.plan.plan_id:
                self.set_plan(plan)
        if self.plans.selected_record() is None and plans:
            self.plans.select_key(plans[-1].plan_id)
        self.contextChanged.emit()

    def packets_changed(self, packets: list[PacketSummary]) -> None:
        self.packets.source.upsert(packets)
        self.contextChanged.emit()

    def set_plan(self, plan: Plan | None) -> None:
        self.plan = plan
        self.tasks.source.set_records(task_rows(plan.tasks) if plan else [])
        if plan is not None and self._task_wanted is not None and plan.plan_id == self._task_wanted[0]:
            self.tasks.select_key(self._task_wanted[1])
            self.tasks.setFocus()
            self._task_wanted = None
        self.plan_result.setText(self._result_text(plan))
        if plan is not None and plan.status != PlanStatus.DRAFT:
            self.costWanted.emit(plan.plan_id)
        self._show_conflict(plan)
        self.contextChanged.emit()
        if self.changes_showing():
            self.changesWanted.emit()

    def set_plan_cost(self, report: CostReport) -> None:
        """The engine's figures for a plan (with its fix plans), shown if the plan still is."""
        if report.plan_id is None:
            return
        self._plan_costs[report.plan_id] = report
        if self.plan is not None and self.plan.plan_id == report.plan_id:
            self.plan_result.setText(self._result_text(self.plan))

    def _filter_plans(self) -> None:
        showing = self.show_archived.isChecked()
        self.plans.proxy.set_filter(None if showing else lambda p: not getattr(p, "archived_at", None))

    def remove_plan(self, plan_id: str) -> None:
        """A deleted plan leaves the list; its tasks' view empties if it was shown."""
        self.plans.source.remove(plan_id)
        if self.plan is not None and self.plan.plan_id == plan_id:
            self.set_plan(None)
        self.contextChanged.emit()

    def changes_showing(self) -> bool:
        return self.tabs.currentWidget() is self.changes

    def show_changes(self) -> None:
        self.tabs.setCurrentWidget(self.changes)

    def set_worktree_usage(self, size: str | None) -> None:
        """The disk the project's worktrees take, beside its path (None: it has none)."""
        if self.project is not None:
            text = self.project.path + (self.tr("  ·  worktrees: %1").replace("%1", size) if size else "")
            self.subtitle.setText(text)
            self.subtitle.setToolTip(text)  # a narrow window cuts the line; the tip keeps all of it

    def _show_conflict(self, plan: Plan | None) -> None:
        found = plan.integration if plan is not None else None
        if plan is None or found is None or found.conflict is None:
            self.conflict.hide()
            return
        clash = found.conflict
        numbers = {t.task_id: n for n, t in enumerate(plan.tasks, 1)}
        others = ", ".join(f"#{numbers.get(t, '?')}" for t in clash.with_task_ids)
        text = self.tr("<b>Merge conflict:</b> task #%1%2 in %3. No gate ran.").replace(
            "%1", str(numbers.get(clash.task_id, "?"))).replace(
            "%2", self.tr(" conflicts with task %1").replace("%1", others) if others else "").replace(
            "%3", ", ".join(f"<code>{f.replace('<', '&lt;')}</code>" for f in clash.files))
        if clash.resolve_run_id:
            text += "<br>" + self.tr("An agent is resolving it (run %1); verify again when it is done.").replace(
                "%1", clash.resolve_run_id)
        self.conflict_label.setText(text)
        self.conflict.show()

    def _cost_text(self, plan: Plan) -> str:
        """The plan's cost (with its fix plans) as the engine last counted it, its budget, and a hold."""
        ids = family(plan.plan_id, self.plans.source.records())
        counted = self._plan_costs.get(plan.plan_id)
        spent = counted.total.text() if counted is not None else "…"
        text = self.tr("Cost %1").replace("%1", spent) + (self.tr(" (with its fix plans)") if len(ids) > 1 else "")
        if plan.budget is not None and plan.budget.is_set() and counted is not None and counted.spent is not None:
            usd, tokens = left(plan.budget, counted.spent)
            parts = ([cost_text(max(0.0, usd))] if usd is not None else []) + \
                ([f"{max(0, tokens):,} tokens"] if tokens is not None else [])
            text += self.tr(" · budget %1, %2 left").replace("%1", budget_text(plan.budget)).replace(
                "%2", self.tr(" and ").join(parts))
        if plan.budget_stop:
            text += "<br><b>" + self.tr("Held: %1. Raise the budget and the plan goes on.").replace(
                "%1", html.escape(plan.budget_stop)) + "</b>"
        return text

    def _result_text(self, plan: Plan | None) -> str:
        chain = self._cost_text(plan) if plan is not None and plan.status != PlanStatus.DRAFT else ""
        if plan is not None and plan.cluster:
            chain += ("<br>" if chain else "") + self.tr("<i>Its runs work on the Ray cluster %1</i> (each run's log "
                                                         "names its node)").replace("%1", html.escape(plan.cluster))
        if plan is not None and plan.parent_plan_id:
            parent = next((p for p in self.plans.source.records() if p.plan_id == plan.parent_plan_id), None)
            chain += ("<br>" if chain else "") + self.tr("<i>Fix of plan %1</i> (it starts from that plan's merged work; merging it merges "
                            "both)").replace("%1", html.escape((parent.summary or parent.plan_id) if parent else plan.parent_plan_id))
        if plan is not None:
            fixes = [p for p in self.plans.source.records() if p.parent_plan_id == plan.plan_id]
            if fixes:
                chain += ("<br>" if chain else "") + self.tr("<i>Fixed by %n plan(s)</i>: %1").replace(
                    "%n", str(len(fixes))).replace("%1", html.escape(", ".join(f.summary or f.plan_id for f in fixes)))
        if plan is None or plan.gate_result is None:
            return chain
        marks = []
        for c in plan.gate_result.checks:
            duration = f" {c.duration} ms" if c.duration is not None else ""
            marks.append(f"{check_mark(c)} {c.name}{duration}: {c.message}")
        verdict = self.tr("Gates passed") if plan.gate_result.passed else self.tr("Failed")
        return (chain + "<br>" if chain else "") + f"<b>{verdict}</b><br>" + \
            "<br>".join(m.replace("<", "&lt;") for m in marks)

    # -- selection and actions ------------------------------------------------------------

    def selected_run(self) -> RunSummary | None:
        record = self.runs.selected_record()
        return record if isinstance(record, RunSummary) else None

    def _run_selection(self) -> None:
        run = self.selected_run()
        self.last_selected = "run"
        if run is not None:
            self.runSelected.emit(run.run_id)
            self._show_question(run)
            self.diff_subject = run.run_id
        self.contextChanged.emit()
        if self.changes_showing():
            self.changesWanted.emit()

    def _show_question(self, run: RunSummary) -> None:
        """What the selected run waits on: a request's card, or the question box for words."""
        if run.status != TaskState.AWAITING_RESPONSE:
            self.question.hide()
            self.request_card.clear()
            return
        if run.run_id not in self.requests:
            self.requestWanted.emit(run.run_id)  # the listing has the question, not the request: read it,
            self.request_card.clear()  # and show the card or the question box then (set_request)
            self.question.hide()
            return
        request = self.requests.get(run.run_id)
        self.request_card.show_request(run.run_id, request)
        if request is not None:
            self.question.hide()
            self._make_room(self.request_card)
            return
        self.question_label.setText(self.tr("<b>The agent asks:</b> ") + (run.question or "").replace("<", "&lt;"))
        self.question.show()
        self._make_room(self.question)
        self.answer.setFocus()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        for asking in (self.request_card, self.question):
            if asking.isVisible():
                self._make_room(asking)

    def _make_room(self, asking: QWidget) -> None:
        """The question and its answer fit on screen: the tables above give way (the log keeps a few lines)."""
        sizes = self.right.sizes()
        if len(sizes) != 2 or sum(sizes) <= 0:
            return
        need = asking.minimumSizeHint().height() + self.log.minimumHeight() + 36  # the Log title and spacing
        if sizes[1] < need:
            total = sum(sizes)
            self.right.setSizes([max(total - need, self.tabs.minimumHeight()), need])

    def select_next_waiting(self) -> bool:
        """Select the next run (in the table's order, after the selected one, wrapping) that waits
        for the user; its card or answer box takes the keyboard. False when none waits here."""
        table = self.runs
        rows = table.proxy.rowCount()
        selected = table.selectionModel().selectedRows() if table.selectionModel() else []
        start = selected[0].row() + 1 if selected else 0
        for step in range(rows - 1 if selected else rows):  # never the selected one again
            row = (start + step) % rows
            record = table.proxy.index(row, 0).data(RecordRole)
            if isinstance(record, RunSummary) and record.status == TaskState.AWAITING_RESPONSE:
                table.selectRow(row)
                self.tabs.setCurrentIndex(0)
                self._take_keyboard(record.run_id)
                return True
        return False

    def _open_run(self, record: object) -> None:
        """Enter or a double-click on a run: to what it needs, its answer, or its log."""
        if not isinstance(record, RunSummary):
            return
        if record.status == TaskState.AWAITING_RESPONSE:
            self._take_keyboard(record.run_id)
        else:
            self.log.setFocus()

    def _take_keyboard(self, run_id: str) -> None:
        """The answer of a waiting run gets the keyboard: its card, or the answer box; a card whose
        request is still being read gets it when it shows."""
        if self.request_card.isVisible():
            self.request_card.take_keyboard()
        elif self.question.isVisible():
            self.answer.setFocus()
        else:
            self._focus_when_shown = run_id

    def _open_task(self, record: object) -> None:
        """A task opens its run: selected on the Runs tab, its log following."""
        if not isinstance(record, TaskRow):
            return
        run_id = record.task.run_id
        if not run_id or self.runs.source.row_of(run_id) is None:
            self.said.emit(self.tr("Task #%1 has no run yet; Dispatch starts it").replace("%1", str(record.number))
                           if not run_id else self.tr("Run %1 is not listed yet").replace("%1", run_id))
            return
        self.tabs.setCurrentIndex(0)
        self.runs.select_key(run_id)
        self.runs.setFocus()

    def show_plan(self, plan_id: str, task_id: str | None = None) -> None:
        """Select the plan (an archived one too); its task is selected once the plan is read."""
        row = self.plans.source.row_of(plan_id)
        if row is not None and getattr(self.plans.source.record(row), "archived_at", None):
            self.show_archived.setChecked(True)
        self._task_wanted = (plan_id, task_id) if task_id else None
        if self.plan is not None and self.plan.plan_id == plan_id:
            self.set_plan(self.plan)  # shown already: selecting it again would change nothing
        self.plans.select_key(plan_id)

    def show_run(self, run_id: str) -> None:
        """Select the run on the Runs tab (its log follows); if it waits, its answer takes the keyboard."""
        self.tabs.setCurrentIndex(0)
        self.runs.select_key(run_id)
        record = self.selected_run()
        if record is not None and record.run_id == run_id:
            self._open_run(record)

    def set_request(self, run: Run) -> None:
        """The full record of a run, read for its pending request."""
        self.requests[run.run_id] = run.pending_request
        selected = self.selected_run()
        if selected is not None and selected.run_id == run.run_id:
            self._show_question(selected)
            if self._focus_when_shown == run.run_id:
                self._focus_when_shown = None
                self._take_keyboard(run.run_id)

    def _decided(self, allow: bool, choices: dict[str, Any]) -> None:
        run_id = self.request_card.run_id
        if run_id is not None:
            self.decisionMade.emit(run_id, allow, choices)
            self.request_card.clear()

    def _plan_selection(self) -> None:
        record = self.plans.selected_record()
        if isinstance(record, PlanSummary):
            self.diff_subject = record.plan_id
            self.planSelected.emit(record.plan_id)

    def _task_selection(self) -> None:
        """A task's changes are its run's: the Changes tab follows."""
        record = self.tasks.selected_record()
        if isinstance(record, TaskRow) and record.task.run_id:
            self.diff_subject = record.task.run_id
            if self.changes_showing():
                self.changesWanted.emit()
        self.last_selected = "task"
        self.contextChanged.emit()  # Retry task follows the selection

    def task_to_retry(self) -> PlanTask | None:
        """The task a Retry is for: of the task row and the run selected, the one selected last
        (a run: its task in the shown plan)."""
        if self.plan is None:
            return None
        record = self.tasks.selected_record()
        run = self.selected_run()
        of_run = None
        if run is not None and run.plan_id == self.plan.plan_id:
            of_run = next((t for t in self.plan.tasks if run.run_id in (t.run_id, *(t.run_ids or []))), None)
        of_row = record.task if isinstance(record, TaskRow) else None
        return (of_run or of_row) if self.last_selected == "run" else (of_row or of_run)

    def has_packets(self) -> bool:
        return self.packets.source.rowCount() > 0

    def _send_answer(self) -> None:
        run = self.selected_run()
        text = self.answer.text().strip()
        if run is None or not text:
            return
        self.answerSubmitted.emit(run.run_id, text)
        self.answer.clear()
        self.question.hide()

