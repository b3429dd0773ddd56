"""After a crash: nothing is left RUNNING that no one follows; nothing is re-run.

This is the runs' half; ``plans.recovery`` does the plans' once their tasks' runs are settled.
"""

from __future__ import annotations

import os
from collections.abc import Container

from pmdesk.engine.context import EngineContext
from pmdesk.engine.isolation import saved_work
from pmdesk.errors import PmdeskError
from pmdesk.executors.process import kill_group_now, pid_alive
from pmdesk.models import ActivityType, Project, Run, TaskState, utc_now
from pmdesk.store import StateStore, StoreError

INTERRUPTED = "interrupted: the pmdesk process that ran it stopped"


def recover_runs(ctx: EngineContext, project: Project, live: Container[str]) -> list[str]:
    """Runs left RUNNING (or QUEUED outside a plan) by a dead process end ERROR "interrupted"."""
    store = ctx.store(project)
    notes: list[str] = []
    if not store.run_tally().any_live():
        return notes  # the kept tally says so without a listing (a start with 50 quiet projects)
    for summary in store.list_runs():
        if summary.status == TaskState.AWAITING_RESPONSE and summary.run_id not in live:
            end_orphan(store, summary.run_id)
            continue
        if summary.status not in (TaskState.RUNNING, TaskState.QUEUED):
            continue
        if summary.status == TaskState.QUEUED and summary.plan_id:
            continue  # never started; 'pmdesk dispatch PLAN' continues the plan
        try:
            run = store.get_run(summary.run_id)
        except StoreError:
            continue
        if run.run_id in live:
            continue
        if run.owner_pid and run.owner_pid != os.getpid() and pid_alive(run.owner_pid):
            continue
        if run.pid and pid_alive(run.pid):
            kill_group_now(run.pid)  # an orphaned agent nobody can follow any more

        try:
            saved = saved_work(run) if run.status == TaskState.RUNNING else {}
        except (PmdeskError, OSError):
            saved = {}  # its files stay in the worktree; the worktree listing shows them uncommitted

        def mark(r: Run, saved: dict[str, object] = saved) -> None:
            if r.status in (TaskState.RUNNING, TaskState.QUEUED):
                r.status = TaskState.ERROR
                r.error = INTERRUPTED
                r.ended_at = utc_now()
                r.pid = None
                for name, value in saved.items():
                    setattr(r, name, value)

        store.update_run(run.run_id, mark)
        ctx.record(project, ActivityType.RUN_INTERRUPTED, INTERRUPTED, actor="system",
                      run_id=run.run_id, plan_id=run.plan_id, task_id=run.plan_task_id)
        notes.append(f"{project.name}: run {run.run_id} marked ERROR ({INTERRUPTED})")
    return notes



def end_orphan(store: StateStore, run_id: str) -> None:
    """A waiting run whose pmdesk process died may have left its agent running on (Claude Code
    finishing its turn on a closed stdin, writing the session the answer will resume): end it, so
    the resumed session is the only one. The run keeps waiting; nothing it asked is lost."""
    try:
        run = store.get_run(run_id)
    except StoreError:
        return
    if not run.pid or (run.owner_pid and run.owner_pid != os.getpid() and pid_alive(run.owner_pid)):
        return
    if run.owner_pid == os.getpid():
        return
    if pid_alive(run.pid):
        kill_group_now(run.pid)

    def forget(r: Run) -> None:
        r.pid = None

    store.update_run(run_id, forget)
