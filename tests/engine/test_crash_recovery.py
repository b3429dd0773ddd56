"""After a kill -9 mid-dispatch: no busy loop, no orphan record, no temp file, nothing re-run, and
the plan offers to continue by the user's action."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PlanStatus, TaskState, move_plan
from tests.engine.helpers import add_project

TASKS = {"tasks": [{"id": "a", "description": "one"}, {"id": "b", "description": "two"},
                   {"id": "c", "description": "three", "dependencies": ["a"]}]}


def killed_mid_dispatch(engine: Engine, tmp_path: Path) -> tuple[str, list[str], Path]:
    """The files a dispatch leaves when it dies after writing two of three runs, before the plan."""
    project = add_project(engine, tmp_path / "p", "p")
    project.settings.command_template = "true"
    engine.save_project(project)
    plan = engine.plans.plan_from_answer(project, TASKS)
    engine.plans.update_now(project, plan.plan_id, lambda p: move_plan(p, PlanStatus.DISPATCHING))
    store = engine.store(project)
    written = [engine.runs.write_new(project, store, t.description, plan_id=plan.plan_id, plan_task_id=t.task_id,
                                     status=TaskState.QUEUED).run_id for t in plan.tasks[:2]]
    temp = store.state_dir / "runs" / f".{written[0]}.json.x1y2z3.tmp"
    temp.write_text('{"half": ')
    os.utime(temp, (time.time() - 3600, time.time() - 3600))
    return plan.plan_id, written, temp


async def test_a_dispatch_killed_half_way_is_recovered_and_continues(tmp_path: Path) -> None:
    dead = Engine()
    plan_id, written, temp = killed_mid_dispatch(dead, tmp_path)
    dead.ctx.close()

    engine = Engine()
    notes = engine.recover()
    project = engine.project("p")
    plan = engine.store(project).get_plan(plan_id)
    assert plan.status == PlanStatus.RUNNING and [t.status for t in plan.tasks] == [TaskState.QUEUED] * 3
    assert [t.run_id for t in plan.tasks][:2] == written  # the runs it had written, not new ones
    named = {t.run_id for t in plan.tasks}
    runs = engine.store(project).list_runs()
    assert {r.run_id for r in runs} == named and all(r.status == TaskState.QUEUED for r in runs)  # nothing started
    assert not temp.exists()
    assert any("Continue" in n and plan_id in n for n in notes)
    assert engine.plans.continue_plan(project, plan_id)  # the user's action
    await asyncio.wait_for(engine.plans.wait(plan_id), 30)  # no busy loop: it ends
    final = engine.store(project).get_plan(plan_id)
    assert [t.status for t in final.tasks] == [TaskState.COMPLETE] * 3
    await engine.shutdown()


async def test_the_old_stuck_state_continues_too(tmp_path: Path) -> None:
    """RUNNING with tasks that have no run (what recovery left before): once spun a core forever."""
    engine = Engine()
    project = add_project(engine, tmp_path / "p", "p")
    project.settings.command_template = "true"
    engine.save_project(project)
    plan = engine.plans.plan_from_answer(project, TASKS)
    for step in (PlanStatus.DISPATCHING, PlanStatus.RUNNING):
        engine.plans.update_now(project, plan.plan_id, lambda p, s=step: move_plan(p, s))
    engine.recover()
    assert engine.plans.continue_plan(project, plan.plan_id)
    await asyncio.wait_for(engine.plans.wait(plan.plan_id), 30)
    final = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in final.tasks] == [TaskState.COMPLETE] * 3 and final.completed_at
    await engine.shutdown()


async def test_a_run_no_plan_names_ends_cancelled(tmp_path: Path) -> None:
    engine = Engine()
    project = add_project(engine, tmp_path / "p", "p")
    project.settings.command_template = "true"
    engine.save_project(project)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    response = await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="true")
    await engine.plans.wait(plan.plan_id)
    orphan = engine.runs.write_new(project, engine.store(project), "one", plan_id=plan.plan_id,
                                   plan_task_id=plan.tasks[0].task_id, status=TaskState.QUEUED)
    await engine.shutdown()
    again = Engine()
    notes = again.recover()
    assert again.store(project).get_run(orphan.run_id).status == TaskState.CANCELLED
    assert again.store(project).get_run(response.runs[0].run_id).status == TaskState.COMPLETE
    assert any(orphan.run_id in n for n in notes)
    await again.shutdown()
