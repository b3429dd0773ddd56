"""The Autonomous Loop's plan operations: create, dispatch, schedule, verify, cancel, recover."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmdesk.engine.gates import GateConfigError, GateProcess, gates_for
from pmdesk.engine.notifications import Change, GateProgress, PlanChanged, RunChanged
from pmdesk.engine.planning import (
    PlanAnswer,
    PlanGenerationError,
    ask_model_for_plan,
    tasks_from_answer,
    validate_answer,
)
from pmdesk.engine.recorder import EventRecorder
from pmdesk.executors.base import ExecutorError
from pmdesk.models import (
    ActivityType,
    DispatchedRun,
    DispatchResponse,
    ExecutorKind,
    GateCheck,
    GateResult,
    Plan,
    PlanStatus,
    PlanTask,
    Project,
    Run,
    TaskState,
    check_plan_transition,
    check_task_transition,
    new_id,
    utc_now,
)
from pmdesk.store import NotFoundError, StateStore, StoreError

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine

VERIFY_PROMPT = "Execute gate:all verification"


class PlanStateError(RuntimeError):
    """The plan is not in a state that allows this action (HTTP 409)."""


@dataclass
class PlanJob:
    """The live scheduler (or verifier) of one plan in this process."""

    project: Project
    plan_id: str
    limit: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    cancelled: bool = False
    gates: list[GateProcess] = field(default_factory=list)  # verify's running gate, and the next one
    runs: dict[str, Run] = field(default_factory=dict)  # the latest of its runs, as published
    reread: bool = True  # read every task's run from disk on the next pass, not only those published


class PlanLoop:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs: dict[str, PlanJob] = {}
        engine.bus.subscribe(self._on_change, only=(RunChanged,))

    def _on_change(self, change: Change) -> None:
        if isinstance(change, RunChanged) and change.run.plan_id in self.jobs:
            job = self.jobs[change.run.plan_id]
            job.runs[change.run.run_id] = change.run
            job.wake.set()

    def _publish(self, project: Project, plan: Plan) -> None:
        self.engine.bus.publish(PlanChanged(project.project_id, plan))

    async def _update(self, project: Project, plan_id: str, change: Callable[[Plan], Any]) -> Plan:
        """Change the plan on the store worker, then tell the listeners."""
        plan = await self.engine.disk(self.engine.store(project).update_plan, plan_id, change)
        self._publish(project, plan)
        return plan

    def update_now(self, project: Project, plan_id: str, change: Callable[[Plan], Any]) -> Plan:
        """The same on the caller's thread: for one-off edits and for recovery, before work starts."""
        plan = self.engine.store(project).update_plan(plan_id, change)
        self._publish(project, plan)
        return plan

    async def _transition(self, project: Project, plan_id: str, target: PlanStatus, **fields: Any) -> Plan:
        return await self._update(project, plan_id, moving_to(target, **fields))

    # -- Plan ---------------------------------------------------------------------------------

    async def create_plan(self, project: Project, packet_id: str, model: str | None = None) -> Plan:
        """Ask the model for a plan. Every failure is a FAILED plan with a plan_generation check."""
        store = self.engine.store(project)
        project = self.engine.project_settings(project)
        chosen = model or project.settings.default_model or self.engine.settings.default_model
        packet = None
        try:
            packet = store.get_packet(packet_id)
            answer = await ask_model_for_plan(packet, chosen)
            tasks = tasks_from_answer(answer)
            summary = answer.summary
            error = None
        except NotFoundError:
            tasks, summary, error = [], None, f"inspection packet {packet_id} is not in project {project.name}"
        except StoreError as exc:
            tasks, summary, error = [], None, f"inspection packet {packet_id} could not be read: {exc}"
        except ValueError as exc:  # InvalidIdError or PlanGenerationError
            tasks, summary, error = [], None, str(exc)
        return self._save_new_plan(project, tasks, summary, error, chosen,
                                   packet_id=packet.packet_id if packet else None,
                                   run_id=packet.run_id if packet else None)

    def plan_from_answer(self, project: Project, raw: Any, packet_id: str | None = None) -> Plan:
        """A plan written by hand or by a script, in the submit_plan format (same checks)."""
        run_id = None
        if packet_id:
            run_id = self.engine.store(project).get_packet(packet_id).run_id
        try:
            answer: PlanAnswer = validate_answer(raw)
        except PlanGenerationError as exc:
            return self._save_new_plan(project, [], None, str(exc), None, packet_id=packet_id, run_id=run_id)
        return self._save_new_plan(project, tasks_from_answer(answer), answer.summary, None, None,
                                   packet_id=packet_id, run_id=run_id)

    def _save_new_plan(self, project: Project, tasks: list[PlanTask], summary: str | None, error: str | None,
                       model: str | None, packet_id: str | None, run_id: str | None) -> Plan:
        plan = Plan(plan_id=new_id("plan"), project_id=project.project_id, packet_id=packet_id,
                    run_id=run_id, tasks=tasks, summary=summary, model=model)
        if error:
            plan.status = PlanStatus.FAILED
            plan.gate_result = GateResult(passed=False, checks=[
                GateCheck(name="plan_generation", passed=False, message=error)])
        store = self.engine.store(project)
        store.put_plan(plan)
        self.engine.record(project, ActivityType.PLAN_CREATED,
                           f"plan created with {len(tasks)} tasks" if not error else "plan generation failed",
                           plan_id=plan.plan_id, packet_id=packet_id, run_id=run_id, actor="planner")
        if error:
            self.engine.record(project, ActivityType.PLAN_FAILED, f"plan_generation: {error}",
                               plan_id=plan.plan_id, actor="planner")
        self._publish(project, plan)
        return plan

    def edit_tasks(self, project: Project, plan_id: str, raw: Any) -> Plan:
        """Replace a DRAFT plan's tasks with an edited list (submit_plan format)."""
        answer = validate_answer(raw)

        def change(plan: Plan) -> None:
            if plan.status != PlanStatus.DRAFT:
                raise PlanStateError(f"plan {plan_id} is {plan.status.value}; only a DRAFT plan can be edited")
            plan.tasks = tasks_from_answer(answer)
            plan.summary = answer.summary or plan.summary

        return self.update_now(project, plan_id, change)

    # -- Dispatch -------------------------------------------------------------------------------

    async def dispatch(self, project: Project, plan_id: str, parallel: bool = True,
                       max_parallel: int | None = None, executor: ExecutorKind | None = None,
                       model: str | None = None, command: str | None = None) -> DispatchResponse:
        store = self.engine.store(project)
        plan = store.get_plan(plan_id)
        if plan.status != PlanStatus.DRAFT:
            raise PlanStateError(f"plan {plan_id} is {plan.status.value}; only a DRAFT plan can be dispatched")
        if not plan.tasks:
            raise PlanStateError(f"plan {plan_id} has no tasks")
        project = self.engine.project_settings(project)
        limit = 1 if not parallel else (max_parallel or project.settings.concurrency or self.engine.settings.concurrency)
        self.engine.hold(project)
        try:
            await self._transition(project, plan_id, PlanStatus.DISPATCHING, executed_at=utc_now())
            self.engine.record(project, ActivityType.PLAN_DISPATCHED,
                               f"plan dispatched: {len(plan.tasks)} tasks, at most {limit} at once",
                               plan_id=plan_id, data={"parallel": parallel, "maxParallel": limit})
            ordered = sorted(plan.tasks, key=lambda t: t.priority)
            made = await self.engine.disk(self._write_task_runs, project, store, plan_id, ordered, executor, model, command)
            runs: list[DispatchedRun] = []
            for task_id, run in made.items():
                if isinstance(run, Run):
                    self.engine.runs.announce(project, run)
                    runs.append(DispatchedRun(task_id=task_id, run_id=run.run_id))
            plan = await self._update(project, plan_id, _queued(made))
        except BaseException:
            self.engine.release(project)
            raise
        self._start_job(project, plan_id, limit)
        self.engine.release(project)  # the job holds the project from here on
        return DispatchResponse(plan_id=plan_id, status=plan.status, runs=runs, executed_at=plan.executed_at)

    def _write_task_runs(self, project: Project, store: StateStore, plan_id: str, tasks: list[PlanTask],
                         executor: ExecutorKind | None, model: str | None, command: str | None) -> dict[str, Run | str]:
        """Each task's run, saved QUEUED, or why it could not be (on the store worker)."""
        made: dict[str, Run | str] = {}
        for task in tasks:
            try:
                made[task.task_id] = self.engine.runs.write_new(
                    project, store, task.description, executor=executor, model=model, command=command,
                    plan_id=plan_id, plan_task_id=task.task_id, status=TaskState.QUEUED)
            except (ExecutorError, StoreError, ValueError) as exc:
                made[task.task_id] = f"could not create a run: {exc}"
        return made

    def continue_plan(self, project: Project, plan_id: str, max_parallel: int | None = None) -> bool:
        """Resume scheduling a RUNNING plan (after a restart or a foreground CLI exit)."""
        if plan_id in self.jobs:
            return True
        plan = self.engine.store(project).get_plan(plan_id)
        if plan.status != PlanStatus.RUNNING or all(t.status.is_terminal for t in plan.tasks):
            return False
        project = self.engine.project_settings(project)
        self._start_job(project, plan_id, max_parallel or project.settings.concurrency)
        return True

    def _start_job(self, project: Project, plan_id: str, limit: int) -> PlanJob:
        job = PlanJob(project, plan_id, max(1, limit))
        self.jobs[plan_id] = job
        self.engine.hold(project)
        job.task = asyncio.ensure_future(self._schedule(job))
        return job

    async def _schedule(self, job: PlanJob) -> None:
        project, plan_id = job.project, job.plan_id
        try:
            while not job.cancelled:
                job.wake.clear()
                plan = await self._sync_tasks(job)
                if plan.status != PlanStatus.RUNNING:
                    return
                by_id = {t.task_id: t for t in plan.tasks}
                for task in list(plan.tasks):
                    if task.status != TaskState.QUEUED:
                        continue
                    failed = [d for d in task.dependencies if by_id.get(d) and by_id[d].status in
                              (TaskState.ERROR, TaskState.CANCELLED)]
                    if failed:
                        dep = by_id[failed[0]]
                        plan = await self._cancel_task(project, plan_id, task,
                                                       f"not started: dependency {dep.task_id} ended {dep.status.value}")
                active = [t for t in plan.tasks if t.status in (TaskState.RUNNING, TaskState.AWAITING_RESPONSE)]
                ready = sorted(
                    (t for t in plan.tasks if t.status == TaskState.QUEUED
                     and all(by_id.get(d) is not None and _status(plan, d) == TaskState.COMPLETE for d in t.dependencies)),
                    key=lambda t: t.priority,
                )
                for task in ready[: max(0, job.limit - len(active))]:
                    await self._start_task(project, plan_id, task)
                plan = await self._sync_tasks(job)
                if all(t.status.is_terminal for t in plan.tasks):
                    await self._complete(project, plan)
                    return
                if not any(t.status in (TaskState.RUNNING, TaskState.AWAITING_RESPONSE) for t in plan.tasks) and not any(
                    t.status == TaskState.QUEUED and all(_status(plan, d) == TaskState.COMPLETE for d in t.dependencies)
                    for t in plan.tasks
                ):
                    # Nothing running and nothing startable: only possible with queued tasks whose
                    # dependencies are gone; they were cancelled above, so look again.
                    continue
                try:
                    await asyncio.wait_for(job.wake.wait(), 2.0)
                except TimeoutError:
                    job.reread = True  # quiet for a while: look at every run on disk, not only what was published
        finally:
            self.jobs.pop(plan_id, None)
            self.engine.release(project)

    async def _start_task(self, project: Project, plan_id: str, task: PlanTask) -> None:
        assert task.run_id is not None
        try:
            run = await self.engine.runs.start(project, task.run_id)
        except (ExecutorError, StoreError, RuntimeError) as exc:
            await self._set_task(project, plan_id, task.task_id, TaskState.ERROR, error=f"could not start: {exc}")
            return
        if run.status == TaskState.ERROR:
            await self._set_task(project, plan_id, task.task_id, TaskState.ERROR, error=run.error)

    async def _cancel_task(self, project: Project, plan_id: str, task: PlanTask, reason: str) -> Plan:
        if task.run_id:
            with contextlib.suppress(Exception):
                await self.engine.runs.cancel(project, task.run_id)
        return await self._set_task(project, plan_id, task.task_id, TaskState.CANCELLED, error=reason)

    async def _set_task(self, project: Project, plan_id: str, task_id: str, status: TaskState, **fields: Any) -> Plan:
        def change(plan: Plan) -> None:
            task = plan.task(task_id)
            if task.status != status:
                if task.status.is_terminal:
                    return
                check_task_transition(task.status, status)
                task.status = status
            for name, value in fields.items():
                setattr(task, name, value)

        return await self._update(project, plan_id, change)

    async def _sync_tasks(self, job: PlanJob) -> Plan:
        """Mirror the task's runs onto the plan, on the store worker: the runs this process
        published, or every run when ``job.reread`` asks for a look at the disk."""
        known, job.reread = (None if job.reread else dict(job.runs)), False
        plan, changed = await self.engine.disk(mirror_runs, self.engine.store(job.project), job.plan_id, known)
        if changed:
            self._publish(job.project, plan)
        return plan

    async def _complete(self, project: Project, plan: Plan) -> None:
        change, kind, message = _completion(plan)
        await self._update(project, plan.plan_id, change)
        self.engine.record(project, kind, message, plan_id=plan.plan_id, actor="system")

    async def wait(self, plan_id: str) -> None:
        job = self.jobs.get(plan_id)
        if job is not None and job.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(job.task)

    def all_settled(self, project: Project, plan_id: str) -> bool:
        """True when every task has ended or waits for an answer: a foreground command may stop."""
        plan = self.engine.store(project).get_plan(plan_id)
        if plan.status != PlanStatus.RUNNING:
            return True
        return all(t.status.is_terminal or t.status == TaskState.AWAITING_RESPONSE for t in plan.tasks) or (
            any(t.status == TaskState.AWAITING_RESPONSE for t in plan.tasks)
            and not any(t.status == TaskState.RUNNING for t in plan.tasks)
        )

    # -- Verify ------------------------------------------------------------------------------------

    async def verify(self, project: Project, plan_id: str, force: bool = False) -> Plan:
        store = self.engine.store(project)
        plan = store.get_plan(plan_id)
        if plan.status == PlanStatus.RUNNING:
            not_done = [t for t in plan.tasks if t.status != TaskState.COMPLETE]
            live = [t for t in not_done if not t.status.is_terminal]
            if live:
                raise PlanStateError(f"plan {plan_id} still has {len(live)} unfinished task(s)")
            if not_done and not force:
                raise PlanStateError(
                    f"{len(not_done)} task(s) of plan {plan_id} did not complete; verify with --force to run the gates anyway")
        elif plan.status != PlanStatus.FAILED:
            raise PlanStateError(
                f"plan {plan_id} is {plan.status.value}; verify needs a RUNNING plan whose tasks are complete, or a FAILED plan")
        if plan_id in self.jobs:
            raise PlanStateError(f"plan {plan_id} is still being dispatched or verified")
        project = self.engine.project_settings(project)
        try:
            gates = gates_for(Path(project.path), project.settings.gates)
        except GateConfigError as exc:
            raise PlanStateError(str(exc)) from None
        self.engine.hold(project)
        job = PlanJob(project, plan_id, 1)
        self.jobs[plan_id] = job
        try:
            return await self._verify(job, gates)
        finally:
            self.jobs.pop(plan_id, None)
            self.engine.release(project)

    async def _verify(self, job: PlanJob, gates: list[Any]) -> Plan:
        project, plan_id = job.project, job.plan_id
        store = self.engine.store(project)
        run = Run(run_id=new_id("run"), project_id=project.project_id, prompt=VERIFY_PROMPT,
                  task_run_id=f"verify_{plan_id}", executor=ExecutorKind.GATE, plan_id=plan_id,
                  settings={"gates": [g.name for g in gates]}, status=TaskState.RUNNING, started_at=utc_now())
        run = await self.engine.disk(store.put_run, run)
        self.engine.bus.publish(RunChanged(project.project_id, run))
        await self._transition(project, plan_id, PlanStatus.VERIFYING, verify_run_id=run.run_id, gate_result=None,
                               verified_at=None)
        self.engine.record(project, ActivityType.PLAN_VERIFY_STARTED, f"gate:all started ({len(gates)} gates)",
                           plan_id=plan_id, run_id=run.run_id)
        recorder = EventRecorder(store, run.run_id, self.engine.bus, self.engine.redactor)
        bus = self.engine.bus
        for gate in gates:
            bus.publish(GateProgress(project.project_id, plan_id, gate.name, "waiting" if gate.argv else "skipped"))
        checks: list[GateCheck] = []
        env = self.engine.child_env()
        cwd = Path(project.path)
        ahead: GateProcess | None = None  # the next gate, started when the one before it exited
        for index, gate in enumerate(gates):
            if job.cancelled:
                break
            if gate.argv is None:
                checks.append(GateCheck(name=gate.name, passed=True, skipped=True, message=f"skipped: {gate.reason}", duration=0))
                recorder.emit("gate", f"[SKIP] {gate.name}: {gate.reason}", {"gate": gate.name})
                continue
            bus.publish(GateProgress(project.project_id, plan_id, gate.name, "running"))
            recorder.emit("gate", f"$ {' '.join(gate.argv)}", {"gate": gate.name, "argv": gate.argv})
            process = ahead or GateProcess(gate, cwd, env)
            if ahead is None:
                job.gates.append(process)
                await process.start()
            ahead = None

            def on_lines(lines: list[str], name: str = gate.name) -> None:
                recorder.emit_many("gate", lines, {"gate": name})

            reading = asyncio.ensure_future(process.finish(on_lines))
            await process.exited()
            following = next((g for g in gates[index + 1:] if g.argv is not None), None)
            if following is not None and not job.cancelled:
                ahead = GateProcess(following, cwd, env)
                job.gates.append(ahead)
                await ahead.start()
            check = await reading
            job.gates.remove(process)
            checks.append(check)
            recorder.emit("gate", f"{'✓' if check.passed else '✗'} {gate.name} ({check.duration} ms): {check.message}",
                          {"gate": gate.name, "passed": check.passed, "duration": check.duration})
            bus.publish(GateProgress(project.project_id, plan_id, gate.name, "passed" if check.passed else "failed",
                                     check.duration, check.message))
        if ahead is not None:  # cancelled while the next gate had started
            await ahead.cancel()
            await ahead.finish(lambda lines: None)
            job.gates.remove(ahead)
        recorder.flush()
        ran = [c for c in checks if not c.skipped]
        passed = bool(ran) and all(c.passed for c in ran) and not job.cancelled
        result = GateResult(passed=passed, checks=checks)
        failed_names = [c.name for c in ran if not c.passed]

        def finish_run(r: Run) -> None:
            if r.status.is_terminal:
                return
            target = TaskState.CANCELLED if job.cancelled else (TaskState.COMPLETE if passed else TaskState.ERROR)
            _set_run_status(r, target)
            r.ended_at = utc_now()
            r.event_count = recorder.seq
            r.summary = "all gates passed" if passed else None
            r.error = None if passed else ("cancelled by the user" if job.cancelled else f"failed: {', '.join(failed_names)}")

        run = await self.engine.disk(store.update_run, run.run_id, finish_run)
        bus.publish(RunChanged(project.project_id, run))
        if job.cancelled:
            plan = await self._transition(project, plan_id, PlanStatus.CANCELLED, gate_result=result)
            self.engine.record(project, ActivityType.PLAN_CANCELLED, "verification cancelled", plan_id=plan_id)
            return plan
        status = PlanStatus.VERIFIED if passed else PlanStatus.FAILED
        plan = await self._transition(project, plan_id, status, gate_result=result, verified_at=utc_now())
        if passed:
            self.engine.record(project, ActivityType.PLAN_VERIFIED, f"gate:all passed ({len(ran)} gates)",
                               plan_id=plan_id, run_id=run.run_id, actor="system")
        else:
            self.engine.record(project, ActivityType.PLAN_FAILED, f"gate:all failed: {', '.join(failed_names) or 'nothing ran'}",
                               plan_id=plan_id, run_id=run.run_id, actor="system")
        return plan

    # -- Cancel --------------------------------------------------------------------------------------

    async def cancel(self, project: Project, plan_id: str) -> Plan:
        store = self.engine.store(project)
        plan = store.get_plan(plan_id)
        if plan.status in (PlanStatus.VERIFIED, PlanStatus.CANCELLED, PlanStatus.FAILED):
            raise PlanStateError(f"plan {plan_id} has already ended ({plan.status.value})")
        job = self.jobs.get(plan_id)
        if job is not None:
            job.cancelled = True
            job.wake.set()
            for gate in list(job.gates):
                await gate.cancel()
        if plan.status == PlanStatus.VERIFYING and job is not None and job.task is None:
            # _verify finishes the plan itself once its gate process has ended
            for _ in range(100):
                if store.get_plan(plan_id).status != PlanStatus.VERIFYING:
                    break
                await asyncio.sleep(0.05)
            return store.get_plan(plan_id)
        for task in plan.tasks:
            if not task.status.is_terminal:
                await self._cancel_task(project, plan_id, task, "cancelled by the user")
        if job is not None and job.task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(job.task), 10)
        current = store.get_plan(plan_id)
        if current.status not in (PlanStatus.CANCELLED, PlanStatus.VERIFIED, PlanStatus.FAILED):
            current = await self._transition(project, plan_id, PlanStatus.CANCELLED)
            self.engine.record(project, ActivityType.PLAN_CANCELLED, "plan cancelled", plan_id=plan_id)
        return current


def moving_to(target: PlanStatus, **fields: Any) -> Callable[[Plan], None]:
    """A plan change: to ``target`` (checked), with ``fields`` set."""
    def change(plan: Plan) -> None:
        check_plan_transition(plan.status, target)
        plan.status = target
        for name, value in fields.items():
            setattr(plan, name, value)

    return change


def _queued(made: dict[str, Run | str]) -> Callable[[Plan], None]:
    """Dispatch's one write: each task QUEUED with its run, or ERROR with why it has none; plan RUNNING."""
    def change(plan: Plan) -> None:
        for task in plan.tasks:
            run = made.get(task.task_id)
            if isinstance(run, Run):
                check_task_transition(task.status, TaskState.QUEUED)
                task.status, task.run_id = TaskState.QUEUED, run.run_id
            elif run is not None:
                check_task_transition(task.status, TaskState.ERROR)
                task.status, task.error = TaskState.ERROR, run
        moving_to(PlanStatus.RUNNING)(plan)

    return change


def _completion(plan: Plan) -> tuple[Callable[[Plan], None], ActivityType, str]:
    """Every task has ended: the plan's change and the activity that says so."""
    completed = sum(t.status == TaskState.COMPLETE for t in plan.tasks)
    if completed == 0:
        return moving_to(PlanStatus.FAILED, completed_at=utc_now()), ActivityType.PLAN_FAILED, \
            "plan failed: no task completed"

    def change(p: Plan) -> None:
        p.completed_at = utc_now()

    return change, ActivityType.PLAN_COMPLETED, f"plan completed: {completed} of {len(plan.tasks)} tasks complete"


def mirror_runs(store: StateStore, plan_id: str, known: dict[str, Run] | None) -> tuple[Plan, bool]:
    """Each unfinished task takes its run's status; written only when something changed.

    ``known`` holds the runs to look at (the latest published); None reads every task's run
    from disk. Returns the plan and whether it was written. Files only: for the store worker.
    """
    plan = store.get_plan(plan_id)
    updates: dict[str, Run] = {}
    for task in plan.tasks:
        if task.run_id and not task.status.is_terminal:
            if known is not None:
                run = known.get(task.run_id)
                if run is None:
                    continue
            else:
                try:
                    run = store.get_run(task.run_id)
                except StoreError:
                    continue
            if run.status != task.status and run.status != TaskState.CREATED:
                updates[task.task_id] = run
    if not updates:
        return plan, False

    def change(p: Plan) -> None:
        for task in p.tasks:
            run = updates.get(task.task_id)
            if run is None or task.status.is_terminal:
                continue
            target = run.status
            if target == TaskState.QUEUED or task.status == target:
                continue
            if target not in _reachable(task.status):
                continue
            if task.status == TaskState.QUEUED and target in (TaskState.AWAITING_RESPONSE,):
                task.status = TaskState.RUNNING
            task.status = target
            if target in (TaskState.ERROR, TaskState.CANCELLED):
                task.error = run.error

    return store.update_plan(plan_id, change), True


def _status(plan: Plan, task_id: str) -> TaskState | None:
    for task in plan.tasks:
        if task.task_id == task_id:
            return task.status
    return None


def _reachable(current: TaskState) -> set[TaskState]:
    """States a task may jump to when mirroring its run (intermediate steps may be missed)."""
    from pmdesk.models.transitions import TASK_TRANSITIONS

    seen: set[TaskState] = set()
    frontier = [current]
    while frontier:
        state = frontier.pop()
        for nxt in TASK_TRANSITIONS[state]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def _set_run_status(run: Run, target: TaskState) -> None:
    check_task_transition(run.status, target)
    run.status = target


def recompute_plans_after_crash(engine: Engine, project: Project) -> list[str]:
    """DISPATCHING/RUNNING/VERIFYING plans of a dead process: tasks mirrored, nothing re-run."""
    store = engine.store(project)
    loop: PlanLoop = engine.loop
    notes: list[str] = []
    for summary in store.list_plans():
        if summary.status not in (PlanStatus.DISPATCHING, PlanStatus.RUNNING, PlanStatus.VERIFYING):
            continue
        if summary.plan_id in loop.jobs:
            continue
        plan_id = summary.plan_id
        try:
            plan, changed = mirror_runs(store, plan_id, None)
        except StoreError:
            continue
        if changed:
            loop._publish(project, plan)
        if plan.status == PlanStatus.DISPATCHING:
            plan = loop.update_now(project, plan_id, moving_to(PlanStatus.RUNNING))
        if plan.status == PlanStatus.VERIFYING:
            check = GateCheck(name="gate:all", passed=False, message="interrupted: pmdesk stopped during verification")
            loop.update_now(project, plan_id, moving_to(PlanStatus.FAILED, gate_result=GateResult(passed=False, checks=[check]),
                                                        verified_at=utc_now()))
            engine.record(project, ActivityType.PLAN_FAILED, check.message, plan_id=plan_id, actor="system")
            notes.append(f"{project.name}: plan {plan_id} verification interrupted, marked FAILED")
            continue
        if all(t.status.is_terminal for t in plan.tasks) and not plan.completed_at:
            change, kind, message = _completion(plan)
            loop.update_now(project, plan_id, change)
            engine.record(project, kind, message, plan_id=plan_id, actor="system")
            notes.append(f"{project.name}: plan {plan_id} recomputed from its tasks")
        elif any(t.status == TaskState.QUEUED for t in plan.tasks):
            notes.append(f"{project.name}: plan {plan_id} has queued tasks; 'pmdesk dispatch {plan_id}' continues it")
    return notes
