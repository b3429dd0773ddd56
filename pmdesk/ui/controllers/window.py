"""The window's wiring: each action to its feature controller, actions enabled by their rules,
the status line, quitting, About. No feature logic lives here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from pmdesk import __version__
from pmdesk.engine.plans.rules import PlanAction, retry_verdict
from pmdesk.ui.actions import ActionId, UiState, apply_state
from pmdesk.ui.controllers.packets import PacketsController
from pmdesk.ui.controllers.plans import PlansController
from pmdesk.ui.controllers.projects import ProjectsController
from pmdesk.ui.controllers.review import ReviewController
from pmdesk.ui.controllers.runs import RunsController
from pmdesk.ui.controllers.search import SearchController
from pmdesk.ui.controllers.settings import SettingsController
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.widgets.tables import MenuExtra, copy_text


class WindowController(QObject):
    def __init__(self, shell: Shell, projects: ProjectsController, runs: RunsController, plans: PlansController,
                 settings: SettingsController, review: ReviewController, packets: PacketsController,
                 search: SearchController) -> None:
        super().__init__(shell)
        self.shell = shell
        self.settings = settings
        self.quit_box: QMessageBox | None = None
        window, page = shell.window, shell.page
        slots = {
            ActionId.ADD_PROJECT: projects.add_project_dialog, ActionId.SETTINGS: settings.settings_dialog,
            ActionId.QUIT: window.close, ActionId.OPEN_PROJECT: projects.open_selected,
            ActionId.NEW_RUN: runs.new_run_dialog, ActionId.INSPECT: runs.inspect,
            ActionId.PLAN: lambda: plans.plan_dialog(), ActionId.EDIT_PLAN: plans.edit_plan,
            ActionId.NEW_PLAN: lambda: plans.plan_dialog(from_goal=True),
            ActionId.DISPATCH: plans.dispatch_dialog,
            ActionId.CONTINUE: plans.continue_plan, ActionId.VERIFY: plans.verify,
            ActionId.CANCEL_PLAN: plans.cancel_plan, ActionId.CANCEL_RUN: runs.cancel_run, ActionId.INTERRUPT_RUN: runs.interrupt,
            ActionId.REMOVE_PROJECT: projects.remove_project, ActionId.DASHBOARD: self.show_dashboard,
            ActionId.REFRESH: projects.refresh, ActionId.ABOUT: self.about,
            ActionId.MERGE: review.merge, ActionId.MERGE_ANYWAY: review.merge, ActionId.REBASE: plans.rebuild, ActionId.RESOLVE_AGENT: review.resolve_with_agent,
            ActionId.RESOLVE_BY_HAND: review.resolve_by_hand, ActionId.LEAVE_OUT: review.leave_out,
            ActionId.CLEAN_PLAN: review.clean_plan, ActionId.SHOW_CHANGES: review.show_changes,
            ActionId.RETRY_TASK: plans.retry_task, ActionId.FIX_PLAN: plans.fix_plan, ActionId.ARCHIVE_PLAN: lambda: plans.archive_plan(True),
            ActionId.RESTORE_PLAN: lambda: plans.archive_plan(False), ActionId.DELETE_PLAN: plans.delete_plan,
            ActionId.NEXT_WAITING: projects.next_waiting, ActionId.SEARCH: search.open_search,
        }
        for action_id, slot in slots.items():
            window.actions_by_id[action_id].triggered.connect(slot)
        page.backRequested.connect(self.show_dashboard)
        page.badge.clicked.connect(projects.next_waiting)
        page.contextChanged.connect(self.update_actions)
        shell.dashboard.selectionChanged.connect(self.update_actions)
        shell.contextChanged.connect(self.update_actions)
        shell.bridge.runsChanged.connect(self.update_actions)
        shell.bridge.plansChanged.connect(self.update_actions)
        window.quit_guard = self.confirm_quit
        runs.packetMade.connect(packets.open_packet)
        page.said.connect(lambda text: shell.status(text, 8000))
        page.plans.opened.connect(lambda _record: self.open_plan(plans))
        self._table_menus(packets)
        self.update_actions()

    def _table_menus(self, packets: PacketsController) -> None:
        """Each table's context menu: Open, the window's actions for the row, and copying it."""
        act, page = self.shell.window.actions_by_id, self.shell.page

        def copier(what: str, value: Callable[[Any], str]) -> MenuExtra:
            def copy(record: Any) -> None:
                copy_text(value(record))
                self.shell.status(self.tr("Copied %1").replace("%1", what), 4000)
            return (self.tr("Copy %1").replace("%1", what), copy)

        page.runs.set_menu(self.tr("Open"), [act[ActionId.INSPECT], act[ActionId.SHOW_CHANGES], None,
                                             act[ActionId.INTERRUPT_RUN], act[ActionId.CANCEL_RUN],
                                             act[ActionId.RETRY_TASK]],
                           [copier(self.tr("run id"), lambda r: r.run_id), copier(self.tr("prompt"), lambda r: r.prompt)])
        page.plans.set_menu(self.tr("Open"), [act[a] for a in (
            ActionId.EDIT_PLAN, ActionId.DISPATCH, ActionId.CONTINUE, ActionId.VERIFY, ActionId.FIX_PLAN, ActionId.MERGE,
            ActionId.MERGE_ANYWAY, ActionId.REBASE)] + [None, act[ActionId.SHOW_CHANGES], act[ActionId.CLEAN_PLAN],
                                                        act[ActionId.CANCEL_PLAN], None, act[ActionId.ARCHIVE_PLAN],
                                                        act[ActionId.RESTORE_PLAN], act[ActionId.DELETE_PLAN]],
                            [copier(self.tr("plan id"), lambda p: p.plan_id)])
        page.tasks.set_menu(self.tr("Go to its run"), [act[ActionId.SHOW_CHANGES], act[ActionId.RETRY_TASK]],
                            [copier(self.tr("task id"), lambda t: t.task.task_id),
                             copier(self.tr("description"), lambda t: t.task.description)])
        page.packets.set_menu(self.tr("Open packet"), [act[ActionId.PLAN]], [
            (self.tr("Copy as Markdown"), lambda p: packets.copy_markdown(p["packetId"])),
            copier(self.tr("packet id"), lambda p: p["packetId"])])
        self.shell.dashboard.table.set_menu(self.tr("Open project"), [act[ActionId.REMOVE_PROJECT]],
                                            [copier(self.tr("path"), lambda o: o.path)])

    def open_plan(self, plans: PlansController) -> None:
        """Enter or a double-click on a plan: a DRAFT opens in the editor, any other shows its tasks."""
        plan = self.shell.page.plan
        if plan is not None and self.shell.engine.plans.allowed(plan)[PlanAction.EDIT].allowed:
            plans.edit_plan()
        else:
            self.shell.page.tasks.setFocus()

    def show_dashboard(self) -> None:
        self.shell.window.show_dashboard()
        self.update_actions()

    def state(self) -> UiState:
        shell = self.shell
        plan = shell.page.plan
        on_page = shell.window.on_project_page()
        task = shell.page.task_to_retry()
        return UiState(on_project_page=on_page, dashboard_selection=shell.dashboard.selected_project_id(),
                       project=shell.project if on_page else None, run=shell.page.selected_run(), plan=plan,
                       plan_verdicts={a.value: v for a, v in shell.engine.plans.allowed(plan).items()} if plan else {},
                       retry=retry_verdict(plan, task.task_id, shell.engine.plans.is_live(plan.plan_id))
                       if plan is not None and task is not None else None,
                       has_packets=shell.page.has_packets(),
                       awaiting=sum(o.awaiting for o in shell.dashboard.model.records()))

    def update_actions(self) -> None:
        apply_state(self.shell.window.actions_by_id, self.state())
        self._update_status()

    def _update_status(self) -> None:
        records = self.shell.dashboard.model.records()
        running = sum(o.running for o in records)
        awaiting = sum(o.awaiting for o in records)
        jobs = len(self.shell.engine.plans.jobs)
        parts = [self.tr("%n running").replace("%n", str(running)),
                 self.tr("%n awaiting a response").replace("%n", str(awaiting))]
        if jobs:
            parts.append(self.tr("%n plan(s) in progress").replace("%n", str(jobs)))
        if self.settings.local_api.url:
            parts.append(self.tr("API %1").replace("%1", self.settings.local_api.url))
        self.shell.window.engine_status.setText(" · ".join(parts))

    def about(self) -> None:
        self.shell.inform(self.tr("About pmdesk"), self.tr(
            "<b>pmdesk %1</b><br>Run AI coding agents on your projects: Inspect → Plan → Dispatch → Verify → "
            "Record.<br>State lives in each project's .claude/state.").replace("%1", __version__))

    def confirm_quit(self) -> bool:
        """True when closing must wait for the user's choice: leave the working runs working (pmdesk
        goes on without its window until they end), end them, or stay."""
        working, plans = self.shell.engine.work_in_hand()
        if not working and not plans:
            return False
        window = self.shell.window
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Quit pmdesk?"), self.tr(
            "%n run(s) are still working%p.\n\nLeave them working: the window closes, and pmdesk goes on without it "
            "until they (and their plans) are done. Open pmdesk again to follow and answer them.\n\n"
            "End them: their records say that pmdesk stopped. Runs waiting for an answer stay answerable either way."
        ).replace("%n", str(working)).replace("%p", self.tr(", and %1 plan(s) have tasks to start").replace(
            "%1", str(plans)) if plans else ""), QMessageBox.StandardButton.NoButton, window)
        leave = box.addButton(self.tr("Leave them working"), QMessageBox.ButtonRole.AcceptRole)
        end = box.addButton(self.tr("End them and quit"), QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton(self.tr("Keep pmdesk open"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(leave)
        box.setEscapeButton(stay)

        def chosen(button: object) -> None:
            if button in (leave, end):
                window.leave_working = button is leave
                window.allow_close = True
                window.close()

        box.buttonClicked.connect(chosen)
        self.quit_box = box
        box.open()
        return True
