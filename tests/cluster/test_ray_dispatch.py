"""A plan's runs on a real two-node Ray cluster, driven from the command line as a user would.

The fake ``claude`` runs on the cluster's workers (found through their own environment); the
dispatching pmdesk streams its events, answers its question, cancels it, and sees its node die.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.models import Run, TaskState
from tests.cluster.local_cluster import LocalCluster, processes_under
from tests.conftest import ROOT
from tests.engine.isolation_helpers import cli, cli_json, git, make_repo, new_plan, show

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]  # a cluster's start counts in the first


KEY = "sk-ant-api03-cluster-secret-0123456789abcdef"


def dispatch_in_background(plan_id: str, *extra: str) -> subprocess.Popen[str]:
    """``pmdesk dispatch`` following the plan, with an API key for its agents in its environment."""
    return subprocess.Popen([sys.executable, "-m", "pmdesk", "dispatch", plan_id, "--quiet", *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ANTHROPIC_API_KEY": KEY})


def until(what: str, predicate: Any, owner: subprocess.Popen[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if owner.poll() is not None:
            out, err = owner.communicate()
            raise AssertionError(f"the dispatching pmdesk ended ({owner.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout} s: {what}")


def task_runs(plan_id: str) -> dict[str, Run]:
    """The first word of a task's description → its run, whole, as the store has it now."""
    engine = Engine()
    store = engine.store(engine.project("far"))
    return {t.description.split()[0]: store.get_run(t.run_id) for t in store.get_plan(plan_id).tasks if t.run_id}


def log_texts(run_id: str) -> list[str]:
    return [e["text"] for e in cli_json("log", run_id, "--after", "0", "--lines", "1000")]


def fake_log(cluster: LocalCluster) -> list[dict[str, Any]]:
    if not cluster.log.exists():
        return []
    return [json.loads(line) for line in cluster.log.read_text().splitlines() if line.strip()]


def test_a_plan_runs_across_two_nodes_asks_from_there_and_its_branches_come_back(
        tmp_path: Path, ray_cluster: LocalCluster) -> None:
    repo = make_repo(tmp_path / "repo", {".gitignore": "built/\n"})
    cli("project", "add", str(repo), "--name", "far")
    cli("project", "set", "far", "--executor", "claude_code", "--gate", f"{sys.executable} gate.py a.txt b.txt c.txt d.txt",
        "--setup", f"{sys.executable} -c \"import os; os.makedirs('built', exist_ok=True); open('built/ok', 'w').write('1')\"")
    plan = new_plan(tmp_path, "far", [
        # The first works on while the third asks, so the dispatching pmdesk is still following the plan
        # when the answer comes from another terminal (a plan settled on a question lets its command return).
        {"id": "t1", "description": "first [write a.txt] [sleep 8]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "second [write b.txt]", "priority": 2, "dependencies": []},
        {"id": "t3", "description": "third [write c.txt] [ask]", "priority": 3, "dependencies": []},
        {"id": "t4", "description": "fourth [ls] [write d.txt]", "priority": 1, "dependencies": ["t1"]},
    ])
    plan_id = plan["planId"]
    estimate = cli("dispatch", plan_id, "--estimate", "--on", ray_cluster.address).stdout
    assert f"on:     {ray_cluster.address}: 2 nodes" in estimate and "takes 2 runs at once" in estimate
    status = cli_json("cluster", "status", ray_cluster.address)
    assert len([n for n in status["nodes"] if n["alive"]]) == 2 and status["cpus"] == 2 and status["runs"] == []

    owner = dispatch_in_background(plan_id, "--on", ray_cluster.address)
    def asking() -> Run | None:
        run = task_runs(plan_id).get("third")
        return run if run is not None and run.pending_request is not None else None

    third: Run = until("the third task asks its question", asking, owner, timeout=150)
    # Its events reached this machine while it works on the worker: where it runs, and what it asked.
    assert third.status == TaskState.AWAITING_RESPONSE and " (node " in (third.node or "")
    texts = log_texts(third.run_id)
    assert any(t.startswith(f"running on {third.node}") for t in texts), texts
    assert third.pending_request is not None and third.pending_request.tool_name == "AskUserQuestion"

    answered = cli("approve", third.run_id, "--text", "SQLite")  # from another terminal: the owner carries it out
    assert answered.returncode == 0, answered.stderr
    out, err = owner.communicate(timeout=120)
    assert owner.returncode == 0, out + err

    shown = cli_json("show", plan_id)
    assert shown["cluster"] == ray_cluster.address
    runs = task_runs(plan_id)
    assert all(t["status"] == "COMPLETE" for t in shown["tasks"]), [(t["status"], t.get("error")) for t in shown["tasks"]]
    assert len({r.node for r in runs.values()}) == 2  # two at once, one CPU a node: placed across both nodes
    listed = {r["runId"]: r.get("node") for r in cli_json("runs", "far", "--plan", plan_id)}
    assert listed == {r.run_id: r.node for r in runs.values()}  # a listing names each run's node too
    # The question was asked and answered in the same agent process on the worker: the same run went on.
    starts = [e for e in fake_log(ray_cluster) if e["kind"] == "start" and "third" in e["prompt"]]
    ends = [e for e in fake_log(ray_cluster) if e["kind"] == "end" and "third" in e["prompt"]]
    assert len(starts) == 1 and len(ends) == 1 and ends[0]["pid"] == starts[0]["pid"] and ends[0]["answer"] == "SQLite"
    assert starts[0]["cwd"].startswith(str(ray_cluster.workdir))  # it worked in the worker's clone, not here
    # The key its agent needs travelled in the run's payload only: the agent had it, Ray's logs never did.
    assert starts[0]["key_tail"] == KEY[-6:]
    assert not [p for p in ray_cluster.temp.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert KEY not in json.dumps(cli_json("log", third.run_id, "--after", "0", "--lines", "1000"))
    # Each branch came back to the user's repository with the task's file, committed as the agent's work.
    by_task = {t["description"].split()[0]: t for t in shown["tasks"]}
    for task_id, name in (("first", "a.txt"), ("second", "b.txt"), ("third", "c.txt"), ("fourth", "d.txt")):
        assert show(repo, by_task[task_id]["branch"], name).startswith(by_task[task_id]["description"].split(" [")[0])
        assert by_task[task_id]["headCommit"] == git(repo, "rev-parse", by_task[task_id]["branch"]).strip()
    # The dependent started from its predecessor's work, and its agent saw it on the worker.
    assert show(repo, by_task["fourth"]["branch"], "a.txt").startswith("first")
    seen = next(t for t in log_texts(by_task["fourth"]["runId"]) if "files here:" in t)
    assert "a.txt" in seen and "built" in seen  # and the project's set-up ran in its clone on the worker
    assert not (Path(by_task["fourth"]["worktreePath"]) / "built").exists()  # not here: the worker's to do
    assert not processes_under(ray_cluster.workdir)  # nothing of the runs is left working on the workers
    clones = ray_cluster.workdir / "pmdesk-runs"
    assert not clones.exists() or not list(clones.iterdir())  # each clone removed once its work came back

    # Integration and verify work as for local tasks (verify runs here by default; the suite's other
    # plans show it); asked, its gates run on the cluster, on the integration branch sent there.
    verified = cli_json("verify", plan_id, "--on", ray_cluster.address)
    assert verified["status"] == "VERIFIED" and verified["gateResult"]["passed"], verified
    texts = log_texts(verified["verifyRunId"])
    assert any(t.startswith("verifying on ") and ray_cluster.address in t for t in texts), texts
    assert "[PASS] every file is there" in texts  # the gate's own output, from the worker
    assert not processes_under(ray_cluster.workdir)


def test_a_lost_node_ends_its_run_error_with_its_events_kept_and_cancel_leaves_nothing_working(
        tmp_path: Path, ray_cluster: LocalCluster) -> None:
    repo = make_repo(tmp_path / "repo")
    cli("project", "add", str(repo), "--name", "far")
    cli("project", "set", "far", "--executor", "claude_code")
    plan = new_plan(tmp_path, "far", [
        {"id": "t1", "description": "one [chatter 3] [hang]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "two [chatter 3] [hang]", "priority": 1, "dependencies": []},
    ])
    plan_id = plan["planId"]
    owner = dispatch_in_background(plan_id, "--on", ray_cluster.address)
    try:
        def both_working() -> dict[str, Run] | None:
            runs = task_runs(plan_id)
            working = len(runs) == 2 and all(r.node and any("step 3" in t for t in log_texts(r.run_id))
                                             for r in runs.values())
            return runs if working else None

        runs = until("both runs work and stream, one on each node", both_working, owner, timeout=150)
        assert len({r.node for r in runs.values()}) == 2
        assert len(processes_under(ray_cluster.workdir)) >= 2  # the agents (and their children) on the workers
        listed = cli("cluster", "status", ray_cluster.address).stdout  # pmdesk's runs working there, by id
        assert all(r.run_id in listed for r in runs.values()) and "2 nodes alive" in listed, listed

        there = ray_cluster.runs_on("second")
        assert len(there) == 1, there
        on_second = next(r for r in runs.values() if r.run_id in there)
        on_head = next(r for r in runs.values() if r.run_id != on_second.run_id)
        ray_cluster.kill_node("second")  # the machine under the run dies

        lost = until("the run on the lost node ends", lambda: (r := task_runs(plan_id)[on_second.prompt.split()[0]])
                     .status.is_terminal and r, owner, timeout=60)
        assert lost.status == TaskState.ERROR and (lost.error or "").startswith("node lost"), lost.error
        texts = log_texts(lost.run_id)
        assert [t for t in texts if t.startswith("working, step")] == ["working, step 1", "working, step 2",
                                                                       "working, step 3"]  # what streamed is kept
        assert any(t.startswith("node lost:") for t in texts)
        assert task_runs(plan_id)[on_head.prompt.split()[0]].status == TaskState.RUNNING  # the other works on

        cancelled = cli("cancel", plan_id)  # from another terminal: the owner ends the remote agent's tree
        assert cancelled.returncode == 0, cancelled.stderr
        until("the cancelled run ends", lambda: task_runs(plan_id)[on_head.prompt.split()[0]].status.is_terminal,
              owner, timeout=60)
        assert task_runs(plan_id)[on_head.prompt.split()[0]].status == TaskState.CANCELLED
        deadline = time.monotonic() + 20
        while processes_under(ray_cluster.workdir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not processes_under(ray_cluster.workdir), processes_under(ray_cluster.workdir)
        owner.communicate(timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
        ray_cluster.start_node("second", head=False)  # for any test after this one
