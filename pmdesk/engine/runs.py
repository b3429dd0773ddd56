"""Run lifecycle: create, start, follow, answer, cancel — one asyncio task per live run."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from pmdesk.engine.notifications import RunChanged
from pmdesk.engine.recorder import EventRecorder
from pmdesk.executors.base import Execution, Executor, ExecutorError, Outcome, RunContext
from pmdesk.executors.process import kill_group_now, pid_alive
from pmdesk.models import (
    ActivityType,
    Clarification,
    ExecutorKind,
    Project,
    Run,
    Session,
    TaskState,
    check_task_transition,
    new_id,
    utc_now,
)
from pmdesk.store import NotFoundError, StateStore

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine


class RunError(RuntimeError):
    """A user-facing refusal: wrong state, unknown run, nothing to answer."""


@dataclass
class LiveRun:
    project: Project
    store: StateStore
    run_id: str
    executor: Executor
    recorder: EventRecorder
    ctx: RunContext
    execution: Execution | None = None
    task: asyncio.Task[None] | None = None
    cancelling: bool = False


class NewRun(TypedDict, total=False):
    """What a new run may be given besides its project and prompt."""

    executor: ExecutorKind | None
    model: str | None
    command: str | None
    plan_id: str | None
    plan_task_id: str | None
    task_run_id: str | None


class RunService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.live: dict[str, LiveRun] = {}

    # -- creating ------------------------------------------------------------------

    def create(self, project: Project, prompt: str, **options: Unpack[NewRun]) -> Run:
        run = self.write_new(project, self.engine.store(project), prompt, **options)
        self.announce(project, run)
        return run

    def write_new(self, project: Project, store: StateStore, prompt: str, status: TaskState = TaskState.CREATED,
                  **options: Unpack[NewRun]) -> Run:
        """Save a new run and its session. Files only, so it may run on the store worker;
        ``announce`` it on the loop afterwards."""
        if not prompt.strip():
            raise RunError("the prompt is empty")
        prompt = self.engine.redactor.text(prompt)  # a pasted key is never stored (nor sent on)
        kind = options.get("executor") or self.engine.default_executor(project)
        settings = self.engine.run_settings(project, kind, options.get("model"), options.get("command"))
        session = Session(session_id=new_id("sess"), project_id=project.project_id, title=prompt[:80])
        run = Run(
            run_id=new_id("run"), project_id=project.project_id, session_id=session.session_id,
            prompt=prompt, executor=kind, model=settings.get("model"), plan_id=options.get("plan_id"),
            plan_task_id=options.get("plan_task_id"), task_run_id=options.get("task_run_id"), settings=settings,
            status=status,
        )
        session.run_ids.append(run.run_id)
        store.put_session(session)
        store.put_run(run)
        return run

    def announce(self, project: Project, run: Run) -> None:
        self.engine.record(project, ActivityType.RUN_CREATED, f"run created: {run.prompt[:80]}",
                           run_id=run.run_id, plan_id=run.plan_id, task_id=run.plan_task_id)
        self._publish(project, run)

    async def launch(self, project: Project, prompt: str, executor: ExecutorKind | None = None,
                     model: str | None = None, command: str | None = None) -> Run:
        """Create and start a run. A project another process owns is refused before anything is written."""
        self.engine.hold(project)
        try:
            run = await self.engine.disk(self.write_new, project, self.engine.store(project), prompt,
                                         executor=executor, model=model, command=command)
            self.announce(project, run)
            return await self.start(project, run.run_id)
        finally:
            self.engine.release(project)

    # -- starting and following ------------------------------------------------------

    def _context(self, project: Project, store: StateStore, run: Run, recorder: EventRecorder) -> RunContext:
        return RunContext(
            run_id=run.run_id, workdir=Path(project.path), prompt=run.prompt, model=run.model,
            emit=recorder.emit, emit_many=recorder.emit_many, state_dir=store.state_dir, options=dict(run.settings),
            agent_session_id=run.agent_session_id, env=self.engine.child_env(),
        )

    async def start(self, project: Project, run_id: str) -> Run:
        """Launch the run and return once its process is up (or it failed to start)."""
        store = self.engine.store(project)
        run = store.get_run(run_id)
        if run.status not in (TaskState.CREATED, TaskState.QUEUED):
            raise RunError(f"run {run_id} is {run.status.value}; only a new run can be started")
        recorder = EventRecorder(store, run_id, self.engine.bus, self.engine.redactor, store.last_event_seq(run_id))
        ctx = self._context(project, store, run, recorder)
        self.engine.hold(project)
        try:
            executor = self.engine.executor_for(run)
            live = LiveRun(project, store, run_id, executor, recorder, ctx)
            self.live[run_id] = live
            await self._set_status(live, TaskState.RUNNING, started_at=utc_now(), owner_pid=os.getpid())
            self.engine.record(project, ActivityType.RUN_STARTED, "run started", run_id=run_id,
                               plan_id=run.plan_id, task_id=run.plan_task_id)
            live.execution = await executor.start(ctx)
        except (ExecutorError, OSError) as exc:
            self.live.pop(run_id, None)
            recorder.emit("system", f"could not start: {exc}")
            recorder.flush()
            failed = await self._finish(project, store, run_id, Outcome(TaskState.ERROR, error=str(exc)))
            self.engine.release(project)
            return failed
        run = await self._update(live, _set_pid(live.execution.pid)) if live.execution.pid else store.get_run(run_id)
        live.task = asyncio.ensure_future(self._drive(live))
        return run

    async def _drive(self, live: LiveRun) -> None:
        assert live.execution is not None
        try:
            outcome = await live.execution.next_outcome()
        except asyncio.CancelledError:
            outcome = Outcome(TaskState.CANCELLED, error="cancelled")
        except Exception as exc:  # an executor bug ends the run visibly
            outcome = Outcome(TaskState.ERROR, error=f"executor failed: {exc!r}")
        if live.cancelling and outcome.status != TaskState.AWAITING_RESPONSE:
            outcome.status = TaskState.CANCELLED
            outcome.error = outcome.error or "cancelled by the user"
        live.recorder.flush()
        if outcome.status == TaskState.AWAITING_RESPONSE:
            await self._await_answer(live, outcome)
        else:
            self.live.pop(live.run_id, None)
            await self._finish(live.project, live.store, live.run_id, outcome)
            self.engine.release(live.project)

    async def _await_answer(self, live: LiveRun, outcome: Outcome) -> None:
        question = outcome.question or "The agent is waiting for your answer."
        live.recorder.emit("question", question)
        live.recorder.flush()

        def change(run: Run) -> None:
            check_task_transition(run.status, TaskState.AWAITING_RESPONSE)
            run.status = TaskState.AWAITING_RESPONSE
            run.pending_question = Clarification(question=question)
            _accumulate(run, outcome)

        run = await self._update(live, change)
        self.engine.record(live.project, ActivityType.RUN_AWAITING_RESPONSE, f"needs a response: {question[:120]}",
                           run_id=live.run_id, plan_id=run.plan_id, task_id=run.plan_task_id, actor="agent")
        if live.execution is None or not live.execution.alive:
            # Nothing keeps the process around; the answer will resume the session.
            self.live.pop(live.run_id, None)
            self.engine.release(live.project)

    async def _finish(self, project: Project, store: StateStore, run_id: str, outcome: Outcome) -> Run:
        status = outcome.status if outcome.status.is_terminal else TaskState.ERROR

        def change(run: Run) -> None:
            if run.status.is_terminal:
                return  # another process (a cancel) has already ended it
            check_task_transition(run.status, status)
            run.status = status
            run.ended_at = utc_now()
            run.exit_code = outcome.exit_code
            run.summary = outcome.summary or run.summary
            run.error = outcome.error if status != TaskState.COMPLETE else None
            run.pending_question = None
            run.pid = None
            run.event_count = store.last_event_seq(run_id)
            _accumulate(run, outcome)

        run = await self.engine.disk(store.update_run, run_id, change)
        kind = {TaskState.COMPLETE: ActivityType.RUN_COMPLETED, TaskState.CANCELLED: ActivityType.RUN_CANCELLED}.get(
            run.status, ActivityType.RUN_FAILED)
        text = run.summary if run.status == TaskState.COMPLETE else run.error
        self.engine.record(project, kind, f"run {run.status.value.lower()}: {(text or '')[:160]}",
                           run_id=run_id, plan_id=run.plan_id, task_id=run.plan_task_id,
                           actor="agent" if run.status != TaskState.CANCELLED else "user")
        self._publish(project, run)
        return run

    async def wait(self, run_id: str) -> None:
        """Until the run ends or stops to wait for an answer (its drive task returns)."""
        live = self.live.get(run_id)
        if live is not None and live.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(live.task)

    # -- answering ------------------------------------------------------------------

    async def respond(self, project: Project, run_id: str, text: str) -> Run:
        if not text.strip():
            raise RunError("the answer is empty")
        store = self.engine.store(project)
        run = store.get_run(run_id)
        if run.status != TaskState.AWAITING_RESPONSE:
            raise RunError(f"run {run_id} is {run.status.value}, not waiting for an answer")
        live = self.live.get(run_id)
        if live is None:
            recorder = EventRecorder(store, run_id, self.engine.bus, self.engine.redactor, store.last_event_seq(run_id))
            ctx = self._context(project, store, run, recorder)
            live = LiveRun(project, store, run_id, self.engine.executor_for(run), recorder, ctx)
            self.engine.hold(project)
            self.live[run_id] = live
        answer = self.engine.redactor.text(text)
        live.recorder.emit("answer", answer)

        def change(r: Run) -> None:
            check_task_transition(r.status, TaskState.RUNNING)
            question = r.pending_question or Clarification(question="(question not recorded)")
            question.response = answer
            question.responded_at = utc_now()
            r.clarifications.append(question)
            r.pending_question = None
            r.status = TaskState.RUNNING
            r.owner_pid = os.getpid()

        run = await self._update(live, change)
        self.engine.record(project, ActivityType.RUN_RESPONDED, f"answered: {answer[:120]}", run_id=run_id,
                           plan_id=run.plan_id, task_id=run.plan_task_id)
        try:
            if live.execution is not None and live.execution.alive:
                await live.execution.send(text)
            else:
                live.ctx.agent_session_id = run.agent_session_id
                live.execution = await live.executor.resume(live.ctx, text)
        except (ExecutorError, OSError, ConnectionError) as exc:
            live.recorder.emit("system", f"could not continue: {exc}")
            live.recorder.flush()
            self.live.pop(run_id, None)
            self.engine.release(project)
            return await self._finish(project, store, run_id, Outcome(TaskState.ERROR, error=str(exc)))
        run = await self._update(live, _set_pid(live.execution.pid)) if live.execution.pid else store.get_run(run_id)
        live.task = asyncio.ensure_future(self._drive(live))
        return run

    # -- cancelling ------------------------------------------------------------------

    async def cancel(self, project: Project, run_id: str) -> Run:
        store = self.engine.store(project)
        run = store.get_run(run_id)
        if run.status.is_terminal:
            raise RunError(f"run {run_id} has already ended ({run.status.value})")
        live = self.live.get(run_id)
        if live is not None:
            live.cancelling = True
            if live.execution is not None:
                await live.execution.cancel()
            if live.task is not None and not live.task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(live.task), 15)
            if run_id in self.live:  # it was waiting for an answer: no task to end it
                self.live.pop(run_id, None)
                self.engine.release(project)
        elif run.pid and pid_alive(run.pid):
            kill_group_now(run.pid)  # owned by a process that is gone or elsewhere
        current = store.get_run(run_id)
        if not current.status.is_terminal:
            current = await self._finish(project, store, run_id,
                                         Outcome(TaskState.CANCELLED, error="cancelled by the user"))
        return current

    async def detach(self) -> None:
        """Stop following: end processes of runs that wait for an answer (the answer will
        resume them from disk) and cancel any still working. Used when a client exits."""
        for run_id, live in list(self.live.items()):
            run = live.store.get_run(run_id)
            if run.status == TaskState.AWAITING_RESPONSE:
                if live.execution is not None:
                    with contextlib.suppress(Exception):
                        await live.execution.cancel()
                self.live.pop(run_id, None)
                self.engine.release(live.project)
            else:
                with contextlib.suppress(Exception):
                    await self.cancel(live.project, run_id)

    async def cancel_all(self) -> None:
        for run_id, live in list(self.live.items()):
            with contextlib.suppress(Exception):
                await self.cancel(live.project, run_id)

    # -- helpers -----------------------------------------------------------------------

    async def _set_status(self, live: LiveRun, status: TaskState, **fields: Any) -> Run:
        def change(run: Run) -> None:
            check_task_transition(run.status, status)
            run.status = status
            for name, value in fields.items():
                setattr(run, name, value)

        return await self._update(live, change)

    async def _update(self, live: LiveRun, change: Callable[[Run], Any]) -> Run:
        run = await self.engine.disk(live.store.update_run, live.run_id, change)
        self._publish(live.project, run)
        return run

    def _publish(self, project: Project, run: Run) -> None:
        self.engine.bus.publish(RunChanged(project.project_id, run))

    def get(self, project: Project, run_id: str) -> Run:
        try:
            return self.engine.store(project).get_run(run_id)
        except NotFoundError:
            raise RunError(f"no run {run_id} in project {project.name}") from None


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
