"""Plans put away: archive and restore (each undoes the other), delete to the trash with the
runs kept, refusals that say why — the same from the engine, the CLI and the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.plans.rules import PlanStateError
from pmdesk.models import ActivityType, ExecutorKind, PlanStatus
from tests.conftest import make_npm_project
from tests.engine.helpers import add_project, until

TASKS = {"tasks": [{"id": "a", "description": "one"}]}


def test_archive_restore_and_delete_keep_what_they_should(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    store = engine.store(project)
    draft = engine.plans.plan_from_answer(project, TASKS)
    archived = engine.plans.archive(project, draft.plan_id)
    assert archived.archived_at and store.list_plans()[0].archived_at == archived.archived_at  # the listing knows
    with pytest.raises(PlanStateError, match="archived already"):
        engine.plans.archive(project, draft.plan_id)
    restored = engine.plans.archive(project, draft.plan_id, archived=False)
    assert restored.archived_at is None and restored.status == PlanStatus.DRAFT
    with pytest.raises(PlanStateError, match="not archived"):
        engine.plans.archive(project, draft.plan_id, archived=False)

    run = engine.runs.create(project, "kept", executor=ExecutorKind.COMMAND, command="true",
                             plan_id=draft.plan_id, plan_task_id=draft.tasks[0].task_id)
    kept = Path(engine.plans.delete(project, draft.plan_id))
    assert kept.is_file() and kept.parent == store.state_dir / "trash" / "plans"
    assert json.loads(kept.read_text())["planId"] == draft.plan_id  # the whole record, kept
    assert store.list_plans() == [] and store.get_run(run.run_id).plan_id == draft.plan_id  # its runs stay
    kinds = [e.type for e in store.list_activity(20)]
    assert {ActivityType.PLAN_ARCHIVED, ActivityType.PLAN_RESTORED, ActivityType.PLAN_DELETED} <= set(kinds)
    with pytest.raises(Exception, match="plan"):
        engine.plans.delete(project, draft.plan_id)  # gone: not found, nothing else touched


async def test_a_plan_at_work_or_with_worktrees_is_not_put_away(engine: Engine, tmp_path: Path) -> None:
    project = engine.add_project(str(make_npm_project(tmp_path / "p")), "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "wait"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="sh -c 'echo work > made.txt; sleep 30'")
    with pytest.raises(PlanStateError, match="only a DRAFT or ended plan"):
        engine.plans.archive(project, plan.plan_id)
    def made() -> bool:
        folder = engine.store(project).get_plan(plan.plan_id).tasks[0].worktree_path
        return bool(folder) and (Path(folder) / "made.txt").exists()

    await until(made)  # the agent has work in its worktree: cancelling keeps the worktree
    cancelled = await engine.plans.cancel(project, plan.plan_id)
    assert cancelled.status == PlanStatus.CANCELLED
    with pytest.raises(PlanStateError, match="still has worktrees"):
        engine.plans.delete(project, plan.plan_id)
    assert engine.plans.archive(project, plan.plan_id).archived_at  # archiving keeps everything: allowed
