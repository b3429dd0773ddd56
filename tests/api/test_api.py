"""The HTTP API through a real `pmdesk serve` process: the loop, answering, and its guards."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from tests.api.conftest import Client, Server, poll, start_server, stop_server
from tests.conftest import make_npm_project, run_cli
from tests.fakes.fake_anthropic import FakeAnthropic, tool_use

ISO = "T"  # every timestamp is ISO 8601 with a time part


def assert_spec_task(task: dict[str, Any]) -> None:
    assert task["taskId"].startswith("ptask_")
    assert isinstance(task["description"], str) and task["description"]
    assert isinstance(task["priority"], int)
    assert isinstance(task["dependencies"], list)
    assert task["status"] in {"CREATED", "QUEUED", "RUNNING", "AWAITING_RESPONSE", "COMPLETE", "ERROR", "CANCELLED"}


def finished_run(client: Client, run_id: str, states: tuple[str, ...] = ("COMPLETE", "ERROR", "CANCELLED")) -> Any:
    return poll(lambda: (r := client.get(f"/api/runs/{run_id}").body)["status"] in states and r)


def register(client: Client, path: Path) -> str:
    answer = client.post("/api/projects", {"path": str(path)})
    assert answer.status == 201, answer.body
    project_id: str = answer.body["projectId"]
    return project_id


def test_the_whole_loop_over_http(tmp_path: Path, fake_api: FakeAnthropic, fake_claude: Path) -> None:
    project_dir = make_npm_project(tmp_path / "sample")
    server = start_server()
    try:
        client = server.client
        project_id = register(client, project_dir)

        # A run to follow up on, and its inspection packet.
        created = client.post(f"/api/projects/{project_id}/runs",
                              {"prompt": "build the feature", "executor": "claude_code"})
        assert created.status == 201 and created.body["runId"].startswith("run_"), created.body
        run = finished_run(client, created.body["runId"])
        assert run["status"] == "COMPLETE"
        packet = client.post(f"/api/runs/{run['runId']}/inspect")
        assert packet.status == 201 and packet.body["packetId"].startswith("pkt_")
        assert client.get(f"/api/packets/{packet.body['packetId']}").body["runId"] == run["runId"]

        # Plan: the spec's request and response.
        fake_api.queue(tool_use("submit_plan", {"summary": "finish it", "tasks": [
            {"id": "a", "description": "A-model [write a.txt]", "priority": 1, "dependencies": []},
            {"id": "b", "description": "B-view [write b.txt]", "priority": 2, "dependencies": ["a"]},
            {"id": "c", "description": "C-docs [write c.txt]", "priority": 1, "dependencies": []},
        ]}))
        planned = client.post(f"/api/projects/{project_id}/plan", {"packetId": packet.body["packetId"]})
        assert planned.status == 201, planned.body
        plan = planned.body
        assert set(plan) >= {"planId", "status", "tasks", "createdAt"} and plan["status"] == "DRAFT"
        assert plan["planId"].startswith("plan_") and ISO in plan["createdAt"]
        assert len(plan["tasks"]) == 3
        for task in plan["tasks"]:
            assert_spec_task(task)
            assert task["status"] == "CREATED"
        by_name = {t["description"].split()[0]: t["taskId"] for t in plan["tasks"]}
        assert next(t for t in plan["tasks"] if t["taskId"] == by_name["B-view"])["dependencies"] == [by_name["A-model"]]
        assert fake_api.requests[-1]["tool_choice"] == {"type": "tool", "name": "submit_plan"}

        # Dispatch: returns once the runs exist; a second dispatch is refused.
        dispatched = client.post(f"/api/plans/{plan['planId']}/dispatch", {"parallel": True})
        assert dispatched.status == 200, dispatched.body
        body = dispatched.body
        assert body["planId"] == plan["planId"] and body["status"] == "RUNNING" and ISO in body["executedAt"]
        assert {r["taskId"] for r in body["runs"]} == set(by_name.values())
        assert all(r["runId"].startswith("run_") for r in body["runs"])
        again = client.post(f"/api/plans/{plan['planId']}/dispatch", {})
        assert again.status == 409 and again.body["error"]["code"] == "wrong_state"
        assert "DRAFT" in again.body["error"]["message"]

        # Poll until every task is complete.
        done = poll(lambda: (p := client.get(f"/api/plans/{plan['planId']}").body)
                    and all(t["status"] == "COMPLETE" for t in p["tasks"]) and p)
        assert done["status"] == "RUNNING" and done["completedAt"]
        for task in done["tasks"]:
            assert_spec_task(task)
            assert task["runId"] in {r["runId"] for r in body["runs"]}
        assert not {"a.txt", "b.txt", "c.txt"} & {p.name for p in project_dir.iterdir()}  # each in its worktree
        assert all(task["branch"].startswith("pmdesk/") and task["changes"]["filesChanged"] == 1
                   for task in done["tasks"])

        # A run's events, paged with the cursor.
        run_id = body["runs"][0]["runId"]
        first = client.get(f"/api/runs/{run_id}/events?limit=2").body
        assert len(first["events"]) == 2 and first["more"] is True
        rest = client.get(f"/api/runs/{run_id}/events?after={first['next']}").body
        seqs = [e["seq"] for e in first["events"] + rest["events"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] == 1

        # Verify: gate:all with the project's real gate scripts.
        verified = client.post(f"/api/plans/{plan['planId']}/verify", {})
        assert verified.status == 200, verified.body
        result = verified.body
        assert result["planId"] == plan["planId"] and result["status"] == "VERIFIED"
        assert result["verifyRunId"].startswith("run_") and ISO in result["verifiedAt"]
        assert result["gateResult"]["passed"] is True
        assert [c["name"] for c in result["gateResult"]["checks"]] == ["gate:tier0", "gate:web", "gate:agent", "gate:spec"]
        assert all(c["passed"] and "message" in c for c in result["gateResult"]["checks"])
        gate_lines = client.get(f"/api/runs/{result['verifyRunId']}/events?limit=1000").body["events"]
        assert any("[PASS] web invariant holds" in e["text"] for e in gate_lines)

        # Review, then merge on the user's word.
        reviewed = client.get(f"/api/plans/{plan['planId']}/diff?stat=true").body
        assert {f["path"] for f in reviewed["sections"][0]["stat"]["files"]} == {"a.txt", "b.txt", "c.txt"}
        patch = client.get(f"/api/plans/{plan['planId']}/diff").body["sections"][0]["patch"]
        assert "+++ b/a.txt" in patch
        merged = client.post(f"/api/plans/{plan['planId']}/merge", {})
        assert merged.status == 200 and merged.body["merge"]["mode"] == "fast-forward", merged.body
        assert {p.name for p in project_dir.iterdir()} >= {"a.txt", "b.txt", "c.txt"}
        again = client.post(f"/api/plans/{plan['planId']}/merge", {})
        assert again.status == 409 and "merged already" in again.body["error"]["message"]
        listed = client.get(f"/api/projects/{project_id}/worktrees").body["worktrees"]
        assert {w["state"] for w in listed} == {"merged"} and len(listed) == 4  # three tasks and the integration
        cleaned = client.post(f"/api/projects/{project_id}/clean", {"merged": True})
        assert cleaned.status == 200 and len(cleaned.body["removed"]) == 4

        # Recorded in the project's own state directory, and in the activity feed.
        on_disk = json.loads((project_dir / ".claude/state/plans" / f"{plan['planId']}.json").read_text())
        assert on_disk["status"] == "VERIFIED" and on_disk["verifyRunId"] == result["verifyRunId"]
        kinds = [a["type"] for a in client.get(f"/api/projects/{project_id}/activity").body]
        assert {"plan_created", "plan_dispatched", "plan_verified"} <= set(kinds)
        detail = client.get(f"/api/projects/{project_id}").body
        assert detail["overview"]["projectId"] == project_id and len(detail["runs"]) == 5
        assert [p["planId"] for p in detail["plans"]] == [plan["planId"]]
    finally:
        stop_server(server)


def test_answering_a_run_and_verify_without_waiting(tmp_path: Path, fake_claude: Path) -> None:
    project_dir = make_npm_project(tmp_path / "sample")
    server = start_server()
    try:
        client = server.client
        project_id = register(client, project_dir)
        run_id = client.post(f"/api/projects/{project_id}/runs",
                             {"prompt": "tidy up [ask]", "executor": "claude_code"}).body["runId"]
        waiting = finished_run(client, run_id, ("AWAITING_RESPONSE", "ERROR"))
        assert waiting["status"] == "AWAITING_RESPONSE" and waiting["pendingQuestion"]["question"]
        listed = client.get("/api/awaiting").body
        assert [(r["runId"], r["projectId"]) for r in listed] == [(run_id, project_id)]
        assert client.get("/api/projects").body[0]["status"] == "needs_response"

        empty = client.post(f"/api/runs/{run_id}/respond", {"text": ""})
        assert empty.status == 422
        answered = client.post(f"/api/runs/{run_id}/respond", {"text": "use tabs"})
        assert answered.status == 200 and answered.body["runId"] == run_id
        final = finished_run(client, run_id)
        assert final["status"] == "COMPLETE" and final["clarifications"][0]["response"] == "use tabs"
        assert client.get("/api/awaiting").body == []
        again = client.post(f"/api/runs/{run_id}/respond", {"text": "more"})
        assert again.status == 409

        # A plan without the model (tasks in the body), run, then verified with ?wait=false.
        planned = client.post(f"/api/projects/{project_id}/plan", {"tasks": [
            {"id": "x", "description": "only task", "priority": 1, "dependencies": []}]}).body
        assert planned["status"] == "DRAFT"
        client.post(f"/api/plans/{planned['planId']}/dispatch", {"parallel": False})
        poll(lambda: all(t["status"] == "COMPLETE" for t in client.get(f"/api/plans/{planned['planId']}").body["tasks"]))
        started = client.post(f"/api/plans/{planned['planId']}/verify?wait=false", {})
        assert started.status == 202 and started.body["status"] == "VERIFYING"
        assert started.body["verifyRunId"].startswith("run_")
        meanwhile = client.post(f"/api/plans/{planned['planId']}/verify?wait=false", {})
        assert meanwhile.status == 409 and "VERIFYING" in meanwhile.body["error"]["message"]
        final_plan = poll(lambda: (p := client.get(f"/api/plans/{planned['planId']}").body)["status"] != "VERIFYING" and p)
        assert final_plan["status"] == "VERIFIED"
        twice = client.post(f"/api/plans/{planned['planId']}/verify", {})
        assert twice.status == 409
    finally:
        stop_server(server)


def test_guards(server: Server, tmp_path: Path) -> None:
    client = server.client
    token_file = Path(os.environ["XDG_CONFIG_HOME"]) / "pmdesk" / "api-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    missing = client.get("/api/projects", token=None)
    assert missing.status == 401 and missing.body["error"]["code"] == "unauthorized"
    wrong = client.get("/api/projects", token=server.token[:-1] + ("A" if server.token[-1] != "A" else "B"))
    assert wrong.status == 401
    for host in ("evil.example", "evil.example:80", "192.168.1.5:8765"):
        rebinding = client.get("/api/projects", headers={"Host": host})
        assert rebinding.status == 400 and rebinding.body["error"]["code"] == "bad_host"
    assert client.get("/api/projects", headers={"Host": f"localhost:{server.port}"}).status == 200
    assert client.get("/api/projects").headers.get("access-control-allow-origin") is None

    project_dir = tmp_path / "p"
    project_dir.mkdir()
    project_id = register(client, project_dir)
    twice = client.post("/api/projects", {"path": str(project_dir)})
    assert twice.status == 409 and "already registered" in twice.body["error"]["message"]
    assert client.post("/api/projects", {"path": str(tmp_path / "nope")}).status == 422
    assert client.post("/api/projects", {"path": "relative/dir"}).status == 422

    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for path in ("/api/runs/..%2F..%2Fetc%2Fpasswd", "/api/runs/run_..", "/api/plans/..%2Fplan_x",
                 "/api/plans/plan_%2e%2e", "/api/packets/..", f"/api/projects/{project_id}%2F..%2F..",
                 "/api/projects/pidx_000000000000", "/api/runs/run_00000000-0000-4000-8000-000000000000",
                 "/api/runs/../../etc/passwd", "/api/plans/plan_x/../../dispatch"):
        for method in ("GET", "POST"):
            answer = client.request(method, path, {} if method == "POST" else None)
            assert answer.status in (400, 404, 405), (method, path, answer.status, answer.body)
            assert "error" in answer.body
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before

    huge = client.request("POST", f"/api/projects/{project_id}/runs", raw=b"{" + b" " * (20 * 1024 * 1024) + b"}")
    assert huge.status == 413 and huge.body["error"]["code"] == "too_large"
    bad_json = client.request("POST", f"/api/projects/{project_id}/runs", raw=b"{not json")
    assert bad_json.status == 400 and bad_json.body["error"]["code"] == "invalid_json"
    not_object = client.request("POST", f"/api/projects/{project_id}/runs", raw=b"[1, 2]")
    assert not_object.status == 422
    wrong_type = client.post(f"/api/projects/{project_id}/runs", {"prompt": 5, "executor": "nonsense"})
    assert wrong_type.status == 422 and "executor" in wrong_type.body["error"]["message"]
    assert client.get(f"/api/projects/{project_id}/runs?status=NOPE").status == 400
    assert client.get("/api/runs/run_00000000-0000-4000-8000-000000000000/events?after=x").status == 400
    assert client.get("/api/nowhere").status == 404
    assert client.request("PUT", "/api/plans/plan_x").status == 405  # GET and DELETE only

    no_executor = client.post(f"/api/projects/{project_id}/runs", {"prompt": "hello"})
    assert no_executor.status == 422 and "claude" in no_executor.body["error"]["message"].lower()
    assert client.get(f"/api/projects/{project_id}/runs").body == []


def test_openapi_matches_what_is_served(server: Server) -> None:
    doc = server.client.get("/api/openapi.json").body
    assert doc["openapi"].startswith("3.1")
    served = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for spec_path in [("POST", "/api/projects/{projectId}/plan"), ("POST", "/api/plans/{planId}/dispatch"),
                      ("POST", "/api/plans/{planId}/verify"), ("GET", "/api/plans/{planId}")]:
        assert spec_path in served
    schemas = doc["components"]["schemas"]
    for _, ops in doc["paths"].items():
        for op in ops.values():
            for answer in op["responses"].values():
                ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
                target = ref.get("$ref") or ref.get("items", {}).get("$ref")
                if target:
                    assert target.rsplit("/", 1)[1] in schemas
    # every documented operation answers (never 404/405 for an unknown id: the route exists)
    for method, path in served:
        concrete = (path.replace("{projectId}", "pidx_000000000000").replace("{runId}", "run_00000000-0000-4000-8000-000000000000")
                    .replace("{planId}", "plan_00000000-0000-4000-8000-000000000000")
                    .replace("{packetId}", "pkt_00000000-0000-4000-8000-000000000000"))
        if "{" not in path:
            continue
        answer = server.client.request(method, concrete, {} if method == "POST" else None)
        assert answer.status in (404, 422), (method, path, answer.status, answer.body)


def test_one_engine_per_project(tmp_path: Path, fake_claude: Path) -> None:
    project_dir = tmp_path / "busy"
    project_dir.mkdir()
    server = start_server()
    try:
        client = server.client
        project_id = register(client, project_dir)
        run_id = client.post(f"/api/projects/{project_id}/runs",
                             {"prompt": "long job [sleep 4]", "executor": "claude_code"}).body["runId"]
        # A CLI run on the project serve owns is carried out by serve (one engine per project), and
        # its output follows in the terminal.
        cli = run_cli("run", project_id, "meanwhile", "--executor", "claude_code")
        assert cli.returncode == 0, cli.stderr
        assert "carried out by pmdesk pid" in cli.stderr and str(server.process.pid) in cli.stderr
        runs = client.get(f"/api/projects/{project_id}/runs").body
        assert len(runs) == 2 and run_id in [r["runId"] for r in runs]
        second_run = next(r for r in runs if r["runId"] != run_id)
        assert client.get(f"/api/runs/{second_run['runId']}").body["ownerPid"] == server.process.pid
        second = start_second_server(server.port)
        assert second.returncode == 1 and "cannot listen" in second.stderr
        assert finished_run(client, run_id)["status"] == "COMPLETE"
    finally:
        stop_server(server)


def start_second_server(port: int) -> Any:
    return run_cli("serve", "--port", str(port), timeout=30)


def test_binding_beyond_loopback_needs_a_flag(private_home: Path) -> None:
    refused = run_cli("serve", "--host", "0.0.0.0", "--port", "0", timeout=30)
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr


def test_schemathesis_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    """Property-based requests generated from the served OpenAPI document: no 5xx, answers match it."""
    import subprocess
    import sys

    project_dir = tmp_path / "fuzzed"
    project_dir.mkdir()
    register(server.client, project_dir)
    st = Path(sys.executable).with_name("st")
    report = tmp_path / "report"
    result = subprocess.run(
        [str(st), "run", f"{server.url}/api/openapi.json", "-H", f"Authorization: Bearer {server.token}",
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
         # registering arbitrary folders would write state directories wherever the fuzzer points
         "--exclude-operation-id", "registerProject",
         "--max-examples", "25", "--seed", "7", "--generation-database", "none", "--no-color",
         "--report", "junit", "--report-dir", str(report)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "generated" in result.stdout
    assert server.process.poll() is None  # still serving


def test_a_project_owned_elsewhere_answers_409_with_the_owner(server: Server, tmp_path: Path, fake_claude: Path) -> None:
    from pmdesk.store import StateStore

    project_dir = tmp_path / "held"
    project_dir.mkdir()
    project_id = register(server.client, project_dir)
    lock = StateStore.for_project(project_dir, project_id).owner_lock
    lock.role = "cli"
    lock.acquire()  # as a foreground `pmdesk run` in another terminal would
    try:
        busy = server.client.post(f"/api/projects/{project_id}/runs", {"prompt": "x", "executor": "claude_code"})
        assert busy.status == 409 and busy.body["error"]["code"] == "project_busy"
        assert busy.body["error"]["owner"]["pid"] == os.getpid() and busy.body["error"]["owner"]["role"] == "cli"
        assert server.client.get(f"/api/projects/{project_id}/runs").body == []  # nothing half-created
    finally:
        lock.release()
    free = server.client.post(f"/api/projects/{project_id}/runs", {"prompt": "x", "executor": "claude_code"})
    assert free.status == 201, free.body


def test_permissions_over_http(tmp_path: Path, fake_claude: Path) -> None:
    """A tool the agent asks for is approved or denied in its same turn; the policy is set per project."""
    project_dir = make_npm_project(tmp_path / "sample")
    server = start_server()
    try:
        client = server.client
        project_id = register(client, project_dir)
        bad = client.put(f"/api/projects/{project_id}/permissions", {"mode": "yolo"})
        assert bad.status == 422 and "ask, accept_edits, plan, bypass" in bad.body["error"]["message"]
        saved = client.put(f"/api/projects/{project_id}/permissions", {"allow": ["Read", "Bash(npm test:*)"]})
        assert saved.status == 200 and saved.body["allowRules"] == ["Read", "Bash(npm test:*)"]

        run_id = client.post(f"/api/projects/{project_id}/runs",
                             {"prompt": "make [need-write made.txt]", "executor": "claude_code"}).body["runId"]
        waiting = finished_run(client, run_id, ("AWAITING_RESPONSE", "ERROR"))
        assert waiting["pendingRequest"]["toolName"] == "Write", waiting
        assert waiting["settings"]["allow_rules"] == ["Read", "Bash(npm test:*)"]
        wrong = client.post(f"/api/runs/{run_id}/approve", {"always": "forever"})
        assert wrong.status == 422
        approved = client.post(f"/api/runs/{run_id}/approve", {})
        assert approved.status == 200, approved.body
        final = finished_run(client, run_id)
        assert final["status"] == "COMPLETE" and (project_dir / "made.txt").exists()
        late = client.post(f"/api/runs/{run_id}/deny", {"message": "too late"})
        assert late.status == 409

        second = client.post(f"/api/projects/{project_id}/runs",
                             {"prompt": "make [need-write other.txt]", "executor": "claude_code"}).body["runId"]
        finished_run(client, second, ("AWAITING_RESPONSE",))
        denied = client.post(f"/api/runs/{second}/deny", {"message": "no files"})
        assert denied.status == 200
        assert finished_run(client, second)["summary"] == "Not written: no files"
        assert not (project_dir / "other.txt").exists()

        third = client.post(f"/api/projects/{project_id}/runs",
                            {"prompt": "make [need-write third.txt]", "executor": "claude_code"}).body["runId"]
        finished_run(client, third, ("AWAITING_RESPONSE",))
        assert client.post(f"/api/runs/{third}/interrupt", {}).status == 200
        stopped = poll(lambda: (r := client.get(f"/api/runs/{third}").body).get("pendingRequest") is None and r)
        assert stopped["status"] == "AWAITING_RESPONSE" and "interrupted" in stopped["pendingQuestion"]["question"]
    finally:
        stop_server(server)
