"""Fix what verify found, by the user's action only: the failed checks (with their output) and what
the plan changed go to the model; the fix plan records its parent, its tasks start from the
parent's integration branch, verifying it verifies the combined work and merging it merges both."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.plans.rules import PlanStateError
from pmdesk.models import ExecutorKind, PlanStatus, TaskState
from tests.conftest import git_commit_all, run_cli
from tests.fakes.fake_anthropic import FakeAnthropic, tool_use

GATE = "node -e \"const ok=require('fs').existsSync('fixed.txt'); console.log(ok?'fixed':'fixed.txt is missing'); process.exit(ok?0:1)\""


def project_with_a_file_gate(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": "shop", "version": "1.0.0",
                                                   "scripts": {"gate:tier0": GATE}}, indent=2))
    git_commit_all(root)
    return root


async def test_a_fix_plan_starts_from_the_failed_work_and_verifies_and_merges_both(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    root = project_with_a_file_gate(tmp_path / "shop")
    project = engine.add_project(str(root), "shop")
    parent = engine.plans.plan_from_answer(project, {"summary": "the feature", "tasks": [
        {"id": "a", "description": "write the feature"}]})
    await engine.plans.dispatch(project, parent.plan_id, executor=ExecutorKind.COMMAND,
                                command="sh -c 'echo feature > a.txt'")
    await engine.plans.wait(parent.plan_id)
    failed = await engine.plans.verify(project, parent.plan_id)
    assert failed.status == PlanStatus.FAILED
    await asyncio.sleep(0.2)
    assert engine.store(project).get_plan(parent.plan_id).status == PlanStatus.FAILED  # nothing on its own

    fake_api.queue(tool_use("submit_plan", {"summary": "make the gate pass", "tasks": [
        {"id": "t1", "description": "create fixed.txt next to the feature"}]}))
    fix = await engine.plans.create_fix_plan(project, parent.plan_id)
    told = json.dumps(fake_api.requests[-1]["messages"])
    assert "gate:tier0" in told and "fixed.txt is missing" in told  # the failed check and its output
    assert "a.txt" in told and "write the feature" in told  # what the plan changed, and its tasks
    assert fix.status == PlanStatus.DRAFT and fix.parent_plan_id == parent.plan_id and fix.packet_id

    # The fix task finds the parent's file: it starts from the parent's integration branch.
    await engine.plans.dispatch(project, fix.plan_id, executor=ExecutorKind.COMMAND,
                                command="sh -c 'test -f a.txt && echo yes > fixed.txt'")
    await engine.plans.wait(fix.plan_id)
    dispatched = engine.store(project).get_plan(fix.plan_id)
    assert dispatched.tasks[0].status == TaskState.COMPLETE and not dispatched.tasks[0].no_changes
    verified = await engine.plans.verify(project, fix.plan_id)
    assert verified.status == PlanStatus.VERIFIED, verified.gate_result
    merged = await engine.plans.merge(project, fix.plan_id)
    assert merged.merge is not None
    assert (root / "a.txt").read_text() == "feature\n" and (root / "fixed.txt").read_text() == "yes\n"  # both
    assert engine.store(project).get_plan(parent.plan_id).merge is not None  # merged with its fix
    log = subprocess.run(["git", "-C", str(root), "log", "--format=%s"], capture_output=True, text=True).stdout
    assert "merge task #1" in log

    with pytest.raises(PlanStateError, match="verify failed"):
        await engine.plans.create_fix_plan(project, fix.plan_id)  # VERIFIED: nothing to fix


def test_the_cli_plans_fixes(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    root = project_with_a_file_gate(tmp_path / "shop")
    project = engine.add_project(str(root), "shop")
    parent = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})

    async def verified_and_failed() -> None:
        await engine.plans.dispatch(project, parent.plan_id, executor=ExecutorKind.COMMAND,
                                    command="sh -c 'echo x > a.txt'")
        await engine.plans.wait(parent.plan_id)
        await engine.plans.verify(project, parent.plan_id)
        await engine.shutdown()

    asyncio.run(verified_and_failed())
    refused = run_cli("plan", "shop", "--fix", parent.plan_id, "--goal", "x")
    assert refused.returncode == 2 and "--fix alone" in refused.stderr
    fake_api.queue(tool_use("submit_plan", {"tasks": [{"id": "t1", "description": "add fixed.txt"}]}))
    done = run_cli("plan", "shop", "--fix", parent.plan_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["parentPlanId"] == parent.plan_id
