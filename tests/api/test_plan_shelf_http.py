"""Plans put away from the CLI and over HTTP (the engine's rules: tests/engine/test_plan_shelf.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pmdesk.engine.engine import Engine
from tests.api.conftest import Server
from tests.conftest import run_cli
from tests.engine.helpers import add_project

TASKS = {"tasks": [{"id": "a", "description": "one"}]}


def test_the_cli_and_the_api_put_plans_away(engine: Engine, tmp_path: Path, server: Server) -> None:
    project = add_project(engine, tmp_path / "p")
    first = engine.plans.plan_from_answer(project, TASKS)
    second = engine.plans.plan_from_answer(project, TASKS)
    said = run_cli("archive", first.plan_id)
    assert said.returncode == 0 and "--undo" in said.stdout
    listed = run_cli("plans", "p")
    assert first.plan_id not in listed.stdout and "1 archived plan(s) left out" in listed.stdout
    assert first.plan_id in run_cli("plans", "p", "--archived").stdout
    assert run_cli("archive", first.plan_id, "--undo").returncode == 0
    refused = run_cli("archive", "plan_nothere")
    assert refused.returncode != 0 and "plan_nothere" in refused.stderr

    client = server.client
    answer = client.post(f"/api/plans/{second.plan_id}/archive", {"archived": True})
    assert answer.status == 200 and answer.body["archivedAt"]
    again = client.post(f"/api/plans/{second.plan_id}/archive", {})
    assert again.status == 409 and "archived already" in again.body["error"]["message"]
    gone = client.request("DELETE", f"/api/plans/{second.plan_id}")
    assert gone.status == 200 and "trash" in gone.body["keptAt"]
    assert client.get(f"/api/plans/{second.plan_id}").status == 404


def test_a_plan_from_a_goal_over_http(engine: Engine, tmp_path: Path, fake_api: Any, server: Server) -> None:
    from tests.fakes.fake_anthropic import tool_use

    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("submit_plan", {"tasks": [{"id": "t1", "description": "write the page"}]}))
    made = server.client.post(f"/api/projects/{project.project_id}/plan", {"goal": "A landing page"})
    assert made.status in (200, 201), made.body
    plan = server.client.get(f"/api/plans/{made.body['planId']}").body
    assert plan["goal"] == "A landing page" and plan["status"] == "DRAFT" and len(plan["tasks"]) == 1
    both = server.client.post(f"/api/projects/{project.project_id}/plan", {"goal": "x", "packetId": "pkt_x"})
    assert both.status == 422 and "not both" in both.body["error"]["message"]
