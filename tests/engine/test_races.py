"""Races that recorded the wrong thing: the record says what happened, once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.errors import WrongStateError
from pmdesk.models import ExecutorKind, Plan, PlanStatus, Run, TaskState
from tests.conftest import run_cli
from tests.engine.helpers import add_project, alive, events, fake_log, run_to_pause, start_hanging_cli_run, until

CC = ExecutorKind.CLAUDE_CODE


async def test_of_two_racing_answers_one_is_taken_and_only_it_is_logged(engine: Engine, tmp_path: Path,
                                                                         fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "pick one [ask]", executor=CC)
    assert run.status == TaskState.AWAITING_RESPONSE
    results = await asyncio.gather(engine.answer(project, run.run_id, "SQLite"),
                                   engine.answer(project, run.run_id, "Postgres"), return_exceptions=True)
    refused = [r for r in results if isinstance(r, WrongStateError)]
    assert len(refused) == 1 and "came first" in str(refused[0]), results
    await engine.runs.wait(run.run_id)
    answers = [e.text for e in events(engine, project, run.run_id) if e.kind == "answer"]
    assert answers == ["SQLite"]
    final = engine.store(project).get_run(run.run_id)
    assert final.status == TaskState.COMPLETE and [c.response for c in final.clarifications] == ["SQLite"]


def test_a_cancel_from_another_process_is_recorded_once_as_cancelled(tmp_path: Path, fake_claude: Path) -> None:
    owner, agent = start_hanging_cli_run(tmp_path, fake_claude)
    run_id = json.loads(run_cli("runs", "p", "--json").stdout)[0]["runId"]
    cancelled = run_cli("cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    owner.wait(timeout=30)
    assert not alive(agent)
    run = json.loads(run_cli("runs", "p", "--json").stdout)[0]
    assert run["status"] == "CANCELLED"
    kinds = [a["type"] for a in json.loads(run_cli("activity", "p", "--json").stdout)]
    assert kinds.count("run_cancelled") == 1 and "run_failed" not in kinds


@pytest.mark.parametrize("attempt", range(3))
async def test_a_cancelled_plan_ends_cancelled_with_its_tasks_cancelled(engine: Engine, tmp_path: Path,
                                                                        fake_claude: Path, attempt: int) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "a [hang]"}, {"id": "b", "description": "b [hang]"},
        {"id": "c", "description": "c", "dependencies": ["a"]}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    deadline = time.time() + 20
    while sum(e["kind"] == "hang" for e in fake_log(fake_claude)) < 2:
        assert time.time() < deadline
        await asyncio.sleep(0.05)
    final = await engine.plans.cancel(project, plan.plan_id)
    assert final.status == PlanStatus.CANCELLED
    assert [t.status for t in final.tasks] == [TaskState.CANCELLED] * 3, [t.error for t in final.tasks]
    assert engine.store(project).get_plan(plan.plan_id).status == PlanStatus.CANCELLED


async def test_a_task_that_ended_before_the_plan_said_so_is_not_cancelled_as_if_at_work(
        engine: Engine, tmp_path: Path) -> None:
    """The plan on disk trails its runs by a moment (one write carries the tasks that ended and
    started meanwhile). A cancel in that moment cancels what is at work, and leaves the task that
    completed COMPLETE."""
    from pmdesk.engine.notifications import Change, RunChanged

    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "quick", "description": "0"}, {"id": "slow", "description": "30", "dependencies": ["quick"]}]})
    quick, slow = (t.task_id for t in plan.tasks)
    cancelling: list[asyncio.Future[object]] = []

    def cancel_as_slow_starts(change: Change) -> None:  # right then, before the plan's next write
        if isinstance(change, RunChanged) and change.run.plan_task_id == slow and \
                change.run.status == TaskState.RUNNING and not cancelling:
            cancelling.append(asyncio.ensure_future(engine.plans.cancel(project, plan.plan_id)))

    engine.bus.subscribe(cancel_as_slow_starts)
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="sleep", in_place=True)
    await engine.plans.wait(plan.plan_id)
    assert cancelling
    final = await cancelling[0]
    assert isinstance(final, Plan)
    assert {t.task_id: t.status for t in final.tasks} == {quick: TaskState.COMPLETE, slow: TaskState.CANCELLED}
    assert final.status == PlanStatus.CANCELLED


async def test_a_queued_run_ended_by_another_process_ends_its_task_and_the_plan_goes_on(
        engine: Engine, tmp_path: Path) -> None:
    """Another process ends a task's queued run (its own store, as a second pmdesk would): the
    scheduler here, which knows the run as queued, does not start it and does not stop; the task
    says what its run says."""
    from pmdesk.store import StateStore

    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "first", "description": "2"}, {"id": "second", "description": "0"}]})  # time to end it meanwhile
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="sleep", in_place=True)
    first, second = (t for t in engine.store(project).get_plan(plan.plan_id).tasks)
    assert first.run_id and second.run_id
    elsewhere = StateStore(engine.store(project).state_dir, project.project_id)

    def cancelled(run: Run) -> None:
        run.status = TaskState.CANCELLED
        run.error = "cancelled elsewhere"

    await until(lambda: engine.store(project).get_run(str(first.run_id)).status == TaskState.RUNNING)
    elsewhere.update_run(second.run_id, cancelled)  # while the scheduler here knows it as queued
    await asyncio.wait_for(engine.plans.wait(plan.plan_id), 20)
    final = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in final.tasks] == [TaskState.COMPLETE, TaskState.CANCELLED], [t.error for t in final.tasks]
    assert final.completed_at, "the plan's dispatch ended"
    ran = engine.store(project).get_run(second.run_id)
    assert ran.status == TaskState.CANCELLED and ran.pid is None and not ran.started_at
