"""Verify: gate:all on a plan, as a special run whose every output line is an event.

``start_verify`` returns once the plan is VERIFYING (or raises the refusal), with the gates
running in the job's own task; ``verify`` also waits for the verdict. The next gate starts
as soon as the previous gate's process exits, while its output is still being read.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pmdesk import config
from pmdesk.engine.cluster.connection import parse_address
from pmdesk.engine.cluster.gates import RemoteGates
from pmdesk.engine.cluster.placement import LOCAL, reachable
from pmdesk.engine.context import EngineContext
from pmdesk.engine.gates import Gate, GateConfigError, GateProcess, gates_for
from pmdesk.engine.isolation import Isolation
from pmdesk.engine.notifications import GateProgress
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.integrate import Integrator, conflict_text
from pmdesk.engine.plans.jobs import JobKind, PlanJob, PlanJobs
from pmdesk.engine.plans.rules import PlanAction, PlanStateError, require
from pmdesk.engine.recorder import EventRecorder
from pmdesk.engine.worktrees import layout
from pmdesk.errors import BadInputError
from pmdesk.models import (
    ActivityType,
    ExecutorKind,
    GateCheck,
    GateResult,
    Plan,
    PlanStatus,
    Project,
    Run,
    TaskState,
    check_mark,
    move_task,
    new_id,
    utc_now,
)

VERIFY_PROMPT = "Execute gate:all verification"


class Verifier:
    def __init__(self, ctx: EngineContext, changes: PlanChanges, jobs: PlanJobs, integrator: Integrator,
                 isolation: Isolation) -> None:
        self.ctx = ctx
        self.changes = changes
        self.jobs = jobs
        self.integrator = integrator
        self.isolation = isolation

    async def start_verify(self, project: Project, plan_id: str, force: bool = False, rebase: bool = False,
                           on: str | None = None) -> Plan:
        """Check, mark the plan VERIFYING and start the gates; returns the VERIFYING plan.

        An isolated plan's task branches are merged into its integration branch first, and the gates
        run there; ``rebase`` rebuilds that branch on the project branch's HEAD now. ``on``: a Ray
        cluster's address to run the gates on a worker (DESIGN §13); by default, and with "local", here."""
        remote = None if on is None or on.strip() in ("", LOCAL) else parse_address(on)
        plan = self.ctx.store(project).get_plan(plan_id)
        if remote and not plan.base_commit:
            raise BadInputError("a plan run in place has no integration branch to send: verify it here")
        if remote:
            await reachable(remote)
        if rebase:
            require(plan, PlanAction.REBASE, live=plan_id in self.jobs)
            plan = await self.integrator.rebase(project, plan)
        else:
            require(plan, PlanAction.VERIFY, live=plan_id in self.jobs, confirmed=force)
        if plan.base_commit:
            await asyncio.to_thread(self.integrator.check_resolved, plan)
        project = self.ctx.project_settings(project)
        try:
            gates = gates_for(Path(project.path), project.settings.gates)
        except GateConfigError as exc:
            raise PlanStateError(str(exc)) from None
        job = PlanJob(project, plan_id, JobKind.VERIFY, self.ctx.owning(project))
        self.jobs[plan_id] = job
        try:
            run, plan = await self._begin(job, gates)
        except BaseException:
            self.jobs.pop(plan_id, None)
            job.lease.release()
            raise
        job.task = asyncio.ensure_future(self._run_gates(job, gates, run, remote))
        return plan

    async def verify(self, project: Project, plan_id: str, force: bool = False, rebase: bool = False,
                     on: str | None = None) -> Plan:
        """Verify and wait for the verdict: the plan VERIFIED, FAILED or CANCELLED."""
        await self.start_verify(project, plan_id, force, rebase, on)
        job = self.jobs.get(plan_id)
        if job is not None and job.task is not None:
            await asyncio.shield(job.task)
        return self.ctx.store(project).get_plan(plan_id)

    async def _begin(self, job: PlanJob, gates: list[Gate]) -> tuple[Run, Plan]:
        project, plan_id = job.project, job.plan_id
        store = self.ctx.store(project)
        run = Run(run_id=new_id("run"), project_id=project.project_id, prompt=VERIFY_PROMPT,
                  task_run_id=f"verify_{plan_id}", executor=ExecutorKind.GATE, plan_id=plan_id,
                  settings={"gates": [g.name for g in gates]}, status=TaskState.RUNNING, started_at=utc_now())
        run = await self.ctx.disk(store.put_run, run)
        self.ctx.publish_run(project, run)
        plan = await self.changes.transition(project, plan_id, PlanStatus.VERIFYING, verify_run_id=run.run_id,
                                             gate_result=None, verified_at=None)
        self.ctx.record(project, ActivityType.PLAN_VERIFY_STARTED, f"gate:all started ({len(gates)} gates)",
                        plan_id=plan_id, run_id=run.run_id)
        return run, plan

    async def _run_gates(self, job: PlanJob, gates: list[Gate], run: Run, remote: str | None) -> None:
        with job.lease:
            try:
                cwd = await self._integrate(job, run)
                if cwd is not None and remote:
                    await self._on_cluster(job, gates, run, cwd, remote)
                elif cwd is not None:
                    await self._pipeline(job, gates, run, cwd)
            except Exception as exc:  # a gate that could not even start still ends the plan visibly
                check = GateCheck(name="gate:all", passed=False, message=f"verification failed: {exc}")
                await self._conclude(job, run, [check], self.ctx.store(job.project).last_event_seq(run.run_id))
            finally:
                self.jobs.pop(job.plan_id, None)

    async def _integrate(self, job: PlanJob, run: Run) -> Path | None:
        """Where the gates run: the integration worktree once every task branch merged into it
        (None when a conflict stopped that, and the plan FAILED saying so), or the project folder
        for a plan dispatched in place."""
        project = job.project
        store = self.ctx.store(project)
        plan = store.get_plan(job.plan_id)
        if not plan.base_commit:
            return Path(project.path)
        recorder = EventRecorder(store, run.run_id, self.ctx.bus, self.ctx.redactor, store.last_event_seq(run.run_id))
        fresh = plan.integration is None or not Path(plan.integration.worktree_path).is_dir()
        recorder.emit("system", "integrating the task branches", None)
        built = await self.integrator.integrate(project, plan)
        plan = store.get_plan(job.plan_id)
        for task_id in built.merged_task_ids:
            recorder.emit("system", f"merged task #{layout.task_number(plan, task_id)} ({plan.task(task_id).branch})",
                          None)
        if built.conflict is not None:
            text = conflict_text(plan, built)
            recorder.emit("system", f"conflict: {text}; no gate ran", {"conflict": built.conflict.to_json_dict()})
            recorder.flush()
            check = GateCheck(name="integration", passed=False,
                              message=f"{text}: resolve it (with an agent, or by hand in {built.worktree_path}), "
                                      "or leave the task out, then verify again")
            await self._conclude(job, run, [check], recorder.seq)
            return None
        if fresh:  # here too when the gates run on a cluster: a later verify here reuses this worktree
            await self.isolation.set_up(project, Path(built.worktree_path), recorder)
        recorder.flush()
        return Path(built.worktree_path)

    async def _pipeline(self, job: PlanJob, gates: list[Gate], run: Run, cwd: Path) -> None:
        store = self.ctx.store(job.project)
        recorder = EventRecorder(store, run.run_id, self.ctx.bus, self.ctx.redactor, store.last_event_seq(run.run_id))
        for gate in gates:
            self._progress(job, gate.name, "waiting" if gate.argv else "skipped")
        checks: list[GateCheck] = []
        env = self.ctx.child_env(with_key=False)  # gates test the project; they need no key of pmdesk's
        ahead: GateProcess | None = None  # the next gate, started when the one before it exited
        for index, gate in enumerate(gates):
            if job.cancelled:
                break
            if gate.argv is None:
                checks.append(_skip(recorder, gate))
                continue
            self._gate_started(job, recorder, gate)
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
            self._gate_checked(job, recorder, gate, check)
        if ahead is not None:  # cancelled while the next gate had started
            await ahead.cancel()
            await ahead.finish(lambda lines: None)
            job.gates.remove(ahead)
        recorder.flush()
        await self._conclude(job, run, checks, recorder.seq)

    async def _on_cluster(self, job: PlanJob, gates: list[Gate], run: Run, cwd: Path, address: str) -> None:
        """The gates on a worker of the cluster, reported here as they run (``pmdesk verify --on``)."""
        store = self.ctx.store(job.project)
        recorder = EventRecorder(store, run.run_id, self.ctx.bus, self.ctx.redactor, store.last_event_seq(run.run_id))
        checks = self._skipped(job, recorder, gates)
        settings = self.ctx.project_settings(job.project).settings
        remote = RemoteGates(address, config.saved_cluster_token())
        job.gates.append(remote)

        def checked(gate: Gate, check: GateCheck) -> None:
            checks.append(check)
            self._gate_checked(job, recorder, gate, check)

        try:
            await remote.run(run.run_id, cwd, gates, settings.worktree_setup, recorder.emit_many,
                             lambda gate: self._gate_started(job, recorder, gate), checked)
        finally:
            job.gates.remove(remote)
        recorder.flush()
        await self._conclude(job, run, checks, recorder.seq)

    async def _conclude(self, job: PlanJob, run: Run, checks: list[GateCheck], events: int) -> None:
        project, plan_id = job.project, job.plan_id
        ran = [c for c in checks if not c.skipped]
        passed = bool(ran) and all(c.passed for c in ran) and not job.cancelled
        result = GateResult(passed=passed, checks=checks)
        failed_names = [c.name for c in ran if not c.passed]

        def finish_run(r: Run) -> None:
            if r.status.is_terminal:
                return
            target = TaskState.CANCELLED if job.cancelled else (TaskState.COMPLETE if passed else TaskState.ERROR)
            move_task(r, target, ended_at=utc_now(), event_count=events,
                      summary="all gates passed" if passed else None,
                      error=None if passed else ("cancelled by the user" if job.cancelled
                                                 else f"failed: {', '.join(failed_names)}"))

        store = self.ctx.store(project)
        self.ctx.publish_run(project, await self.ctx.disk(store.update_run, run.run_id, finish_run))
        if job.cancelled:
            await self.changes.transition(project, plan_id, PlanStatus.CANCELLED, gate_result=result)
            self.ctx.record(project, ActivityType.PLAN_CANCELLED, "verification cancelled", plan_id=plan_id)
            return
        status = PlanStatus.VERIFIED if passed else PlanStatus.FAILED
        await self.changes.transition(project, plan_id, status, gate_result=result, verified_at=utc_now())
        if passed:
            self.ctx.record(project, ActivityType.PLAN_VERIFIED, f"gate:all passed ({len(ran)} gates)",
                            plan_id=plan_id, run_id=run.run_id, actor="system")
        else:
            self.ctx.record(project, ActivityType.PLAN_FAILED,
                            f"gate:all failed: {', '.join(failed_names) or 'nothing ran'}",
                            plan_id=plan_id, run_id=run.run_id, actor="system")


    # -- what every gate says, wherever it runs ---------------------------------------------------

    def _progress(self, job: PlanJob, gate: str, state: str, duration: int | None = None,
                  message: str | None = None) -> None:
        self.ctx.bus.publish(GateProgress(job.project.project_id, job.plan_id, gate, state, duration, message))

    def _skipped(self, job: PlanJob, recorder: EventRecorder, gates: list[Gate]) -> list[GateCheck]:
        """Every gate waiting, and the skipped ones said (a cluster's worker runs the others)."""
        for gate in gates:
            self._progress(job, gate.name, "waiting" if gate.argv else "skipped")
        return [_skip(recorder, gate) for gate in gates if gate.argv is None]

    def _gate_started(self, job: PlanJob, recorder: EventRecorder, gate: Gate) -> None:
        self._progress(job, gate.name, "running")
        recorder.emit("gate", f"$ {' '.join(gate.argv or [])}", {"gate": gate.name, "argv": gate.argv})

    def _gate_checked(self, job: PlanJob, recorder: EventRecorder, gate: Gate, check: GateCheck) -> None:
        recorder.emit("gate", f"{check_mark(check)} {gate.name} ({check.duration} ms): {check.message}",
                      {"gate": gate.name, "passed": check.passed, "duration": check.duration})
        self._progress(job, gate.name, "passed" if check.passed else "failed", check.duration, check.message)


def _skip(recorder: EventRecorder, gate: Gate) -> GateCheck:
    recorder.emit("gate", f"[SKIP] {gate.name}: {gate.reason}", {"gate": gate.name})
    return GateCheck(name=gate.name, passed=True, skipped=True, message=f"skipped: {gate.reason}", duration=0)
