"""What pmdesk says is true: waiting for the user is not work, and a run ended by pmdesk stopping
does not say the user cancelled it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pmdesk.engine.engine import Engine
from pmdesk.engine.plans.estimate import estimate
from pmdesk.engine.runs import CANCELLED, STOPPED
from pmdesk.models import ExecutorKind, TaskState, duration_ms
from tests.engine.helpers import add_project, run_to_pause


async def test_time_spent_waiting_for_the_user_is_not_counted_as_work(engine: Engine, tmp_path: Path,
                                                                      fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    paused = await run_to_pause(engine, project, "pick one [ask]", executor=ExecutorKind.CLAUDE_CODE)
    assert paused.status == TaskState.AWAITING_RESPONSE and paused.awaiting_since
    await asyncio.sleep(1.2)  # the user thinks
    await engine.answer(project, paused.run_id, "SQLite")
    await engine.runs.wait(paused.run_id)
    done = engine.store(project).get_run(paused.run_id)
    assert done.status == TaskState.COMPLETE and done.awaiting_since is None
    assert done.waited_ms >= 1100
    total = duration_ms(done.started_at, done.ended_at) or 0
    assert total >= done.waited_ms
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})
    found = estimate(plan, True, 3, engine.store(project).list_runs())
    assert found.seconds_per_run is not None
    assert abs(found.seconds_per_run - (total - done.waited_ms) / 1000) < 0.01  # the working time only


async def test_a_run_ended_by_pmdesk_stopping_says_so(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    working = engine.runs.create(project, "work", executor=ExecutorKind.COMMAND, command="sh -c 'sleep 30'")
    cancelled = engine.runs.create(project, "stop me", executor=ExecutorKind.COMMAND, command="sh -c 'sleep 30'")
    await engine.runs.start(project, working.run_id)
    await engine.runs.start(project, cancelled.run_id)
    by_user = await engine.runs.cancel(project, cancelled.run_id)
    assert by_user.error == CANCELLED
    await engine.runs.detach()  # the window closes with a run at work
    ended = engine.store(project).get_run(working.run_id)
    assert ended.status == TaskState.CANCELLED and ended.error == STOPPED and "the user" not in ended.error
