"""Races that recorded the wrong thing: the record says what happened, once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.errors import WrongStateError
from pmdesk.models import ExecutorKind, PlanStatus, TaskState
from tests.conftest import run_cli
from tests.engine.helpers import add_project, alive, events, fake_log, run_to_pause, start_hanging_cli_run

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
