"""Runs: start one, follow its log, answer it, inspect it, cancel it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from pmdesk.engine.isolation import isolation_possible
from pmdesk.engine.search import Query
from pmdesk.models import Event, ExecutorKind, InspectionPacket, PermissionMode, Project, Run, TaskState
from pmdesk.store.summaries import summarize_packet
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.dialogs import NewRunDialog
from pmdesk.ui.widgets.log_view import PAGE as LOG_PAGE
from pmdesk.ui.widgets.log_view import LogView

LOG_TAIL = 2000  # the newest lines shown when a run is opened (half the log's window)


class RunsController(QObject):
    """Signals:
        packetMade(packet_id): Inspect made a packet (the window opens it).
    """

    packetMade = Signal(str)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        shell.page.runSelected.connect(self.show_log)
        shell.page.log.olderWanted.connect(self._older)
        shell.page.log.newerWanted.connect(self._newer)
        shell.page.answerSubmitted.connect(self.answer)
        shell.page.decisionMade.connect(self.decide)
        shell.page.requestWanted.connect(self.load_request)
        shell.bridge.runsChanged.connect(self._elsewhere)
        self._loads = 0  # logs asked for: only the newest one read is shown

    def _elsewhere(self, _project_id: str, runs: list[Run]) -> None:
        """The shown run works in another process: its log is read again when its record changes
        (this process is told its lines only for its own runs)."""
        shown = self.shell.page.log.run_id
        if shown and shown not in self.engine.runs.live and any(r.run_id == shown for r in runs):
            self.show_log(shown)

    def new_run_dialog(self) -> None:
        project = self.shell.project
        if project is None:
            return

        async def open_it() -> None:
            git_ok = await asyncio.to_thread(isolation_possible, project)  # git, off the Qt thread
            settings = project.settings
            dialog = NewRunDialog([k.value for k in (ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT,
                                                      ExecutorKind.COMMAND)],
                                  settings.default_executor.value if settings.default_executor else None,
                                  settings.default_model or self.engine.settings.default_model, self.shell.window,
                                  git_ok=git_ok)
            if settings.command_template:
                dialog.command.setText(settings.command_template)
            dialog.accepted.connect(lambda: self.start_run(project, **dialog.values()))
            self.shell.open_dialog(dialog)

        self.shell.run(open_it(), self.tr("New run"))

    def start_run(self, project: Project, prompt: str, executor: ExecutorKind | None = None,
                  model: str | None = None, command: str | None = None, in_worktree: bool = False,
                  permission_mode: PermissionMode | None = None) -> None:
        def started(run: Run) -> None:
            page = self.shell.page
            if page.project is not None and page.project.project_id == project.project_id:
                page.runs_changed([run])  # listed now (the engine's notice may come a frame later)
                page.tabs.setCurrentIndex(0)
                page.runs.select_key(run.run_id)  # selected: its log follows
            self.shell.status(self.tr("Run started") if run.status != TaskState.ERROR else
                              self.tr("The run could not start: %1").replace("%1", run.error or ""), 10000)

        self.shell.run(self.engine.runs.launch(project, prompt, executor=executor, model=model, command=command,
                                               in_worktree=in_worktree, permission_mode=permission_mode),
                       self.tr("Start run"), started)

    def show_log(self, run_id: str) -> None:
        project = self.shell.project
        if project is None:
            return
        store = self.engine.store(project)
        log = self.shell.page.log

        self._loads += 1
        ticket = self._loads

        async def load() -> None:
            events = await asyncio.to_thread(store.tail_events, run_id, LOG_TAIL)
            if shiboken6.isValid(log) and log.run_id == run_id and ticket == self._loads:
                log.show_run(run_id, events)

        log.run_id = run_id
        self.shell.run(load(), self.tr("Load log"))

    def show_log_at(self, run_id: str, seq: int, query: Query | None) -> None:
        """The run's log around one event (a search hit), scrolled to it with the words marked."""
        project = self.shell.project
        if project is None:
            return
        store = self.engine.store(project)
        log = self.shell.page.log
        self._loads += 1  # the tail being read for the selection is not shown over it
        ticket = self._loads

        async def load() -> None:
            events = await asyncio.to_thread(store.read_events, run_id, max(0, seq - LOG_TAIL // 2), LOG_TAIL)
            if shiboken6.isValid(log) and log.run_id == run_id and ticket == self._loads:
                log.show_run(run_id, events, focus_seq=seq, query=query, at_end=len(events) < LOG_TAIL)

        self.shell.run(load(), self.tr("Load log"))

    def _older(self, run_id: str, first_seq: int) -> None:
        """The page of lines before the log's window."""
        start = max(0, first_seq - 1 - LOG_PAGE)
        self._read_back(run_id, start, first_seq - 1 - start, lambda log, events: log.older_events(run_id, events))

    def _newer(self, run_id: str, last_seq: int) -> None:
        """The page of lines after the log's window; the newest page lets live lines follow again."""
        self._read_back(run_id, last_seq, LOG_PAGE, lambda log, events: log.newer_events(
            run_id, events, reached_end=len(events) < LOG_PAGE))

    def _read_back(self, run_id: str, after: int, limit: int, deliver: Callable[[LogView, list[Event]], None]) -> None:
        """``limit`` lines of the run after seq ``after``, read off the Qt thread, handed to the log."""
        project, log = self.shell.project, self.shell.page.log
        if project is None:
            return
        store = self.engine.store(project)

        async def load() -> None:
            events = await asyncio.to_thread(store.read_events, run_id, after, limit)
            if shiboken6.isValid(log):
                deliver(log, events)

        self.shell.run(load(), self.tr("Load log"))

    def answer(self, run_id: str, text: str) -> None:
        project = self.shell.project
        if project is None:
            return
        self.shell.run(self.engine.answer(project, run_id, text), self.tr("Send answer"))
        self.shell.status(self.tr("Answer sent; the run continues"))

    def decide(self, run_id: str, allow: bool, choices: dict[str, Any]) -> None:
        project = self.shell.project
        if project is None:
            return

        def done(run: Run) -> None:
            self.shell.page.set_request(run)
            self.shell.status(self.tr("Allowed; the agent goes on") if allow else
                              self.tr("Denied; the agent was told"), 6000)

        self.shell.run(self.engine.decide(project, run_id, allow, **choices),
                       self.tr("Allow") if allow else self.tr("Deny"), done)

    def load_request(self, run_id: str) -> None:
        """The full record of a waiting run (its request), read off the Qt thread."""
        project = self.shell.project
        if project is None:
            return
        store = self.engine.store(project)
        page = self.shell.page

        async def load() -> None:
            run = await asyncio.to_thread(store.get_run, run_id)
            if shiboken6.isValid(page):
                page.set_request(run)

        self.shell.run(load(), self.tr("Load request"))

    def interrupt(self) -> None:
        project, run = self.shell.project, self.shell.page.selected_run()
        if project is None or run is None:
            return
        self.shell.run(self.engine.interrupt(project, run.run_id), self.tr("Interrupt"))
        self.shell.status(self.tr("Interrupting: the agent stops its turn and waits for your message"), 8000)

    def inspect(self) -> None:
        """A packet of the selected run (the log and git read off the Qt thread), then shown."""
        project, run = self.shell.project, self.shell.page.selected_run()
        if project is None or run is None:
            return

        def made(packet: InspectionPacket) -> None:
            page = self.shell.page
            page.tabs.setCurrentIndex(1)
            page.packets_changed([summarize_packet(packet)])  # here now; the engine's notice may come later
            page.packets.select_key(packet.packet_id)
            self.shell.status(self.tr("Inspection packet %1 created; Plan… can now use it").replace(
                "%1", packet.packet_id), 10000)
            self.packetMade.emit(packet.packet_id)

        self.shell.run(self.engine.inspect(project, run.run_id), self.tr("Inspect"), made)

    def cancel_run(self) -> None:
        project, run = self.shell.project, self.shell.page.selected_run()
        if project is None or run is None:
            return
        run_id = run.run_id
        self.shell.confirm(
            self.tr("Cancel run"), self.tr("Cancel this run? Its agent and everything it started are ended."),
            lambda: self.shell.run(self.engine.runs.cancel(project, run_id), self.tr("Cancel run")))
