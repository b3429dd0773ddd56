"""Run lifecycle: create, start, follow, answer, cancel — one asyncio task per live run.

A live run holds its project through a ``Lease`` from the context from the moment it starts
until it ends or stops to wait for an answer that will resume it from disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from pmdesk.engine import inbox
from pmdesk.engine.budgets import BudgetError, Budgets
from pmdesk.engine.context import EngineContext, Lease
from pmdesk.engine.decisions import Decisions
from pmdesk.engine.executor_choice import default_kind, executor_for, preload_executor, run_settings
from pmdesk.engine.isolation import Isolation, run_worktree
from pmdesk.engine.permissions import Policy, policy_of, run_policy
from pmdesk.engine.recorder import EventRecorder
from pmdesk.engine.worktrees.checkout import SetupError
from pmdesk.engine.worktrees.git import GitError
from pmdesk.errors import BadInputError, ErrorKind, PmdeskError, WrongStateError
from pmdesk.executors.base import Execution, Executor, ExecutorError, Outcome, RunContext
from pmdesk.executors.process import kill_group_now, pid_alive
from pmdesk.models import (
    ActivityType,
    Clarification,
    ExecutorKind,
    IllegalTransitionError,
    PermissionMode,
    Project,
    Run,
    Session,
    TaskState,
    ToolRequest,
    check_task_transition,
    new_id,
    utc_now,
)
from pmdesk.store import NotFoundError, StateStore

log = logging.getLogger(__name__)

CANCELLED = "cancelled by the user"
STOPPED = "ended because pmdesk stopped while it worked (the window or command quit, or was signalled)"


class RunError(WrongStateError):
    """A run is not in a state that allows this (ended, not waiting, not new)."""


@dataclass
class LiveRun:
    project: Project
    store: StateStore
    run_id: str
    executor: Executor
    recorder: EventRecorder
    ctx: RunContext
    lease: Lease
    execution: Execution | None = None
    task: asyncio.Task[None] | None = None
    cancelling: bool = False
    cancel_reason: str = CANCELLED
    detaching: bool = False  # the client exits: the record stays as it is (a pending request stays pending)
    policy: Policy | None = None
    paused: asyncio.Event = field(default_factory=asyncio.Event)  # set while a decision is awaited
    snapshot: Run | None = None  # the run as last written by this process
    pending: ToolRequest | None = None  # what the agent waits on, known here before it is on disk
    claimed: set[str] = field(default_factory=set)  # requests already decided (of two racing answers, one)
    stop_question: str | None = None  # what the run asks when it was stopped at a budget
    store_pid: asyncio.Future[Run | None] | None = None  # the write of its process id, under way
    exited: bool = False  # its process has ended (set on the loop, read by the store worker)


class NewRun(TypedDict, total=False):
    """What a new run may be given besides its project and prompt."""

    executor: ExecutorKind | None
    model: str | None
    command: str | None
    plan_id: str | None
    plan_task_id: str | None
    task_run_id: str | None
    worktree: dict[str, Any] | None  # branch, worktree_path, base_commit, merge_from: work in a worktree
    in_worktree: bool  # a single run in a new worktree of its own, from the project's HEAD
    permission_mode: PermissionMode | None  # None: the project's
    cluster: str | None  # placed on this Ray cluster (ray://HOST:PORT), from its worktree's start


class RunService:
    def __init__(self, ctx: EngineContext, isolation: Isolation) -> None:
        self.ctx = ctx
        self.isolation = isolation
        self.live: dict[str, LiveRun] = {}
        self.decisions = Decisions(self)
        self.budgets = Budgets(ctx)
        self.budgets.stop_run = self._stop_at_budget
        self.on_letter: inbox.Handler | None = None  # decisions other processes post for runs held here
        self._postman: asyncio.Task[None] | None = None

    # -- creating ------------------------------------------------------------------

    def create(self, project: Project, prompt: str, **options: Unpack[NewRun]) -> Run:
        """Save a new run; a project another process owns is refused before anything is written."""
        with self.ctx.owning(project):
            run = self.write_new(project, self.ctx.store(project), prompt, **options)
        self.announce(project, run)
        return run

    def write_new(self, project: Project, store: StateStore, prompt: str, status: TaskState = TaskState.CREATED,
                  settings_read: bool = False, **options: Unpack[NewRun]) -> Run:
        """Save a new run and its session. Files only, so it may run on the store worker;
        ``announce`` it on the loop afterwards. ``settings_read``: the project's saved settings were just
        read (``ctx.project_settings``), for the 50 runs of a dispatch."""
        if not prompt.strip():
            raise BadInputError("the prompt is empty")
        prompt = self.ctx.redactor.text(prompt)  # a pasted key is never stored (nor sent on)
        if not settings_read:
            project = self.ctx.project_settings(project)
        kind = options.get("executor") or default_kind(self.ctx, project)
        settings = run_settings(self.ctx, project, kind, options.get("model"), options.get("command"))
        session = Session(session_id=new_id("sess"), project_id=project.project_id, title=prompt[:80])
        run_id = new_id("run")
        worktree = options.get("worktree") or (run_worktree(project, run_id) if options.get("in_worktree") else {})
        rules = project.settings
        settings.update(run_policy(rules.permission_mode, rules.allow_rules, rules.deny_rules, rules.bypass_confirmed,
                                   options.get("permission_mode"), bool(worktree)))
        if options.get("cluster") and worktree:  # a cluster run travels as its worktree's start, set up there
            settings["cluster"] = options["cluster"]
            if rules.worktree_setup:
                settings["cluster_setup"] = list(rules.worktree_setup)
        run = Run(
            run_id=run_id, project_id=project.project_id, session_id=session.session_id,
            prompt=prompt, executor=kind, model=settings.get("model"), plan_id=options.get("plan_id"),
            plan_task_id=options.get("plan_task_id"), task_run_id=options.get("task_run_id"), settings=settings,
            status=status, **worktree,
        )
        session.run_ids.append(run.run_id)
        store.put_session(session)
        return store.put_run(run)

    def announce(self, project: Project, *runs: Run) -> None:
        """New runs said in the activity (one append for all of a dispatch's) and published."""
        events = []
        for run in runs:
            events.append(self.ctx.activity(project, ActivityType.RUN_CREATED, f"run created: {run.prompt[:80]}",
                                            run_id=run.run_id, plan_id=run.plan_id, task_id=run.plan_task_id))
            if run.settings.get("permission_mode") == PermissionMode.BYPASS.value:
                events.append(self.ctx.activity(
                    project, ActivityType.PERMISSION_MODE_CHANGED, "this run bypasses permissions "
                    f"(in its own worktree, {run.worktree_path})", run_id=run.run_id, plan_id=run.plan_id,
                    task_id=run.plan_task_id, data={"mode": "bypass"}))
        self.ctx.record_all(project, events)
        for run in runs:
            self._publish(project, run)

    async def launch(self, project: Project, prompt: str, executor: ExecutorKind | None = None,
                     model: str | None = None, command: str | None = None, in_worktree: bool = False,
                     permission_mode: PermissionMode | None = None) -> Run:
        """Create and start a run (in a new worktree of its own when asked). A project another
        process owns is refused before anything is written."""
        with self.ctx.owning(project):
            run = await self.ctx.disk(self.write_new, project, self.ctx.store(project), prompt, executor=executor,
                                      model=model, command=command, in_worktree=in_worktree,
                                      permission_mode=permission_mode)
            self.announce(project, run)
            return await self.start(project, run.run_id)

    # -- starting and following ------------------------------------------------------

    def _context(self, project: Project, store: StateStore, run: Run, recorder: EventRecorder) -> RunContext:
        options = dict(run.settings)
        options["allow_rules"] = [*options.get("allow_rules", []), *run.allow_rules]
        return RunContext(
            run_id=run.run_id, workdir=Path(run.worktree_path or project.path), prompt=run.prompt, model=run.model,
            emit=recorder.emit, emit_many=recorder.emit_many, state_dir=store.state_dir, options=options,
            agent_session_id=run.agent_session_id, env=self.ctx.child_env(),
            on_usage=lambda usage, cost: self.budgets.on_usage(project, run.run_id, run.plan_id, usage, cost),
        )

    def _live(self, project: Project, store: StateStore, run: Run, executor: Executor,
              recorder: EventRecorder) -> LiveRun:
        ctx = self._context(project, store, run, recorder)
        live = LiveRun(project, store, run.run_id, executor, recorder, ctx, self.ctx.owning(project),
                       policy=policy_of(run.settings, run.allow_rules))
        self.live[run.run_id] = live
        self._serve_letters()
        return live

    def _serve_letters(self) -> None:
        """While this process holds live runs, it carries out what other processes decide for them."""
        if self.on_letter is None or (self._postman is not None and not self._postman.done()):
            return
        handle = self.on_letter

        async def serve() -> None:
            while self.live:
                for state_dir in {live.store.state_dir for live in list(self.live.values())}:
                    with contextlib.suppress(OSError):
                        await inbox.deliver(state_dir, handle)
                await asyncio.sleep(inbox.POLL)

        self._postman = asyncio.ensure_future(serve())

    def stop_letters(self) -> None:
        if self._postman is not None:
            self._postman.cancel()
            self._postman = None

    async def start(self, project: Project, run_id: str, known: Run | None = None) -> Run:
        """Launch the run and return once its process is up (or it failed to start). ``known``: the
        run as this process last published it (a scheduler's), read from disk when None; its
        RUNNING write checks the run on disk is still new either way."""
        store = self.ctx.store(project)
        run = known if known is not None else store.get_run(run_id)
        if run.status not in (TaskState.CREATED, TaskState.QUEUED):
            raise RunError(f"run {run_id} is {run.status.value}; only a new run can be started")
        recorder = self._recorder(store, run_id)
        lease = self.ctx.owning(project)
        # Its RUNNING write first (it must be on disk before the process starts); what the start
        # needs besides is made while the store worker writes it.
        running = self.ctx.disk.submit(store.update_run, run_id, _to_status(
            TaskState.RUNNING, started_at=utc_now(), owner_pid=os.getpid()))
        try:
            ctx = self._context(project, store, run, recorder)
            await preload_executor(run.executor)
            executor = executor_for(self.ctx, run)
            live = LiveRun(project, store, run_id, executor, recorder, ctx, lease,
                           policy=policy_of(run.settings, run.allow_rules))
            self.live[run_id] = live
            self._serve_letters()
            live.snapshot = await running
            self._publish(project, live.snapshot)
            if run.worktree_path:
                start = await self.isolation.prepare(project, run, recorder, set_up=not run.settings.get("cluster"))
                await self._update(live, _set_fields(start_commit=start))
            live.execution = await executor.start(ctx)
            # Said once its process is up (the loop waits on it then), not between its RUNNING write
            # and its start: an instant task's chain holds only what must come first.
            self.ctx.record(project, ActivityType.RUN_STARTED, "run started", run_id=run_id,
                            plan_id=run.plan_id, task_id=run.plan_task_id)
            if live.cancelling:  # cancelled while it started (a cluster's placement takes a while): ended there too
                with contextlib.suppress(Exception):
                    await live.execution.cancel()
                return store.get_run(run_id)
            if ctx.node:
                await self._update(live, _set_fields(node=ctx.node))
        except Exception as exc:
            running.add_done_callback(_retrieved)  # a failed RUNNING write is what _finish meets next
            if isinstance(exc, WrongStateError) and not _written(running):
                self.live.pop(run_id, None)  # the run is not new on disk (ended elsewhere): not this start's to end
                lease.release()
                raise
            if not isinstance(exc, (ExecutorError, OSError, GitError, SetupError)):
                log.exception("starting run %s failed", run_id)  # a defect: still never RUNNING with nothing at work
            with lease:
                self.live.pop(run_id, None)
                recorder.emit("system", f"could not start: {exc}")
                recorder.flush()
                return await self._finish(project, store, run_id, Outcome(TaskState.ERROR, error=str(exc)))
        except BaseException:
            self.live.pop(run_id, None)
            lease.release()
            running.add_done_callback(_retrieved)
            raise
        pid = live.execution.pid
        run = live.snapshot or store.get_run(run_id)
        if pid:  # queued now, ahead of any later write of the run; the run is followed meanwhile
            live.store_pid = self.ctx.disk.submit(self._store_pid, live, pid)
            live.store_pid.add_done_callback(functools.partial(self._pid_saved, live, pid))
            run = run.model_copy(update={"pid": pid})  # as the write under way will say
        recorder.flush()  # how it was started, written while it works
        live.task = asyncio.ensure_future(self._drive(live))
        return run

    @staticmethod
    def _store_pid(live: LiveRun, pid: int) -> Run | None:
        """On the store worker: the process id, unless the process has ended before the write's turn
        came (an instant command's often has): its end, written next, says all there is."""
        if live.exited:
            return None
        return live.store.update_run(live.run_id, _set_pid(pid))

    def _pid_saved(self, live: LiveRun, pid: int, saving: asyncio.Future[Run | None]) -> None:
        """The process id is on disk (what recovery and a cancel from another process go by), or
        the run's log says why not; the run goes on either way."""
        if saving.cancelled():
            return
        exc = saving.exception()
        if exc is not None:
            live.recorder.emit("system", f"could not record the process id {pid}: {exc}")
            return
        run = saving.result()
        if run is None:
            return
        if live.snapshot is None or run.updated_at >= live.snapshot.updated_at:
            live.snapshot = run
        self._publish(live.project, run)

    async def _drive(self, live: LiveRun) -> None:
        """Follow the run until a turn ends; a request mid-turn is decided by a rule or waits for the user,
        and the turn goes on."""
        assert live.execution is not None
        while True:
            try:
                outcome = await live.execution.next_outcome()
            except asyncio.CancelledError:
                outcome = Outcome(TaskState.CANCELLED, error="cancelled")
            except Exception as exc:  # an executor bug ends the run visibly
                outcome = Outcome(TaskState.ERROR, error=f"executor failed: {exc!r}")
            if live.cancelling or (outcome.request is None and outcome.withdrawn is None):
                break
            if outcome.request is not None:
                await self.decisions.on_request(live, outcome)
            else:
                await self.decisions.on_withdrawn(live, outcome)
        if live.execution is not None and not live.execution.alive:
            live.exited = True
        if live.store_pid is not None:  # its end is written after its process id, never before
            await asyncio.wait({live.store_pid})
            live.store_pid = None
        live.paused.clear()
        live.pending = None
        if live.detaching:
            return
        if live.cancelling and outcome.status != TaskState.AWAITING_RESPONSE:
            outcome.status = TaskState.CANCELLED
            outcome.error = live.cancel_reason if live.cancel_reason != CANCELLED else (outcome.error or CANCELLED)
        live.recorder.flush()
        if outcome.status == TaskState.AWAITING_RESPONSE:
            await self._await_answer(live, outcome)
        else:
            with live.lease:
                self.live.pop(live.run_id, None)
                await self._finish(live.project, live.store, live.run_id, outcome, live.snapshot, live.recorder.seq)

    async def _await_answer(self, live: LiveRun, outcome: Outcome) -> None:
        question = live.stop_question or outcome.question or "The agent is waiting for your answer."
        live.stop_question = None
        self.budgets.turn_ended(live.run_id)
        live.recorder.emit("question", question)
        live.recorder.flush()

        def change(run: Run) -> None:
            check_task_transition(run.status, TaskState.AWAITING_RESPONSE)
            run.status = TaskState.AWAITING_RESPONSE
            run.pending_question = Clarification(question=question)
            _accumulate(run, outcome)

        run = await self._update(live, change)
        self.ctx.record(live.project, ActivityType.RUN_AWAITING_RESPONSE, f"needs a response: {question[:120]}",
                        run_id=live.run_id, plan_id=run.plan_id, task_id=run.plan_task_id, actor="agent")
        if live.execution is None or not live.execution.alive:
            # Nothing keeps the process around; the answer will resume the session.
            self.live.pop(live.run_id, None)
            live.lease.release()

    async def _finish(self, project: Project, store: StateStore, run_id: str, outcome: Outcome,
                      known: Run | None = None, events: int | None = None) -> Run:
        """``known``: the run as this process last wrote it (one in place has no work to save);
        ``events``: how many events it has, all written (its recorder's count), or read from disk."""
        status = outcome.status if outcome.status.is_terminal else TaskState.ERROR
        self.budgets.turn_ended(run_id)
        ended_here: list[bool] = []
        saved = {} if known is not None and not known.worktree_path else await self._save_work(project, store, run_id)

        def change(run: Run) -> None:
            if run.status.is_terminal:
                return  # another process (a cancel) has already ended it, and said so
            ended_here.append(True)
            check_task_transition(run.status, status)
            run.status = status
            run.ended_at = utc_now()
            run.exit_code = outcome.exit_code
            run.summary = outcome.summary or run.summary
            run.error = outcome.error if status != TaskState.COMPLETE else None
            run.pending_question = None
            run.pid = None
            run.event_count = store.last_event_seq(run_id) if events is None else events
            for name, value in saved.items():
                setattr(run, name, value)
            _accumulate(run, outcome)

        run = await self.ctx.disk(store.update_run, run_id, change)
        if not ended_here:
            self._publish(project, run)
            return run
        kind = {TaskState.COMPLETE: ActivityType.RUN_COMPLETED, TaskState.CANCELLED: ActivityType.RUN_CANCELLED}.get(
            run.status, ActivityType.RUN_FAILED)
        text = run.summary if run.status == TaskState.COMPLETE else run.error
        self.ctx.record(project, kind, f"run {run.status.value.lower()}: {(text or '')[:160]}",
                        run_id=run_id, plan_id=run.plan_id, task_id=run.plan_task_id,
                        actor="agent" if run.status != TaskState.CANCELLED else "user")
        self._publish(project, run)
        return run

    async def _save_work(self, project: Project, store: StateStore, run_id: str) -> dict[str, object]:
        """A run in a worktree: what the agent left is committed on its branch before it is called ended."""
        run = store.get_run(run_id)
        if not run.worktree_path or run.status.is_terminal:
            return {}
        try:
            return await self.isolation.capture(run)
        except (PmdeskError, OSError) as exc:  # git failing, or gone: the files stay where they are
            recorder = self._recorder(store, run_id)
            recorder.emit("system", f"the worktree's changes could not be committed (they stay in "
                                    f"{run.worktree_path}): {exc}")
            recorder.flush()
            return {}

    async def wait(self, run_id: str) -> None:
        """Until the run ends or stops to wait for an answer or a decision."""
        live = self.live.get(run_id)
        if live is not None and live.task is not None and not live.paused.is_set():
            paused: asyncio.Future[object] = asyncio.ensure_future(live.paused.wait())
            ended: asyncio.Future[object] = asyncio.shield(live.task)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([ended, paused], return_when=asyncio.FIRST_COMPLETED)
            paused.cancel()

    async def until_decided(self, run_id: str) -> None:
        """While the run waits on a request mid-turn: until it is decided (or withdrawn, or the run ends)."""
        live = self.live.get(run_id)
        while live is not None and live.paused.is_set() and live.task is not None and not live.task.done():
            await asyncio.sleep(0.05)

    # -- answering ------------------------------------------------------------------

    async def respond(self, project: Project, run_id: str, text: str) -> Run:
        """Answer what the run waits for: a question's free answer, a denial's reason for a tool
        or a plan, the next message after a turn; or a message to an agent at work."""
        if not text.strip():
            raise BadInputError("the answer is empty")
        store = self.ctx.store(project)
        run = store.get_run(run_id)
        here = self.live.get(run_id)
        pending = here.pending if here is not None and here.pending is not None else run.pending_request
        if pending is not None:  # known here first while its record is being written
            return await self.decisions.answer_in_words(project, run_id, pending, text)
        if run.status == TaskState.RUNNING:
            return await self.decisions.message(project, run_id, text)
        if run.status != TaskState.AWAITING_RESPONSE:
            raise RunError(f"run {run_id} is {run.status.value}, not waiting for an answer")
        await self._within_budget(project, run)
        fresh = run_id not in self.live
        live = await self.held(project, run)
        answer = self.ctx.redactor.text(text)

        def change(r: Run) -> None:
            check_task_transition(r.status, TaskState.RUNNING)
            question = r.pending_question or Clarification(question="(question not recorded)")
            question.response = answer
            question.responded_at = utc_now()
            r.clarifications.append(question)
            r.pending_question = None
            r.status = TaskState.RUNNING
            r.owner_pid = os.getpid()

        try:  # the state changes first, under the store's lock: of two racing answers one wins
            run = await self._update(live, change)
        except IllegalTransitionError:
            if fresh:
                self.let_go(live)
            raise RunError(f"run {run_id} is no longer waiting for an answer (another answer came first)") from None
        live.recorder.emit("answer", answer)  # only the answer that was taken is in the log
        self.ctx.record(project, ActivityType.RUN_RESPONDED, f"answered: {answer[:120]}", run_id=run_id,
                        plan_id=run.plan_id, task_id=run.plan_task_id)
        return await self.go_on(live, run, text)

    async def go_on(self, live: LiveRun, run: Run, text: str) -> Run:
        """Hand ``text`` to the agent (its live process, or its session resumed) and follow it again."""
        try:
            if live.execution is not None and live.execution.alive:
                await live.execution.send(text)
            else:
                live.ctx.agent_session_id = run.agent_session_id
                live.execution = await live.executor.resume(live.ctx, text)
                if live.ctx.node and live.ctx.node != run.node:
                    run = await self._update(live, _set_fields(node=live.ctx.node))
        except (ExecutorError, OSError, ConnectionError) as exc:
            with live.lease:
                live.recorder.emit("system", f"could not continue: {exc}")
                live.recorder.flush()
                self.live.pop(live.run_id, None)
                return await self._finish(live.project, live.store, live.run_id,
                                          Outcome(TaskState.ERROR, error=str(exc)))
        run = (await self._update(live, _set_pid(live.execution.pid)) if live.execution.pid
               else live.store.get_run(live.run_id))
        if live.task is None or live.task.done():
            live.task = asyncio.ensure_future(self._drive(live))
        return run

    async def held(self, project: Project, run: Run) -> LiveRun:
        """The run's live record, made (with its executor, ready to resume) if this process has none."""
        live = self.live.get(run.run_id)
        if live is None:
            store = self.ctx.store(project)
            await preload_executor(run.executor)
            live = self._live(project, store, run, executor_for(self.ctx, run), self._recorder(store, run.run_id))
        return live

    def let_go(self, live: LiveRun) -> None:
        if self.live.get(live.run_id) is live and (live.task is None or live.task.done()):
            self.live.pop(live.run_id, None)
            live.lease.release()

    # -- cancelling ------------------------------------------------------------------

    async def cancel(self, project: Project, run_id: str, reason: str = CANCELLED) -> Run:
        """End the run CANCELLED, its whole tree; ``reason`` is what its record says (the user, or
        pmdesk stopping)."""
        store = self.ctx.store(project)
        run = store.get_run(run_id)
        if run.status.is_terminal:
            raise RunError(f"run {run_id} has already ended ({run.status.value})")
        live = self.live.get(run_id)
        if live is not None:
            live.cancelling = True
            live.cancel_reason = reason
            if live.execution is not None:
                await live.execution.cancel()
            if live.task is not None and not live.task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(live.task), 15)
            if run_id in self.live:  # it was waiting for an answer: no task to end it
                self.live.pop(run_id).lease.release()
        elif run.pid and pid_alive(run.pid):
            # Owned by a process that is gone or elsewhere: say CANCELLED first, then end the tree, so
            # the owner sees an ended run (not an agent that died of a signal, ERROR) and records nothing.
            current = await self._finish(project, store, run_id, Outcome(TaskState.CANCELLED, error=reason))
            kill_group_now(run.pid)
            return current
        current = store.get_run(run_id)
        if not current.status.is_terminal:
            current = await self._finish(project, store, run_id, Outcome(TaskState.CANCELLED, error=reason))
        return current

    async def detach(self) -> None:
        """Stop following: end processes of runs that wait for an answer (the answer will
        resume them from disk) and cancel any still working. Used when a client exits."""
        for run_id, live in list(self.live.items()):
            run = live.store.get_run(run_id)
            if run.status == TaskState.AWAITING_RESPONSE:
                live.detaching = True
                if live.execution is not None:
                    with contextlib.suppress(Exception):
                        await live.execution.cancel()
                if live.task is not None and not live.task.done():
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(asyncio.shield(live.task), 10)
                self.live.pop(run_id, None)
                live.lease.release()
            else:
                with contextlib.suppress(Exception):
                    await self.cancel(live.project, run_id, STOPPED)

    async def cancel_all(self) -> None:
        """pmdesk stops: every run still held here ends, and says why."""
        for run_id, live in list(self.live.items()):
            with contextlib.suppress(Exception):
                await self.cancel(live.project, run_id, STOPPED)

    # -- helpers -----------------------------------------------------------------------

    async def _set_status(self, live: LiveRun, status: TaskState, **fields: Any) -> Run:
        return await self._update(live, _to_status(status, **fields))

    async def _update(self, live: LiveRun, change: Callable[[Run], Any]) -> Run:
        run = await self.ctx.disk(live.store.update_run, live.run_id, change)
        live.snapshot = run
        self._publish(live.project, run)
        return run

    def _publish(self, project: Project, run: Run) -> None:
        self.ctx.publish_run(project, run)

    def _recorder(self, store: StateStore, run_id: str) -> EventRecorder:
        return EventRecorder(store, run_id, self.ctx.bus, self.ctx.redactor, store.last_event_seq(run_id))

    async def _stop_at_budget(self, project: Project, run_id: str, why: str) -> None:
        """A run crossed a budget while it worked: its turn is interrupted and it waits for its
        user, who raises the budget and answers it to go on (or cancels it)."""
        live = self.live.get(run_id)
        if live is None or live.cancelling or live.stop_question or live.execution is None or not live.execution.alive:
            return
        live.stop_question = f"Stopped at budget: {why}. Raise the budget, then answer to go on."
        live.recorder.emit("system", f"stopped at budget: {why}")
        run = live.snapshot or live.store.get_run(run_id)
        self.ctx.record(project, ActivityType.BUDGET_REACHED, f"run stopped at budget: {why}", run_id=run_id,
                        plan_id=run.plan_id, task_id=run.plan_task_id, actor="system", data={"reason": why})
        if run.plan_id:  # the plan says so too, until the budget is raised
            plan = await self.ctx.disk(live.store.update_plan, run.plan_id, lambda p: setattr(p, "budget_stop", why))
            self.ctx.publish_plan(project, plan)
        try:
            await live.execution.interrupt()
        except Exception:  # an agent that cannot be interrupted is ended instead: spending stops either way
            await self.cancel(project, run_id, reason=f"stopped at budget: {why}")

    async def _within_budget(self, project: Project, run: Run) -> None:
        """An answer would let the run spend again: refused while a budget it counts against is spent."""
        store = self.ctx.store(project)

        def why() -> str | None:
            plan = store.get_plan(run.plan_id) if run.plan_id else None
            return self.budgets.reason(project, plan)

        found = await asyncio.to_thread(why)
        if found:
            raise BudgetError(f"run {run.run_id} cannot go on: {found}. Raise the budget first (pmdesk budget).")

    def get(self, project: Project, run_id: str) -> Run:
        try:
            return self.ctx.store(project).get_run(run_id)
        except NotFoundError:
            raise RunError(f"no run {run_id} in project {project.name}", kind=ErrorKind.NOT_FOUND) from None


def _set_fields(**fields: Any) -> Callable[[Run], None]:
    def change(run: Run) -> None:
        for name, value in fields.items():
            setattr(run, name, value)

    return change


def _written(write: asyncio.Future[Run]) -> bool:
    return write.done() and not write.cancelled() and write.exception() is None


def _retrieved(write: asyncio.Future[Run]) -> None:
    """A write's outcome seen, so a failure that its caller has answered otherwise is not reported
    as never retrieved."""
    if not write.cancelled():
        write.exception()


def _to_status(status: TaskState, **fields: Any) -> Callable[[Run], None]:
    def change(run: Run) -> None:
        check_task_transition(run.status, status)
        run.status = status
        for name, value in fields.items():
            setattr(run, name, value)

    return change


def _set_pid(pid: int) -> Callable[[Run], None]:
    def change(run: Run) -> None:
        run.pid = pid

    return change


def _accumulate(run: Run, outcome: Outcome) -> None:
    run.usage = run.usage.add(outcome.usage)
    if outcome.cost_usd is not None:
        run.cost_usd = (run.cost_usd or 0.0) + outcome.cost_usd
    if outcome.agent_session_id:
        run.agent_session_id = outcome.agent_session_id
    if outcome.agent_version:
        run.agent_version = outcome.agent_version
