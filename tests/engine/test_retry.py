"""Retry by the user's action: a task that failed gets a new run in a fresh worktree from the same
start, the old run is kept in the task's history, the plan runs again, and what it then makes
verifies; nothing is retried on its own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.plans.rules import PlanStateError
from pmdesk.models import ActivityType, ExecutorKind, PlanStatus, TaskState
from tests.conftest import make_npm_project, run_cli


async def test_a_failed_task_and_its_dependent_are_retried_and_the_plan_verifies(engine: Engine,
                                                                                 tmp_path: Path) -> None:
    root = make_npm_project(tmp_path / "p")
    project = engine.add_project(str(root), "p")
    marker = tmp_path / "the-fix-is-in"
    command = f"sh -c 'test -e {marker} && echo ok > made.txt'"
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "make it"}, {"id": "b", "description": "then more", "dependencies": ["a"]}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=command)
    await engine.plans.wait(plan.plan_id)
    failed = engine.store(project).get_plan(plan.plan_id)
    first, second = failed.tasks
    assert failed.status == PlanStatus.FAILED and first.status == TaskState.ERROR
    assert second.status == TaskState.CANCELLED and (second.error or "").startswith("not started: dependency")
    await asyncio.sleep(0.3)
    assert engine.store(project).get_plan(plan.plan_id).status == PlanStatus.FAILED  # nothing happens on its own

    marker.touch()
    old_run = first.run_id
    assert old_run is not None
    retried = await engine.plans.retry(project, plan.plan_id, "1", prompt_extra="Mind the marker.",
                                       with_dependents=True)
    task = retried.tasks[0]
    assert retried.status == PlanStatus.RUNNING and task.run_ids == [old_run] and task.run_id != old_run
    assert task.status == TaskState.QUEUED and (task.worktree_path or "").endswith("/1-2")
    assert engine.store(project).get_run(task.run_id or "").prompt.endswith("Mind the marker.")
    assert engine.store(project).get_run(old_run).status == TaskState.ERROR  # the old run is kept
    dependent = engine.store(project).get_run(retried.tasks[1].run_id or "")
    assert dependent.merge_from == [task.branch]  # it starts from the retried task's new branch
    await engine.plans.wait(plan.plan_id)
    done = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in done.tasks] == [TaskState.COMPLETE, TaskState.COMPLETE], [t.error for t in done.tasks]
    assert done.tasks[1].run_ids  # the dependent's cancelled run is in its history too
    verified = await engine.plans.verify(project, plan.plan_id)
    assert verified.status == PlanStatus.VERIFIED, verified.gate_result
    kinds = [e.type for e in engine.store(project).list_activity(50)]
    assert ActivityType.PLAN_TASK_RETRIED in kinds

    with pytest.raises(PlanStateError, match="VERIFIED"):
        await engine.plans.retry(project, plan.plan_id, done.tasks[0].task_id)


async def test_retry_refuses_what_it_should(engine: Engine, tmp_path: Path) -> None:
    root = make_npm_project(tmp_path / "p")
    project = engine.add_project(str(root), "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "write"}]})
    with pytest.raises(PlanStateError, match="DRAFT"):
        await engine.plans.retry(project, plan.plan_id, "1")
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND,
                                command="sh -c 'echo x > made.txt'")
    await engine.plans.wait(plan.plan_id)
    with pytest.raises(PlanStateError, match="completed with changes"):
        await engine.plans.retry(project, plan.plan_id, "#1")
    with pytest.raises(Exception, match="no task"):
        await engine.plans.retry(project, plan.plan_id, "7")


def test_the_cli_retries_a_task(engine: Engine, tmp_path: Path) -> None:
    root = make_npm_project(tmp_path / "p")
    project = engine.add_project(str(root), "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "nothing to do"}]})
    async def dispatched() -> None:
        await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="true")
        await engine.plans.wait(plan.plan_id)
        await engine.shutdown()

    asyncio.run(dispatched())
    assert engine.store(project).get_plan(plan.plan_id).tasks[0].no_changes  # completed, changing nothing
    done = run_cli("retry", plan.plan_id, "1", "--json")
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)["tasks"][0]
    assert len(task["runIds"]) == 1 and task["status"] == "COMPLETE"
