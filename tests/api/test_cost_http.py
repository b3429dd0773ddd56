"""Cost and budgets over HTTP and from the command line (the engine's rules: tests/engine/test_budgets.py)."""

from __future__ import annotations

from pathlib import Path

from pmdesk.engine.engine import Engine
from tests.api.conftest import Server
from tests.conftest import run_cli
from tests.engine.helpers import add_project
from tests.engine.test_budgets import past_run


def test_cost_and_budgets_over_http_and_the_cli(engine: Engine, tmp_path: Path, server: Server) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    past_run(engine, project, 0.5, 2000, day="2026-11-20", plan_id=plan.plan_id, task_id=plan.tasks[0].task_id)
    client = server.client
    whole = client.get(f"/api/projects/{project.project_id}/cost")
    assert whole.status == 200 and whole.body["total"]["costUsd"] == 0.5 and whole.body["days"][0]["day"] == "2026-11-20"
    of_plan = client.get(f"/api/plans/{plan.plan_id}/cost").body
    assert of_plan["tasks"][0]["totals"]["tokens"] == 2000
    assert client.get(f"/api/projects/{project.project_id}/cost?since=whenever").status == 400

    said = client.put(f"/api/projects/{project.project_id}/budget", {"usd": 0.25})
    assert said.status == 200 and said.body["budget"] == {"usd": 0.25}
    assert client.put(f"/api/projects/{project.project_id}/budget", {"usd": -1}).status == 422
    assert client.put(f"/api/plans/{plan.plan_id}/budget", {"tokens": 5000}).body["budget"] == {"tokens": 5000}
    estimate = client.get(f"/api/plans/{plan.plan_id}/estimate").body
    assert estimate["budgetLeftTokens"] == 3000 and "budgetLeftUsd" in estimate

    # From the command line: the budget, and what it leaves.
    out = run_cli("budget", "p", "--usd", "12")
    assert out.returncode == 0 and "budget of p (per month): $12.00" in out.stdout
    assert run_cli("budget", "p").returncode == 2  # neither figure nor --clear
    assert "budget: " in run_cli("dispatch", plan.plan_id, "--estimate").stdout
    cleared = run_cli("budget", plan.plan_id, "--clear")
    assert cleared.returncode == 0 and "none" in cleared.stdout
