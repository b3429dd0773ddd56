"""Plans: author one (Plan…), dispatch it, verify it with its panel, continue or cancel it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QTimer

from pmdesk.engine.cluster.placement import LOCAL, reachable
from pmdesk.engine.gates import gates_for
from pmdesk.engine.isolation import isolation_problem
from pmdesk.engine.plans.estimate import DispatchEstimate, estimate, within
from pmdesk.engine.plans.rules import PlanAction
from pmdesk.errors import PmdeskError
from pmdesk.models import DispatchResponse, Plan
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.dialogs import DispatchDialog, PlanDialog, RetryDialog
from pmdesk.ui.verify_panel import VerifyPanel

COST_COALESCE_MS = 250  # a plan's cost is counted again at most this often while it changes

class PlansController(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self.verify_panels: dict[str, VerifyPanel] = {}
        self.warming: asyncio.Future[None] | None = None
        shell.page.planSelected.connect(self.select_plan)
        shell.page.costWanted.connect(self._cost_wanted)
        self._costs_wanted: set[str] = set()
        self._cost_timer = QTimer(self)
        self._cost_timer.setSingleShot(True)
        self._cost_timer.setInterval(COST_COALESCE_MS)
        self._cost_timer.timeout.connect(self._count_costs)

    def _cost_wanted(self, plan_id: str) -> None:
        """A plan changes many times while it runs: its cost is counted at most every so often."""
        self._costs_wanted.add(plan_id)
        if not self._cost_timer.isActive():
            self._cost_timer.start()

    def _count_costs(self) -> None:
        project, page = self.shell.project, self.shell.page
        wanted, self._costs_wanted = self._costs_wanted, set()
        if project is None:
            return

        async def count(plan_id: str) -> None:
            try:
                found = await self.engine.cost(project, plan_id)
            except PmdeskError:
                return  # the plan went meanwhile (discarded): nothing to show
            if shiboken6.isValid(page):
                page.set_plan_cost(found)

        for plan_id in wanted:
            self.shell.run(count(plan_id), self.tr("Count costs"))

    def _plan(self) -> Plan | None:
        return self.shell.page.plan

    def select_plan(self, plan_id: str) -> None:
        project = self.shell.project
        if project is None:
            return
        try:
            plan = self.engine.store(project).get_plan(plan_id)
        except PmdeskError as exc:
            self.shell.show_error(self.tr("Open plan"), exc)
            return
        self.shell.page.set_plan(plan)

    def edit_plan(self) -> None:
        """The selected DRAFT, opened again in the plan editor."""
        plan = self._plan()
        if plan is not None and self.engine.plans.allowed(plan)[PlanAction.EDIT].allowed:
            self.plan_dialog(editing=plan)

    def fix_plan(self) -> None:
        """Fix tasks for the selected FAILED plan, planned from its verify (by the user's action)."""
        plan = self._plan()
        if plan is not None and self.engine.plans.allowed(plan)[PlanAction.FIX].allowed:
            self.plan_dialog(fixing=plan)

    def plan_dialog(self, editing: Plan | None = None, from_goal: bool = False, fixing: Plan | None = None) -> None:
        project = self.shell.project
        if project is None:
            return
        if self.warming is None:  # the SDK (~50 MiB) loads while the user writes, not at start nor on Generate
            self.warming = asyncio.ensure_future(self.engine.warm_up())
        packets = sorted(self.shell.page.packets.source.records(), key=lambda p: p.get("createdAt") or "",
                         reverse=True)
        dialog = PlanDialog(packets, project.settings.default_model or self.engine.settings.default_model,
                            self.shell.window, editing=editing, fixing=fixing)
        if from_goal:
            dialog.goal.setFocus()
        elif packets:
            dialog.packet.setFocus()

        def generate(packet_id: str, model: str, goal: str | None = None) -> None:
            async def ask() -> None:
                try:
                    if fixing is not None:
                        generated = await self.engine.plans.generate_fixes(project, fixing.plan_id, model or None)
                    elif goal:
                        generated = await self.engine.plans.generate_from_goal(project, goal, model or None)
                    else:
                        generated = await self.engine.plans.generate(project, packet_id, model or None)
                except PmdeskError as exc:
                    dialog.generation_failed(str(exc))
                    return
                except Exception as exc:  # never leave the dialog saying "Asking…" for ever
                    dialog.generation_failed(self.tr("unexpected error: %1").replace("%1", repr(exc)))
                    raise
                dialog.show_generated(generated)

            self.shell.run(ask(), self.tr("Generate plan"))

        def save() -> None:  # the first time anything of the plan is stored
            if editing is not None:
                plan = self.engine.plans.edit_tasks(project, editing.plan_id, dialog.answer())
            elif fixing is not None:
                plan = self.engine.plans.plan_from_answer(project, dialog.answer(), packet_id=dialog.generated_packet_id,
                                                          model=dialog.model_used, parent_plan_id=fixing.plan_id)
            else:
                goal = dialog.goal_text()
                plan = self.engine.plans.plan_from_answer(project, dialog.answer(),
                                                          packet_id=None if goal else dialog.packet_id(),
                                                          model=dialog.model_used, goal=goal)
            self.shell.page.plans_changed([plan])  # listed now: the engine's notice, a frame later, finds it there
            self.shell.page.plans.select_key(plan.plan_id)
            self.select_plan(plan.plan_id)
            self.shell.status(self.tr("Plan saved as DRAFT with %n tasks").replace("%n", str(len(plan.tasks))))

        dialog.generateRequested.connect(generate)
        dialog.goalRequested.connect(lambda goal, model: generate("", model, goal))
        dialog.fixRequested.connect(lambda model: generate("", model))
        dialog.accepted.connect(lambda: self.shell.guard(self.tr("Save plan"), save))
        self.shell.open_dialog(dialog)

    def dispatch_dialog(self) -> None:
        project, plan = self.shell.project, self._plan()
        if project is None or plan is None:
            return
        store = self.engine.store(project)

        async def open_it() -> None:
            problem = await asyncio.to_thread(isolation_problem, project)  # git, off the Qt thread
            base = await asyncio.to_thread(self.engine.plans.estimate, project, plan.plan_id, True, None, None, None,
                                           None, "local")  # history, budgets; a cluster is asked apart
            history = await asyncio.to_thread(store.list_runs)

            def estimator(parallel: bool, limit: int, usd: float | None) -> DispatchEstimate:
                found = estimate(plan, parallel, limit, history, base.executor, base.model)
                lefts = [u for u in (base.budget_left_usd, usd) if u is not None]  # a DRAFT has spent nothing
                return within(found, min(lefts) if lefts else None, base.budget_left_tokens)

            chosen = self.engine.project_settings(project).settings.cluster or self.engine.settings.cluster
            offered = self.engine.settings.cluster if chosen == LOCAL else chosen
            dialog = DispatchDialog(plan, project.settings.concurrency, estimator, self.shell.window,
                                    no_isolation=problem, cluster=offered, on_cluster=chosen not in (None, "", LOCAL))

            async def ask_cluster(address: str) -> None:
                try:
                    found = await reachable(address)
                except PmdeskError as exc:
                    text = str(exc)
                    if shiboken6.isValid(dialog):
                        dialog.show_cluster(address, None, text)
                    return
                alive = len([n for n in found.nodes if n.alive])
                if shiboken6.isValid(dialog):
                    dialog.show_cluster(address, found.takes, self.tr(
                        "%1 nodes, %2 of %3 CPUs free: it takes %4 runs at once").replace("%1", str(alive))
                        .replace("%2", f"{found.free_cpus:g}").replace("%3", f"{found.cpus:g}")
                        .replace("%4", str(found.takes)))

            dialog.clusterWanted.connect(lambda address: self.shell.run(ask_cluster(address), self.tr("Ask the cluster")))
            if dialog.on() != LOCAL:
                self.shell.run(ask_cluster(dialog.on()), self.tr("Ask the cluster"))

            def go() -> None:
                values = dialog.values()

                def done(response: DispatchResponse) -> None:
                    self.shell.status(self.tr("Dispatched %n runs").replace("%n", str(len(response.runs))))

                self.shell.run(self.engine.plans.dispatch(project, plan.plan_id, parallel=values["parallel"],
                                                          max_parallel=values["max_parallel"],
                                                          in_place=values["in_place"], budget=values["budget"],
                                                          on=values["on"]),
                               self.tr("Dispatch"), done)

            async def make_repository() -> None:
                said = await asyncio.to_thread(self.engine.git_init, project)
                self.shell.status(said, 10000)
                dialog.isolation_ready()

            dialog.gitInitRequested.connect(lambda: self.shell.run(make_repository(), self.tr("Make a repository")))
            dialog.accepted.connect(go)
            self.shell.open_dialog(dialog)

        self.shell.run(open_it(), self.tr("Dispatch"))

    def rebuild(self) -> None:
        """Verify again on the branch's HEAD now: the integration is rebuilt from every task branch."""
        self._verify(rebase=True)

    def verify(self) -> None:
        self._verify(rebase=False)

    def _verify(self, rebase: bool) -> None:
        project, plan = self.shell.project, self._plan()
        if project is None or plan is None:
            return
        project = self.engine.project_settings(project)
        plan = self.engine.store(project).get_plan(plan.plan_id)  # as it is now, not as last shown
        verdict = self.engine.plans.allowed(plan)[PlanAction.REBASE if rebase else PlanAction.VERIFY]
        if not verdict.allowed:
            self.shell.status(verdict.reason or "")
            return
        try:
            gates = gates_for(Path(project.path), project.settings.gates)
        except PmdeskError as exc:
            self.shell.show_error(self.tr("Verify"), exc)
            return
        plan_id = plan.plan_id

        def go() -> None:
            panel = VerifyPanel(plan_id, [g.name for g in gates], self.shell.window)
            panel.bind(self.shell.bridge)
            self.verify_panels[plan_id] = panel
            panel.finished.connect(lambda _=0: self.verify_panels.pop(plan_id, None))
            panel.show()

            def done(result: Plan) -> None:
                panel.finished_with(result)
                self.shell.status(self.tr("Plan %1").replace("%1", result.status.value), 10000)

            self.shell.run(self.engine.plans.verify(project, plan_id, force=verdict.confirm is not None,
                                                    rebase=rebase), self.tr("Verify"), done)

        if verdict.confirm:
            self.shell.confirm(self.tr("Verify anyway?"), verdict.confirm + self.tr(". Run the gates anyway?"), go)
        else:
            go()

    def continue_plan(self) -> None:
        project, plan = self.shell.project, self._plan()
        if project is not None and plan is not None and self.engine.plans.continue_plan(project, plan.plan_id):
            self.shell.contextChanged.emit()
            self.shell.status(self.tr("Plan continues"))

    def cancel_plan(self) -> None:
        project, plan = self.shell.project, self._plan()
        if project is None or plan is None:
            return
        plan_id = plan.plan_id
        self.shell.confirm(self.tr("Cancel plan"), self.tr(
            "Cancel this plan? Its running agents are ended and unfinished tasks are cancelled."),
            lambda: self.shell.run(self.engine.plans.cancel(project, plan_id), self.tr("Cancel plan")))

    def archive_plan(self, archived: bool = True) -> None:
        """Archive (or restore) the selected plan; the other action undoes it."""
        project, plan = self.shell.project, self._plan()
        if project is None or plan is None:
            return
        try:
            done = self.engine.plans.archive(project, plan.plan_id, archived=archived)
        except PmdeskError as exc:
            self.shell.show_error(self.tr("Archive plan") if archived else self.tr("Restore plan"), exc)
            return
        self.shell.page.plans_changed([done])  # listed (or left out) now, not a frame later
        self.shell.status(self.tr("Plan archived; Project → Restore archived plan brings it back") if archived else
                          self.tr("Plan restored"), 10000)

    def delete_plan(self) -> None:
        project, plan = self.shell.project, self._plan()
        if project is None or plan is None:
            return
        plan_id = plan.plan_id

        def delete() -> None:
            try:
                kept = self.engine.plans.delete(project, plan_id)
            except PmdeskError as exc:
                self.shell.show_error(self.tr("Delete plan"), exc)
                return
            self.shell.page.remove_plan(plan_id)
            self.shell.status(self.tr("Plan deleted; its runs stay, its file is kept at %1").replace("%1", kept), 15000)

        self.shell.confirm(self.tr("Delete plan"), self.tr(
            "Delete this plan? Its runs, packets and activity stay; its file moves to the state folder's trash."),
            delete)

    def retry_task(self) -> None:
        """The selected task again, after the user says what (if anything) to add to it."""
        project, plan = self.shell.project, self._plan()
        task = self.shell.page.task_to_retry()
        if project is None or plan is None or task is None:
            return
        number = next(i for i, t in enumerate(plan.tasks, 1) if t.task_id == task.task_id)
        dialog = RetryDialog(number, task.description, task.error, self.shell.window)

        def go() -> None:
            extra, dependents = dialog.values()

            def done(retried: Plan) -> None:
                self.shell.page.set_plan(retried)
                self.shell.status(self.tr("Task #%1 runs again; its earlier run is kept").replace("%1", str(number)))

            self.shell.run(self.engine.plans.retry(project, plan.plan_id, task.task_id, prompt_extra=extra,
                                                   with_dependents=dependents), self.tr("Retry task"), done)

        dialog.accepted.connect(go)
        self.shell.open_dialog(dialog)
