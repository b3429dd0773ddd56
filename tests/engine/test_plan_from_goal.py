"""A plan from a written goal: the model reads the goal and the project's context (files, README
head, recent plans; never pmdesk's state, dependencies or a secret), through the real SDK against a
fake Messages API; nothing is stored until saved; a failure is a FAILED plan that keeps the goal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.errors import PmdeskError
from pmdesk.models import PlanStatus
from tests.conftest import make_npm_project, run_cli
from tests.fakes.fake_anthropic import FakeAnthropic, text_reply, tool_use

ANSWER = {"summary": "Dark mode in two steps", "tasks": [
    {"id": "t1", "description": "Add a theme switch to settings", "priority": 1},
    {"id": "t2", "description": "Style the pages for dark", "priority": 2, "dependencies": ["t1"]}]}


def said(body: dict[str, Any]) -> str:
    return json.dumps(body["messages"])


async def test_a_goal_becomes_a_plan_from_the_projects_context(engine: Engine, tmp_path: Path,
                                                               fake_api: FakeAnthropic) -> None:
    root = make_npm_project(tmp_path / "shop")
    (root / "README.md").write_text("# Shop\n\nA small web shop written in plain JS.\n")
    (root / "src").mkdir()
    (root / "src" / "cart.js").write_text("export const cart = [];\n")
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "index.js").write_text("x")
    project = engine.add_project(str(root), "shop")
    earlier = engine.plans.plan_from_answer(project, {"summary": "the checkout page", "tasks": [
        {"id": "a", "description": "checkout"}]})
    fake_api.queue(tool_use("submit_plan", ANSWER))
    key = "sk-ant-test-0123456789abcdef"
    generated = await engine.plans.generate_from_goal(project, f"Add a dark mode (my key is {key})")
    assert generated.answer is not None and [t.id for t in generated.answer.tasks] == ["t1", "t2"]
    assert [p.plan_id for p in engine.store(project).list_plans()] == [earlier.plan_id]  # nothing stored yet
    request = fake_api.requests[-1]
    text = said(request)
    assert "Add a dark mode" in text and "A small web shop" in text and "src/cart.js" in text
    assert "the checkout page" in text  # recent plans
    assert "node_modules" not in text and ".claude" not in text and key not in text
    assert request["tool_choice"] == {"type": "tool", "name": "submit_plan"}

    fake_api.queue(tool_use("submit_plan", ANSWER))
    plan = await engine.plans.create_from_goal(project, "Add a dark mode")
    assert plan.status == PlanStatus.DRAFT and plan.goal == "Add a dark mode" and plan.packet_id is None
    assert len(plan.tasks) == 2 and plan.tasks[1].dependencies == [plan.tasks[0].task_id]

    fake_api.queue(text_reply("I would rather chat about it."))
    failed = await engine.plans.create_from_goal(project, "Add a dark mode")
    assert failed.status == PlanStatus.FAILED and failed.goal == "Add a dark mode"
    assert failed.gate_result is not None and "instead of calling submit_plan" in failed.gate_result.checks[0].message
    with pytest.raises(PmdeskError, match="goal is empty"):
        await engine.plans.create_from_goal(project, "   ")


def test_the_cli_plans_from_a_goal(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "todo.txt").write_text("nothing yet\n")
    engine.add_project(str(root), "notes")
    fake_api.queue(tool_use("submit_plan", ANSWER))
    done = run_cli("plan", "notes", "--goal", "Turn the notes into a tiny website", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["goal"] == "Turn the notes into a tiny website" and len(plan["tasks"]) == 2
    assert "todo.txt" in said(fake_api.requests[-1])  # not a repository: the folder is walked
    both = run_cli("plan", "notes", "--goal", "x", "--packet", "pkt_00000000")
    assert both.returncode == 2 and "not both" in both.stderr
