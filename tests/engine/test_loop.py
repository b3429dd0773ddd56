"""The Autonomous Loop end to end: plan (fake Messages API), dispatch, verify (real npm gates)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.plans.rules import PlanStateError
from pmdesk.models import ExecutorKind, InspectionPacket, PlanStatus, Project, TaskState
from tests.conftest import echo_command, make_npm_project, run_cli
from tests.engine.helpers import add_project, fake_log, group_members, run_to_pause, until
from tests.fakes.fake_anthropic import Delay, FakeAnthropic, Raw, Status, error_body, text_reply, tool_use

CC = ExecutorKind.CLAUDE_CODE


async def packet_for(engine: Engine, project: Project) -> InspectionPacket:
    run = await run_to_pause(engine, project, "build the feature", executor=ExecutorKind.COMMAND,
                             command=echo_command("feature half done; tests missing"))
    return await engine.inspect(project, run.run_id)


def submit(tasks: list[dict[str, Any]], summary: str = "follow-up") -> dict[str, Any]:
    return tool_use("submit_plan", {"tasks": tasks, "summary": summary})


async def settle(engine: Engine, plan_id: str) -> None:
    await engine.plans.wait(plan_id)


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for entry in fake_log(log):
        key = entry["prompt"].split()[0]
        if entry["kind"] == "start" and not entry.get("resume"):
            starts[key] = entry["t"]
        elif entry["kind"] == "end" and key in starts:
            out[key] = (starts[key], entry["t"])
    return out


async def test_the_whole_loop(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, fake_claude: Path) -> None:
    project = add_project(engine, make_npm_project(tmp_path / "sample"))
    engine.save_project(project.model_copy(update={"settings": project.settings.model_copy(update={"concurrency": 2})}))
    packet = await packet_for(engine, project)
    work = "[sleep 0.4]"
    fake_api.queue(submit([
        {"id": "t1", "description": f"A-schema [write a.txt] {work}", "priority": 1, "dependencies": []},
        {"id": "t2", "description": f"B-api [write b.txt] {work}", "priority": 2, "dependencies": ["t1"]},
        {"id": "t3", "description": f"C-ui [write c.txt] {work}", "priority": 1, "dependencies": ["t1"]},
        {"id": "t4", "description": f"D-docs [write d.txt] {work}", "priority": 3, "dependencies": ["t2", "t3"]},
        {"id": "t5", "description": f"E-lint [write e.txt] {work}", "priority": 2, "dependencies": []},
    ], summary="finish the feature"))

    plan = await engine.plans.create_plan(project, packet.packet_id)
    assert plan.status == PlanStatus.DRAFT and plan.packet_id == packet.packet_id and plan.run_id == packet.run_id
    assert len(plan.tasks) == 5 and all(t.task_id.startswith("ptask_") for t in plan.tasks)
    ids = {t.description.split()[0]: t.task_id for t in plan.tasks}
    assert plan.task(ids["D-docs"]).dependencies == [ids["B-api"], ids["C-ui"]]
    request = fake_api.requests[-1]
    assert request["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert "build the feature" in request["messages"][0]["content"]
    assert "tests missing" in request["messages"][0]["content"]
    on_disk = tmp_path / "sample" / ".claude" / "state" / "plans" / f"{plan.plan_id}.json"
    assert json.loads(on_disk.read_text())["status"] == "DRAFT"

    response = await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    assert response.status == PlanStatus.RUNNING and response.executed_at
    assert {r.task_id for r in response.runs} == set(ids.values())
    await settle(engine, plan.plan_id)
    plan = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in plan.tasks] == [TaskState.COMPLETE] * 5
    assert plan.status == PlanStatus.RUNNING and plan.completed_at
    for task in plan.tasks:
        run = engine.store(project).get_run(task.run_id or "")
        assert run.plan_id == plan.plan_id and run.plan_task_id == task.task_id
    for task, name in zip(plan.tasks, "abcde", strict=True):  # each agent wrote in its own worktree, not the folder
        assert (Path(task.worktree_path or "") / f"{name}.txt").exists()
        assert not (tmp_path / "sample" / f"{name}.txt").exists()

    spans = intervals(fake_claude)
    assert spans["B-api"][0] >= spans["A-schema"][1] and spans["C-ui"][0] >= spans["A-schema"][1]
    assert spans["D-docs"][0] >= max(spans["B-api"][1], spans["C-ui"][1])
    points = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    assert peak == 2  # parallel, within the project's limit

    plan = await engine.plans.verify(project, plan.plan_id)
    assert plan.status == PlanStatus.VERIFIED and plan.verified_at
    assert plan.gate_result and plan.gate_result.passed
    assert plan.integration is not None  # the gates ran where every task's work was merged
    assert all((Path(plan.integration.worktree_path) / f"{x}.txt").exists() for x in "abcde")
    assert [c.name for c in plan.gate_result.checks] == ["gate:tier0", "gate:web", "gate:agent", "gate:spec"]
    tier0 = plan.gate_result.checks[0]
    assert tier0.message == "tier0: all checks pass" and tier0.duration is not None and tier0.checks
    assert [(c.name, c.passed, c.skipped) for c in tier0.checks] == [
        ("tier0 invariant holds", True, None), ("tier0 optional check", True, True)]
    verify_run = engine.store(project).get_run(plan.verify_run_id or "")
    assert verify_run.prompt == "Execute gate:all verification" and verify_run.task_run_id == f"verify_{plan.plan_id}"
    gate_lines = [e.text for e in engine.store(project).read_events(verify_run.run_id)]
    assert "checking web" in gate_lines and "[PASS] spec invariant holds" in gate_lines

    kinds = [a.type.value for a in engine.store(project).list_activity(500)]
    for kind in ("plan_created", "plan_dispatched", "plan_completed", "plan_verified", "run_completed"):
        assert kind in kinds
    assert all(a.project_id == project.project_id for a in engine.store(project).list_activity(500))
    with pytest.raises(PlanStateError):
        await engine.plans.dispatch(project, plan.plan_id)


async def test_a_failing_gate_fails_the_plan_with_every_check_and_no_retry(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = add_project(engine, make_npm_project(tmp_path / "sample"))
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=echo_command())
    await settle(engine, plan.plan_id)
    monkeypatch.setenv("GATE_WEB", "fail")
    plan = await engine.plans.verify(project, plan.plan_id)
    assert plan.status == PlanStatus.FAILED and plan.gate_result and not plan.gate_result.passed
    checks = {c.name: c for c in plan.gate_result.checks}
    assert list(checks) == ["gate:tier0", "gate:web", "gate:agent", "gate:spec"]  # all ran after the failure
    assert not checks["gate:web"].passed and checks["gate:agent"].passed
    assert "exit code 1" in checks["gate:web"].message and "[FAIL] web invariant broken" in checks["gate:web"].message
    assert [c.passed for c in checks["gate:web"].checks or []] == [True, False]
    verify_runs = [r for r in engine.store(project).list_runs() if r.task_run_id == f"verify_{plan.plan_id}"]
    assert len(verify_runs) == 1  # no automatic retry
    assert "plan_failed" in [a.type.value for a in engine.store(project).list_activity()]
    # An explicit second verify, after the fix, passes.
    monkeypatch.delenv("GATE_WEB")
    plan = await engine.plans.verify(project, plan.plan_id)
    assert plan.status == PlanStatus.VERIFIED


async def test_gate_defaults_from_package_json(engine: Engine, tmp_path: Path) -> None:
    root = make_npm_project(tmp_path / "split", gates={"gate:ui": "ui", "gate:task": "task", "gate:web": "web"})
    project = add_project(engine, root)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=echo_command())
    await settle(engine, plan.plan_id)
    plan = await engine.plans.verify(project, plan.plan_id)
    assert plan.gate_result is not None
    assert [(c.name, c.passed, bool(c.skipped)) for c in plan.gate_result.checks] == [
        ("gate:ui", True, False), ("gate:task", True, False), ("gate:web", True, False),
        ("gate:agent", True, True), ("gate:spec", True, True)]
    assert "no 'gate:agent' script" in plan.gate_result.checks[3].message
    assert plan.status == PlanStatus.VERIFIED


async def test_verify_refuses_without_gates_and_on_unfinished_plans(engine: Engine, tmp_path: Path,
                                                                    fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "bare")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x [ask]"}]})
    with pytest.raises(PlanStateError, match="DRAFT"):
        await engine.plans.verify(project, plan.plan_id)
    await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    await until(lambda: engine.store(project).get_plan(plan.plan_id).tasks[0].status == TaskState.AWAITING_RESPONSE)
    with pytest.raises(PlanStateError, match="unfinished"):
        await engine.plans.verify(project, plan.plan_id)
    run_id = engine.store(project).get_plan(plan.plan_id).tasks[0].run_id or ""
    await engine.runs.respond(project, run_id, "ok")
    await settle(engine, plan.plan_id)
    with pytest.raises(PlanStateError, match="no gates to run"):
        await engine.plans.verify(project, plan.plan_id)
    engine.save_project(project.model_copy(update={"settings": project.settings.model_copy(
        update={"gates": [f"{sys.executable} -c \"print('[PASS] custom ok')\""]})}))
    verified = await engine.plans.verify(project, plan.plan_id)
    assert verified.status == PlanStatus.VERIFIED


async def test_a_task_that_cannot_start_leaves_the_plan_running_partial(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    good = tmp_path / "p" / "agent.sh"
    good.write_text("#!/bin/sh\necho working\n")
    good.chmod(0o755)
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": str(good)}, {"id": "b", "description": "/no/such/agent"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="{prompt}")
    await settle(engine, plan.plan_id)
    plan = engine.store(project).get_plan(plan.plan_id)
    statuses = {t.description: t for t in plan.tasks}
    assert statuses[str(good)].status == TaskState.COMPLETE
    failed = statuses["/no/such/agent"]
    assert failed.status == TaskState.ERROR and "command not found" in (failed.error or "")
    assert plan.status == PlanStatus.RUNNING and plan.completed_at  # partial, not FAILED
    with pytest.raises(PlanStateError, match="--force"):
        await engine.plans.verify(project, plan.plan_id)


async def test_a_failed_dependency_cancels_its_dependents_and_others_go_on(
    engine: Engine, tmp_path: Path, fake_claude: Path
) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "a [crash]"}, {"id": "b", "description": "b", "dependencies": ["a"]},
        {"id": "c", "description": "c", "dependencies": ["b"]}, {"id": "d", "description": "d"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    await settle(engine, plan.plan_id)
    plan = engine.store(project).get_plan(plan.plan_id)
    by = {t.description.split()[0]: t for t in plan.tasks}
    assert by["a"].status == TaskState.ERROR
    assert by["b"].status == TaskState.CANCELLED and "dependency" in (by["b"].error or "")
    assert by["c"].status == TaskState.CANCELLED
    assert by["d"].status == TaskState.COMPLETE
    assert plan.status == PlanStatus.RUNNING and plan.completed_at
    started = {e["prompt"] for e in fake_log(fake_claude) if e["kind"] == "start"}
    assert started == {"a [crash]", "d"}


async def test_a_plan_where_nothing_completes_fails(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "a [error]"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    await settle(engine, plan.plan_id)
    plan = engine.store(project).get_plan(plan.plan_id)
    assert plan.status == PlanStatus.FAILED
    assert "plan_failed" in [a.type.value for a in engine.store(project).list_activity()]


async def test_a_waiting_task_keeps_its_slot(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "first [ask]", "priority": 1}, {"id": "b", "description": "second", "priority": 2}]})
    await engine.plans.dispatch(project, plan.plan_id, parallel=False, executor=CC)
    await until(lambda: engine.store(project).get_plan(plan.plan_id).tasks[0].status == TaskState.AWAITING_RESPONSE)
    import asyncio

    await asyncio.sleep(0.5)
    assert [e["prompt"] for e in fake_log(fake_claude) if e["kind"] == "start"] == ["first [ask]"]
    await engine.runs.respond(project, engine.store(project).get_plan(plan.plan_id).tasks[0].run_id or "", "go on")
    await settle(engine, plan.plan_id)
    final = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in final.tasks] == [TaskState.COMPLETE, TaskState.COMPLETE]


async def test_cancel_a_plan_ends_its_processes(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "a [hang]"}, {"id": "b", "description": "b [hang]"},
        {"id": "c", "description": "c", "dependencies": ["a"]}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=CC)
    await until(lambda: len([e for e in fake_log(fake_claude) if e["kind"] == "hang"]) == 2)
    groups = [engine.store(project).get_run(t.run_id or "").pid for t in engine.store(project).get_plan(plan.plan_id).tasks[:2]]
    cancelled = await engine.plans.cancel(project, plan.plan_id)
    assert cancelled.status == PlanStatus.CANCELLED
    assert all(t.status == TaskState.CANCELLED for t in cancelled.tasks)
    for pgid in groups:
        assert pgid
        await until(lambda pgid=pgid: group_members(pgid) == [], timeout=10)
    assert engine.plans.jobs == {}


async def test_two_projects_side_by_side_share_nothing(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    a = add_project(engine, make_npm_project(tmp_path / "alpha"))
    b = add_project(engine, make_npm_project(tmp_path / "beta"))
    plan_a = engine.plans.plan_from_answer(a, {"tasks": [{"id": "x", "description": "alpha [write x.txt]"}]})
    plan_b = engine.plans.plan_from_answer(b, {"tasks": [{"id": "x", "description": "beta [write y.txt]"}]})
    await engine.plans.dispatch(a, plan_a.plan_id, executor=CC)
    await engine.plans.dispatch(b, plan_b.plan_id, executor=CC)
    await settle(engine, plan_a.plan_id)
    await settle(engine, plan_b.plan_id)
    done_a = engine.store(a).get_plan(plan_a.plan_id).tasks[0]
    done_b = engine.store(b).get_plan(plan_b.plan_id).tasks[0]
    assert (Path(done_a.worktree_path or "") / "x.txt").exists() and not (Path(done_a.worktree_path or "") / "y.txt").exists()
    assert (Path(done_b.worktree_path or "") / "y.txt").exists() and not (Path(done_b.worktree_path or "") / "x.txt").exists()
    assert a.project_id in (done_a.worktree_path or "") and b.project_id in (done_b.worktree_path or "")
    state_a = (tmp_path / "alpha" / ".claude" / "state")
    text_a = "".join(p.read_text(errors="ignore") for p in state_a.rglob("*") if p.is_file())
    assert plan_b.plan_id not in text_a and b.project_id not in text_a
    for run in engine.store(b).list_runs():
        assert run.run_id not in text_a
    with pytest.raises(Exception, match=r"not in|no plan"):
        await engine.plans.dispatch(a, plan_b.plan_id)


# -- every way planning can fail ----------------------------------------------------------


def many(n: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "description": f"task {i}"} for i in range(n)]


PLANNER_FAILURES: list[tuple[str, Any, str]] = [
    ("401", Status(401, error_body("authentication_error", "invalid key")), "refused the API key (401)"),
    ("429", Status(429, error_body("rate_limit_error", "slow")), "rate limiting this key (429)"),
    ("500", Status(500, error_body("api_error", "boom")), "server error (500)"),
    ("503", Status(503, error_body("api_error", "down")), "server error (503)"),
    ("timeout", Delay(3.0, submit(many(1))), "did not answer in time"),
    ("text", text_reply("I think you should refactor everything."), "answered with text instead of calling submit_plan"),
    ("invalid json", tool_use("submit_plan", "{tasks: [oops"), "not valid JSON"),
    ("not json body", Raw("<html>proxy error</html>"), "Anthropic API"),
    ("zero tasks", submit([]), "the plan has no tasks"),
    ("too many", submit(many(51)), "51 tasks; at most 50"),
    ("unknown dep", submit([{"id": "a", "description": "x", "dependencies": ["zz"]}]), "depends on unknown task zz"),
    ("self dep", submit([{"id": "a", "description": "x", "dependencies": ["a"]}]), "task a depends on itself"),
    ("cycle", submit([{"id": "a", "description": "x", "dependencies": ["b"]},
                      {"id": "b", "description": "y", "dependencies": ["a"]}]), "cycle: a -> b -> a"),
    ("bad shape", tool_use("submit_plan", {"tasks": [{"id": "a"}]}), "tasks.0.description"),
    ("bad priority", submit([{"id": "a", "description": "x", "priority": -3}]), "tasks.0.priority"),
]


@pytest.mark.parametrize(("case", "reply", "message"), PLANNER_FAILURES, ids=[c[0] for c in PLANNER_FAILURES])
async def test_planner_failures_become_failed_plans(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                    monkeypatch: pytest.MonkeyPatch, case: str, reply: Any,
                                                    message: str) -> None:
    monkeypatch.setenv("PMDESK_API_TIMEOUT", "0.5")
    project = add_project(engine, tmp_path / "p")
    packet = await packet_for(engine, project)
    fake_api.default = reply
    plan = await engine.plans.create_plan(project, packet.packet_id)
    assert plan.status == PlanStatus.FAILED and plan.tasks == []
    assert plan.gate_result and not plan.gate_result.passed
    check = plan.gate_result.checks[0]
    assert check.name == "plan_generation" and not check.passed
    assert message in check.message
    assert "sk-ant" not in check.message
    kinds = [a.type.value for a in engine.store(project).list_activity()]
    assert "plan_created" in kinds and "plan_failed" in kinds


async def test_planning_without_a_key(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    packet = await packet_for(engine, project)
    plan = await engine.plans.create_plan(project, packet.packet_id)
    assert plan.status == PlanStatus.FAILED
    assert plan.gate_result and "no Anthropic API key" in plan.gate_result.checks[0].message


async def test_planning_with_the_packet_of_another_project(engine: Engine, tmp_path: Path,
                                                           fake_api: FakeAnthropic) -> None:
    a = add_project(engine, tmp_path / "a")
    b = add_project(engine, tmp_path / "b")
    packet_b = await packet_for(engine, b)
    plan = await engine.plans.create_plan(a, packet_b.packet_id)
    assert plan.status == PlanStatus.FAILED and plan.packet_id is None
    assert plan.gate_result and "is not in project" in plan.gate_result.checks[0].message
    assert fake_api.requests == []  # nothing of B was sent anywhere


async def test_the_model_comes_from_request_then_project_then_app(engine: Engine, tmp_path: Path,
                                                                  fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    packet = await packet_for(engine, project)
    fake_api.default = submit(many(1))
    await engine.plans.create_plan(project, packet.packet_id, model="claude-opus-4-6")
    await engine.plans.create_plan(project, packet.packet_id)
    engine.save_project(project.model_copy(update={"settings": project.settings.model_copy(
        update={"default_model": "claude-haiku-4-5"})}))
    await engine.plans.create_plan(project, packet.packet_id)
    assert [r["model"] for r in fake_api.requests] == ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"]


def test_the_loop_from_the_command_line(tmp_path: Path, fake_claude: Path) -> None:
    root = make_npm_project(tmp_path / "cli")
    assert run_cli("project", "add", str(root), "--name", "cli").returncode == 0
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"tasks": [{"id": "a", "description": "one [write one.txt]"},
                                           {"id": "b", "description": "two", "dependencies": ["a"]}]}))
    made = run_cli("plan", "cli", "--from-file", str(tasks), "--json")
    assert made.returncode == 0, made.stderr
    plan_id = json.loads(made.stdout)["planId"]
    dispatched = run_cli("dispatch", plan_id, "--json", "--executor", "claude_code")
    assert dispatched.returncode == 0, dispatched.stderr
    assert [t["status"] for t in json.loads(dispatched.stdout)["tasks"]] == ["COMPLETE", "COMPLETE"]
    again = run_cli("dispatch", plan_id)
    assert again.returncode == 2 and "already run all its tasks" in again.stderr
    verified = run_cli("verify", plan_id)
    assert verified.returncode == 0 and "[PASS] gate:tier0" in verified.stdout
    shown = json.loads(run_cli("show", plan_id, "--json").stdout)
    assert shown["status"] == "VERIFIED" and shown["gateResult"]["passed"] is True
    activity = json.loads(run_cli("activity", "cli", "--json").stdout)
    types = [a["type"] for a in activity]
    assert types[0] == "plan_verified"  # newest first
    assert {"plan_created", "plan_dispatched", "plan_completed"} <= set(types)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tasks": [{"id": "a", "description": "x", "dependencies": ["a"]}]}))
    failed = run_cli("plan", "cli", "--from-file", str(bad))
    assert failed.returncode == 1 and "depends on itself" in failed.stderr


SLOW_GATE = """
import sys, time
name, log = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(f"start {name} {time.monotonic()}\\n")
for i in range(3000):
    print(f"[PASS] {name} check {i}")
sys.stdout.flush()
time.sleep(float(sys.argv[3]))
with open(log, "a") as f:
    f.write(f"end {name} {time.monotonic()}\\n")
"""


def slow_gates(engine: Engine, root: Path, pause: float) -> tuple[Project, Path]:
    root.mkdir(parents=True)
    (root / "gate.py").write_text(SLOW_GATE)
    log = root / "gates.log"
    project = add_project(engine, root)
    project.settings.gates = [f"{sys.executable} gate.py {name} {log} {pause}" for name in ("one", "two", "three")]
    engine.save_project(project)
    return project, log


async def test_gates_run_one_after_another_and_their_lines_stay_in_order(engine: Engine, tmp_path: Path) -> None:
    project, log = slow_gates(engine, tmp_path / "p", 0.2)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=echo_command())
    await settle(engine, plan.plan_id)
    plan = await engine.plans.verify(project, plan.plan_id)
    assert plan.status == PlanStatus.VERIFIED
    steps = [line.split() for line in log.read_text().splitlines()]
    assert [(s[0], s[1]) for s in steps] == [("start", "one"), ("end", "one"), ("start", "two"), ("end", "two"),
                                             ("start", "three"), ("end", "three")]
    times = [float(s[2]) for s in steps]
    assert times == sorted(times)  # no gate starts before the one before it has ended
    trail = [e.text for e in engine.store(project).read_events(plan.verify_run_id or "")]
    assert trail[:2] == ["integrating the task branches", f"merged task #1 ({plan.tasks[0].branch})"]
    trail = trail[2:]
    expected: list[str] = []
    for name in ("one", "two", "three"):
        headers = [t for t in trail if t.startswith("$ ") and f"gate.py {name} " in t]
        assert len(headers) == 1
        expected += [headers[0], *(f"[PASS] {name} check {i}" for i in range(3000))]
        summary = next(t for t in trail if t.startswith("✓ ") and f"gate.py {name} " in t)
        expected.append(summary)
    assert trail == expected
    assert all(c.passed and c.duration >= 200 for c in plan.gate_result.checks)  # type: ignore[union-attr]


async def test_cancelling_a_verify_ends_its_gate_and_starts_no_other(engine: Engine, tmp_path: Path) -> None:
    project, log = slow_gates(engine, tmp_path / "p", 30)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "x"}]})
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=echo_command())
    await settle(engine, plan.plan_id)
    verifying = asyncio.ensure_future(engine.plans.verify(project, plan.plan_id))
    await until(lambda: log.exists() and "start one" in log.read_text())
    pgid = engine.plans.jobs[plan.plan_id].gates[0].proc.pid  # type: ignore[union-attr]
    cancelled = await engine.plans.cancel(project, plan.plan_id)
    ended = await asyncio.wait_for(verifying, 20)
    assert cancelled.status == ended.status == PlanStatus.CANCELLED
    await until(lambda: group_members(pgid) == [], timeout=10)
    await asyncio.sleep(0.5)
    assert [line.split()[:2] for line in log.read_text().splitlines()] == [["start", "one"]]
    assert engine.plans.jobs == {}
