"""What the window's buttons do: engine calls scheduled on the loop, dialogs, and results.

Widgets only show and emit; everything that touches the engine is here. Slow reads
(listings of a large project) go to a worker thread; engine calls that publish changes
stay on the loop's thread.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFileDialog, QMessageBox, QSystemTrayIcon, QWidget

from pmdesk import __version__, config
from pmdesk.engine.engine import Engine
from pmdesk.engine.gates import GateConfigError, detect_npm_gates, gates_for
from pmdesk.engine.inspect import create_packet
from pmdesk.engine.notifications import GateProgress
from pmdesk.engine.overview import ProjectOverview
from pmdesk.executors.discovery import find_claude
from pmdesk.models import ActivityEvent, ActivityType, Plan, PlanStatus, Project, Run, TaskState
from pmdesk.resources import path as resource
from pmdesk.store.state_store import _summarize_packet
from pmdesk.ui.async_slots import set_error_sink, spawn
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.dialogs import DispatchDialog, NewRunDialog, PlanDialog
from pmdesk.ui.local_api import LocalApi
from pmdesk.ui.settings_dialog import SettingsDialog
from pmdesk.ui.verify_panel import VerifyPanel

if TYPE_CHECKING:
    from pmdesk.ui.main_window import MainWindow

OVERVIEW_DEBOUNCE_MS = 250


class Controller(QObject):
    def __init__(self, engine: Engine, window: MainWindow) -> None:
        super().__init__(window)
        self.engine = engine
        self.window = window
        self.dashboard = window.dashboard
        self.page = window.project_page
        self.bridge = EngineBridge(engine, self)
        self.verify_panels: dict[str, VerifyPanel] = {}
        self._stale: set[str] = set()
        self._overview_timer = QTimer(self)
        self._overview_timer.setSingleShot(True)
        self._overview_timer.setInterval(OVERVIEW_DEBOUNCE_MS)
        self._overview_timer.timeout.connect(self._refresh_overviews)
        self._notified_project: str | None = None
        self.tray = self._make_tray()
        self.local_api = LocalApi(engine)
        set_error_sink(self.show_error)
        self._connect()
        window.closing.connect(self._shut)
        window.destroyed.connect(self.bridge.close)

    def _shut(self) -> None:
        """The window is closing: stop listening and stop timers that would start engine work."""
        self.bridge.close()
        self._overview_timer.stop()
        self._stale.clear()

    # -- wiring ------------------------------------------------------------------------

    def _connect(self) -> None:
        b, d, p, a = self.bridge, self.dashboard, self.page, self.window.actions_by_name
        b.runsChanged.connect(self._runs_changed)
        b.plansChanged.connect(self._plans_changed)
        b.logLines.connect(self._log_lines)
        b.activityAdded.connect(self._activity_added)
        b.gateProgress.connect(self._gate_progress)
        b.projectsChanged.connect(lambda: spawn(self.load_overviews(), "refresh projects"))
        d.openProject.connect(self.open_project)
        d.addProjectRequested.connect(self.add_project_dialog)
        d.folderDropped.connect(self.add_project)
        d.settingsRequested.connect(self.settings_dialog)
        p.backRequested.connect(self.window.show_dashboard)
        p.newRunRequested.connect(self.new_run_dialog)
        p.inspectRequested.connect(self.inspect)
        p.planRequested.connect(self.plan_dialog)
        p.dispatchRequested.connect(self.dispatch_dialog)
        p.verifyRequested.connect(self.verify)
        p.continueRequested.connect(self.continue_plan)
        p.cancelRunRequested.connect(self.cancel_run)
        p.cancelPlanRequested.connect(self.cancel_plan)
        p.answerSubmitted.connect(self.answer)
        p.runSelected.connect(self.show_log)
        p.planSelected.connect(self.select_plan)
        a["add_project"].triggered.connect(self.add_project_dialog)
        a["settings"].triggered.connect(self.settings_dialog)
        a["quit"].triggered.connect(self.window.close)
        a["open_project"].triggered.connect(lambda: self.open_project(self.dashboard.selected_project_id() or ""))
        a["new_run"].triggered.connect(lambda: self._on_page(self.new_run_dialog))
        a["inspect"].triggered.connect(lambda: self._on_page(p._inspect))
        a["plan"].triggered.connect(lambda: self._on_page(self.plan_dialog, p.plan_button.isVisible()))
        a["dispatch"].triggered.connect(lambda: self._on_page(p._dispatch, p.dispatch_button.isVisible()))
        a["verify"].triggered.connect(lambda: self._on_page(p._verify, p.verify_button.isVisible()))
        a["cancel_run"].triggered.connect(lambda: self._on_page(p._cancel_run))
        a["remove_project"].triggered.connect(self.remove_project)
        a["dashboard"].triggered.connect(self.window.show_dashboard)
        a["refresh"].triggered.connect(self.refresh)
        a["about"].triggered.connect(self.about)

    def _on_page(self, action: Any, allowed: bool = True) -> None:
        if self.window.on_project_page() and allowed:
            action()

    @property
    def project(self) -> Project | None:
        return self.page.project

    # -- start and refresh ----------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(lambda: self.engine.redactor.secrets)  # the keyring lookup, off the Qt thread
        notes = self.engine.recover()
        if notes:
            self.status(self.tr("Recovered after a crash: %n item(s); see the activity feed").replace(
                "%n", str(len(notes))), 10000)
        await self.load_overviews()
        events: list[ActivityEvent] = []
        for project in self.engine.projects():
            if Path(project.path).is_dir():
                events.extend(await asyncio.to_thread(self.engine.store(project).list_activity, 50))
        events.sort(key=lambda e: e.ts)
        self.dashboard.add_activity(events)
        self.dashboard.agent_banner.setVisible(not self.agent_available())
        await self.apply_api_setting()

    async def apply_api_setting(self) -> None:
        await self.local_api.apply(self.engine.settings)
        if self.local_api.error:
            self.status(self.tr("Local API not started: %1").replace("%1", self.local_api.error), 15000)
        elif self.local_api.url:
            self.status(self.tr("Local API on %1/api").replace("%1", self.local_api.url))
        self._update_engine_status()

    def agent_available(self) -> bool:
        return bool(find_claude(self.engine.settings) or config.api_key())

    async def load_overviews(self) -> None:
        projects = self.engine.projects()
        overviews = await asyncio.to_thread(lambda: [self.engine.overview(p) for p in projects])
        self.dashboard.set_overviews(overviews)
        if self.project is not None:
            for o in overviews:
                if o.project_id == self.project.project_id:
                    self.page.set_overview(o)
        self._update_engine_status()

    def refresh(self) -> None:
        spawn(self.load_overviews(), "refresh")
        if self.project is not None and self.window.on_project_page():
            spawn(self.load_project(self.project), "refresh project")

    def _mark_stale(self, project_id: str) -> None:
        self._stale.add(project_id)
        if not self._overview_timer.isActive():
            self._overview_timer.start()

    def _refresh_overviews(self) -> None:
        stale, self._stale = self._stale, set()
        projects = [p for p in self.engine.projects() if p.project_id in stale]
        spawn(self._apply_overviews(projects), "refresh status")

    async def _apply_overviews(self, projects: list[Project]) -> None:
        overviews: list[ProjectOverview] = await asyncio.to_thread(
            lambda: [self.engine.overview(p) for p in projects])
        for overview in overviews:
            self.dashboard.update_overview(overview)
            if self.project is not None and overview.project_id == self.project.project_id:
                self.page.set_overview(overview)
        self._update_engine_status()

    def _update_engine_status(self) -> None:
        records: list[ProjectOverview] = self.dashboard.model.records()
        running = sum(o.running for o in records)
        awaiting = sum(o.awaiting for o in records)
        jobs = len(self.engine.loop.jobs)
        parts = [self.tr("%n running").replace("%n", str(running)),
                 self.tr("%n awaiting a response").replace("%n", str(awaiting))]
        if jobs:
            parts.append(self.tr("%n plan(s) in progress").replace("%n", str(jobs)))
        if self.local_api.url:
            parts.append(self.tr("API %1").replace("%1", self.local_api.url))
        self.window.engine_status.setText(" · ".join(parts))

    def status(self, text: str, ms: int = 6000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # -- projects ---------------------------------------------------------------------------

    def add_project_dialog(self) -> None:
        dialog = QFileDialog(self.window, self.tr("Add a project folder"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.add_project)
        dialog.open()
        self._dialog = dialog

    def add_project(self, path: str) -> None:
        try:
            project = self.engine.add_project(path)
        except ValueError as exc:
            self.show_error(self.tr("Add project"), exc)
            return
        self.status(self.tr("Added %1").replace("%1", project.name))
        self.open_project(project.project_id)

    def remove_project(self) -> None:
        project_id = self.project.project_id if self.window.on_project_page() and self.project else \
            self.dashboard.selected_project_id()
        if not project_id:
            return
        project = self.engine.project(project_id)

        def remove() -> None:
            self.engine.remove_project(project_id)
            self.dashboard.remove_project(project_id)
            self.window.show_dashboard()
            self.status(self.tr("Removed %1 from pmdesk; its files are untouched").replace("%1", project.name))

        self.confirm(self.tr("Remove project"), self.tr(
            "Remove %1 from pmdesk? Its folder and its .claude/state stay on disk.").replace("%1", project.name), remove)

    def open_project(self, project_id: str) -> None:
        if not project_id:
            return
        try:
            project = self.engine.project_settings(self.engine.project(project_id))
        except ValueError as exc:
            self.show_error(self.tr("Open project"), exc)
            return
        self.page.show_project(project)
        self.window.show_project_page()
        spawn(self.load_project(project), "load project")

    async def load_project(self, project: Project) -> None:
        if not Path(project.path).is_dir():
            self.page.set_problems([])
            self.show_error(self.tr("Open project"), FileNotFoundError(
                self.tr("the folder %1 no longer exists").replace("%1", project.path)))
            return
        store = self.engine.store(project)

        def read() -> tuple[Any, ...]:
            return store.list_runs(), store.list_plans(), store.list_packets(), store.problems(), \
                self.engine.overview(project)

        runs, plans, packets, problems, overview = await asyncio.to_thread(read)
        if self.project is None or self.project.project_id != project.project_id:
            return
        self.page.live_plan_ids = set(self.engine.loop.jobs)
        self.page.set_lists(runs, plans, packets)
        self.page.set_problems(problems)
        self.page.set_overview(overview)
        if problems:
            self.status(self.tr("Some state files could not be read; they were moved aside"), 10000)

    # -- engine notifications ----------------------------------------------------------------

    def _runs_changed(self, project_id: str, runs: list[Run]) -> None:
        self._mark_stale(project_id)
        if self.project is not None and self.project.project_id == project_id:
            self.page.live_plan_ids = set(self.engine.loop.jobs)
            self.page.runs_changed(runs)

    def _plans_changed(self, project_id: str, plans: list[Plan]) -> None:
        self._mark_stale(project_id)
        for plan in plans:
            panel = self.verify_panels.get(plan.plan_id)
            if panel is not None and plan.verify_run_id:
                panel.verify_run_id = plan.verify_run_id  # type: ignore[attr-defined]
        if self.project is not None and self.project.project_id == project_id:
            self.page.live_plan_ids = set(self.engine.loop.jobs)
            self.page.plans_changed(plans)

    def _log_lines(self, run_id: str, events: list[dict[str, Any]]) -> None:
        if self.page.log.run_id == run_id:
            self.page.log.append_events(events)
        for panel in self.verify_panels.values():
            if getattr(panel, "verify_run_id", None) == run_id:
                panel.log.append_events(events)

    def _gate_progress(self, updates: list[GateProgress]) -> None:
        for panel in self.verify_panels.values():
            panel.on_progress(updates)

    def _activity_added(self, events: list[ActivityEvent]) -> None:
        self.dashboard.add_activity(events)
        for event in events:
            if event.type == ActivityType.PACKET_CREATED and self.project and event.project_id == self.project.project_id:
                try:
                    packet = self.engine.store(self.project).get_packet(event.packet_id or "")
                    self.page.packets_changed([_summarize_packet(packet)])
                except Exception:
                    pass
            self._notify(event)

    # -- tray ------------------------------------------------------------------------------

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(QIcon(str(resource("pmdesk.svg"))), self)
        tray.setToolTip("pmdesk")
        tray.messageClicked.connect(lambda: self._notified_project and self._show_from_tray(self._notified_project))
        tray.activated.connect(lambda _reason: self.window.showNormal() or self.window.activateWindow())
        tray.show()
        return tray

    def _show_from_tray(self, project_id: str) -> None:
        self.window.showNormal()
        self.window.activateWindow()
        self.open_project(project_id)

    def _notify(self, event: ActivityEvent) -> None:
        titles = {ActivityType.RUN_AWAITING_RESPONSE: self.tr("%1 needs a response"),
                  ActivityType.PLAN_VERIFIED: self.tr("%1: plan verified"),
                  ActivityType.PLAN_FAILED: self.tr("%1: plan failed")}
        if event.type not in titles or self.tray is None:
            return
        name = next((p.name for p in self.engine.projects() if p.project_id == event.project_id), event.project_id)
        self._notified_project = event.project_id
        icon = QSystemTrayIcon.MessageIcon.Warning if event.type != ActivityType.PLAN_VERIFIED else \
            QSystemTrayIcon.MessageIcon.Information
        self.tray.showMessage(titles[event.type].replace("%1", name), event.message, icon, 8000)

    # -- runs --------------------------------------------------------------------------------

    def new_run_dialog(self) -> None:
        project = self.project
        if project is None:
            return
        if not self.agent_available() and not project.settings.command_template:
            self.dashboard.agent_banner.show()
        dialog = NewRunDialog(["claude_code", "anthropic_agent", "command"],
                              project.settings.default_executor.value if project.settings.default_executor else None,
                              project.settings.default_model or self.engine.settings.default_model, self.window)
        if project.settings.command_template:
            dialog.command.setText(project.settings.command_template)
        dialog.accepted.connect(lambda: self.start_run(project, **dialog.values()))
        dialog.open()
        self._dialog = dialog

    def start_run(self, project: Project, prompt: str, executor: Any = None, model: str | None = None,
                  command: str | None = None) -> None:
        async def go() -> Run:
            return await self.engine.runs.launch(project, prompt, executor=executor, model=model, command=command)

        def started(run: Run) -> None:
            self.page.runs.select_key(run.run_id)
            self.status(self.tr("Run started") if run.status != TaskState.ERROR else
                        self.tr("The run could not start: %1").replace("%1", run.error or ""), 10000)

        spawn(go(), self.tr("Start run"), started)

    def show_log(self, run_id: str) -> None:
        project = self.project
        if project is None:
            return
        store = self.engine.store(project)

        async def load() -> None:
            events = await asyncio.to_thread(store.tail_events, run_id, 5000)
            if shiboken6.isValid(self.page.log) and self.page.log.run_id == run_id:
                self.page.log.show_run(run_id, events)

        self.page.log.run_id = run_id
        spawn(load(), self.tr("Load log"))

    def select_plan(self, plan_id: str) -> None:
        if self.project is None:
            return
        try:
            plan = self.engine.store(self.project).get_plan(plan_id)
        except Exception as exc:
            self.show_error(self.tr("Open plan"), exc)
            return
        self.page.live_plan_ids = set(self.engine.loop.jobs)
        self.page.set_plan(plan)

    def answer(self, run_id: str, text: str) -> None:
        project = self.project
        if project is None:
            return

        async def go() -> None:
            run = await self.engine.runs.respond(project, run_id, text)
            if run.plan_id and run.plan_id not in self.engine.loop.jobs:
                self.engine.loop.continue_plan(project, run.plan_id)

        spawn(go(), self.tr("Send answer"))
        self.status(self.tr("Answer sent; the run continues"))

    def inspect(self, run_id: str) -> None:
        project = self.project
        if project is None:
            return
        try:
            packet = create_packet(self.engine, project, run_id)
        except Exception as exc:
            self.show_error(self.tr("Inspect"), exc)
            return
        self.page.packets_changed([_summarize_packet(packet)])
        self.page.tabs.setCurrentIndex(1)
        self.status(self.tr("Inspection packet %1 created; Plan… can now use it").replace("%1", packet.packet_id))

    def cancel_run(self, run_id: str) -> None:
        project = self.project
        if project is None:
            return
        self.confirm(self.tr("Cancel run"), self.tr("Cancel this run? Its agent and everything it started are ended."),
                     lambda: spawn(self.engine.runs.cancel(project, run_id), self.tr("Cancel run")))

    # -- the loop -------------------------------------------------------------------------------

    def plan_dialog(self) -> None:
        project = self.project
        if project is None:
            return
        packets = sorted(self.page.packets.source.records(), key=lambda p: p.get("createdAt") or "", reverse=True)
        dialog = PlanDialog(packets, project.settings.default_model or self.engine.settings.default_model, self.window)

        def generate(packet_id: str, model: str) -> None:
            spawn(self.engine.loop.create_plan(project, packet_id, model or None), self.tr("Generate plan"),
                  dialog.show_generated)

        def save() -> None:
            draft = dialog.plan
            if draft is not None and draft.status == PlanStatus.DRAFT:
                plan = self.engine.loop.edit_tasks(project, draft.plan_id, dialog.answer())
            else:
                plan = self.engine.loop.plan_from_answer(project, dialog.answer(), packet_id=dialog.packet_id())
            self.page.plans.select_key(plan.plan_id)
            self.select_plan(plan.plan_id)
            self.status(self.tr("Plan saved as DRAFT with %n tasks").replace("%n", str(len(plan.tasks))))

        def discard() -> None:
            draft = dialog.plan
            if draft is not None and draft.status == PlanStatus.DRAFT:
                spawn(self.engine.loop.cancel(project, draft.plan_id), self.tr("Discard plan"))

        dialog.generateRequested.connect(generate)
        dialog.accepted.connect(lambda: self._guard(self.tr("Save plan"), save))
        dialog.rejected.connect(discard)
        dialog.open()
        self._dialog = dialog
        self.plan_dialog_open = dialog

    def dispatch_dialog(self, plan_id: str) -> None:
        project = self.project
        if project is None:
            return
        plan = self.engine.store(project).get_plan(plan_id)
        history = self.page.runs.source.records()
        dialog = DispatchDialog(plan, project.settings.concurrency, history, self.window)

        def go() -> None:
            values = dialog.values()
            spawn(self.engine.loop.dispatch(project, plan_id, parallel=values["parallel"],
                                            max_parallel=values["max_parallel"]), self.tr("Dispatch"),
                  lambda r: self.status(self.tr("Dispatched %n runs").replace("%n", str(len(r.runs)))))

        dialog.accepted.connect(go)
        dialog.open()
        self._dialog = dialog

    def verify(self, plan_id: str) -> None:
        project = self.project
        if project is None:
            return
        project = self.engine.project_settings(project)
        plan = self.engine.store(project).get_plan(plan_id)
        try:
            gates = gates_for(Path(project.path), project.settings.gates)
        except GateConfigError as exc:
            self.show_error(self.tr("Verify"), exc)
            return
        incomplete = [t for t in plan.tasks if t.status != TaskState.COMPLETE]

        def go() -> None:
            panel = VerifyPanel(plan_id, [g.name for g in gates], self.window)
            self.verify_panels[plan_id] = panel
            panel.finished.connect(lambda _=0: self.verify_panels.pop(plan_id, None))
            panel.show()

            def done(result: Plan) -> None:
                panel.finished_with(result)
                self.status(self.tr("Plan %1").replace("%1", result.status.value), 10000)

            spawn(self.engine.loop.verify(project, plan_id, force=bool(incomplete)), self.tr("Verify"), done)

        if plan.status == PlanStatus.RUNNING and incomplete:
            self.confirm(self.tr("Verify anyway?"), self.tr(
                "%n task(s) did not complete. Run the gates anyway?").replace("%n", str(len(incomplete))), go)
        else:
            go()

    def continue_plan(self, plan_id: str) -> None:
        if self.project is not None and self.engine.loop.continue_plan(self.project, plan_id):
            self.page.live_plan_ids = set(self.engine.loop.jobs)
            self.page.update_actions()
            self.status(self.tr("Plan continues"))

    def cancel_plan(self, plan_id: str) -> None:
        project = self.project
        if project is None:
            return
        self.confirm(self.tr("Cancel plan"), self.tr(
            "Cancel this plan? Its running agents are ended and unfinished tasks are cancelled."),
            lambda: spawn(self.engine.loop.cancel(project, plan_id), self.tr("Cancel plan")))

    # -- settings -------------------------------------------------------------------------------

    def settings_dialog(self) -> None:
        project = self.engine.project_settings(self.project) if self.project else None
        dialog = SettingsDialog(self.engine.settings, bool(config.saved_api_key()), project, self.window)
        dialog.show_api_state(self.local_api.url, self.local_api.error)

        def test_claude(path: str) -> None:
            async def go() -> str:
                binary = path or find_claude(self.engine.settings) or shutil.which("claude")
                if not binary:
                    return self.tr("No claude executable found on PATH.")
                try:
                    proc = await asyncio.create_subprocess_exec(
                        binary, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                    out, _ = await asyncio.wait_for(proc.communicate(), 20)
                except (TimeoutError, OSError) as exc:
                    return self.tr("%1 could not run: %2").replace("%1", binary).replace("%2", str(exc))
                text = out.decode(errors="replace").strip()
                return f"✓ {binary}: {text}" if proc.returncode == 0 else f"✗ {binary}: {text}"

            dialog.claude_result.setText(self.tr("Testing…"))
            spawn(go(), self.tr("Test claude"), dialog.claude_result.setText)

        def load_models() -> None:
            async def go() -> list[str]:
                from pmdesk.executors.anthropic_client import make_client

                key = dialog.api_key.text().strip()
                client = make_client() if not key else __import__("anthropic").AsyncAnthropic(
                    api_key=key, base_url=config.api_base_url())
                try:
                    page = await client.models.list(limit=100)
                    return [m.id for m in page.data]
                finally:
                    await client.close()

            spawn(go(), self.tr("Load models"), dialog.set_models)

        def detect() -> None:
            if project is None:
                return
            gates = [" ".join(g.argv) for g in detect_npm_gates(Path(project.path)) if g.argv]
            dialog.gates.setPlainText("\n".join(gates))
            if not gates:
                dialog.gates.setPlaceholderText(self.tr("package.json defines no gate:* scripts"))

        def save() -> None:
            self.engine.settings = dialog.settings(self.engine.settings)
            config.save_settings(self.engine.settings)
            changed, key = dialog.key_change()
            if changed:
                where = config.save_api_key(key)
                self.engine.redactor.secrets = [k for k in (config.api_key(),) if k]
                self.status(self.tr("API key saved in %1").replace("%1", where) if key else self.tr("API key removed"))
            if project is not None:
                project.settings.gates = dialog.gate_lines()
                self.engine.save_project(project)
                if self.project and self.project.project_id == project.project_id:
                    self.page.project = project
            self.dashboard.agent_banner.setVisible(not self.agent_available())
            spawn(self.apply_api_setting(), self.tr("Local API"))

        dialog.testClaudeRequested.connect(test_claude)
        dialog.loadModelsRequested.connect(load_models)
        dialog.detectGatesRequested.connect(detect)
        dialog.accepted.connect(lambda: self._guard(self.tr("Save settings"), save))
        dialog.open()
        self._dialog = dialog
        self.settings_open = dialog

    # -- helpers -----------------------------------------------------------------------------------

    def _guard(self, what: str, action: Any) -> None:
        try:
            action()
        except Exception as exc:
            self.show_error(what, exc)

    def confirm(self, title: str, text: str, on_yes: Any) -> QMessageBox:
        """A non-blocking Yes/No question; ``on_yes`` runs only on Yes."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.No)

        def finished(_result: int) -> None:
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
                on_yes()

        box.finished.connect(finished)
        box.open()
        self._confirm = box
        return box

    def show_error(self, what: str, exc: BaseException) -> None:
        if not shiboken6.isValid(self.window):
            return  # a task that outlived its window
        message = str(exc) or exc.__class__.__name__
        self.status(f"{what}: {message}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, what, message, QMessageBox.StandardButton.Ok, self.window)
        box.open()
        self._error_box = box

    def about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("About pmdesk"), self.tr(
            "<b>pmdesk %1</b><br>Run AI coding agents on your projects: Inspect → Plan → Dispatch → Verify → "
            "Record.<br>State lives in each project's .claude/state.").replace("%1", __version__),
            QMessageBox.StandardButton.Ok, self.window)
        box.open()
        self._about = box

    def confirm_quit(self) -> bool:
        """True when closing must wait for the user's confirmation."""
        working = [r for r, live in self.engine.runs.live.items()
                   if self.engine.store(live.project).get_run(r).status == TaskState.RUNNING]
        if not working:
            return False

        def quit_now() -> None:
            self.window.allow_close = True
            self.window.close()

        self.confirm(self.tr("Quit pmdesk?"), self.tr(
            "%n run(s) are still working; quitting cancels them. Runs waiting for an answer can be answered "
            "after the next start.").replace("%n", str(len(working))), quit_now)
        return True

    def widget(self) -> QWidget:
        return self.window
