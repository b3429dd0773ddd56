"""Approvals from the command line, with the stream-json fake claude on the control protocol:
a decision made in another terminal reaches the agent held by `pmdesk run --hold` in the same
turn; without a holder it resumes the session; bad modes and rules are refused with what is valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pmdesk.engine.engine import Engine
from pmdesk.models import Run, TaskState
from tests.conftest import ROOT, run_cli
from tests.engine.helpers import fake_log


def add(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    assert run_cli("project", "add", str(root), "--name", "p").returncode == 0
    return root


def runs() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(run_cli("runs", "p", "--json").stdout)
    return found


def whole(run_id: str) -> Run:
    engine = Engine()
    return engine.store(engine.project("p")).get_run(run_id)


def pending(run_id: str) -> dict[str, Any] | None:
    shown = run_cli("pending", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    found: dict[str, Any] | None = json.loads(shown.stdout)
    return found


def until_pending(timeout: float = 20) -> dict[str, Any]:
    """The newest run once it waits on a request, with the request as ``pendingRequest``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = runs()
        if found and found[0]["status"] == "AWAITING_RESPONSE":
            request = pending(found[0]["runId"])
            if request:
                return {**found[0], "pendingRequest": request}
        time.sleep(0.1)
    raise AssertionError(f"no pending request: {runs()}")


def hold(prompt: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pmdesk", "run", "p", prompt, "--executor", "claude_code",
                             "--hold"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def test_approve_from_another_terminal_runs_the_tool_in_the_same_turn(tmp_path: Path, fake_claude: Path) -> None:
    root = add(tmp_path)
    owner = hold("make it [need-write out.txt]")
    try:
        run = until_pending()
        request = run["pendingRequest"]
        assert request["toolName"] == "Write" and "+written after approval" in request["preview"]
        shown = run_cli("pending", run["runId"])
        assert shown.returncode == 0 and "Allow Write to write out.txt?" in shown.stdout

        approved = run_cli("approve", run["runId"], "--no-follow")
        assert approved.returncode == 0, approved.stderr
        _out, err = owner.communicate(timeout=30)
    finally:
        owner.kill()
    assert owner.returncode == 0, err
    assert "NEEDS RESPONSE" in err and "pmdesk approve" in err
    assert (root / "out.txt").read_text() == "written after approval\n"
    final = whole(run["runId"])
    assert final.status == TaskState.COMPLETE and final.summary == "Wrote out.txt."
    assert [e["kind"] for e in fake_log(fake_claude)].count("start") == 1  # the same process: no resume


def test_deny_from_another_terminal_tells_the_agent(tmp_path: Path, fake_claude: Path) -> None:
    root = add(tmp_path)
    owner = hold("make it [need-write out.txt]")
    try:
        run = until_pending()
        denied = run_cli("deny", run["runId"], "not", "now", "--no-follow")
        assert denied.returncode == 0, denied.stderr
        owner.communicate(timeout=30)
    finally:
        owner.kill()
    assert not (root / "out.txt").exists()
    assert whole(run["runId"]).summary == "Not written: not now"


def test_without_a_holder_approve_resumes_and_the_regranted_tool_is_not_asked_again(
        tmp_path: Path, fake_claude: Path) -> None:
    add(tmp_path)
    first = run_cli("run", "p", "pick [ask]", "--executor", "claude_code")
    assert "NEEDS RESPONSE" in first.stderr and "--answer" in first.stderr  # the run waits; the command returns
    run = until_pending()
    assert run["pendingRequest"]["kind"] == "question"
    answered = run_cli("approve", run["runId"], "--text", "SQLite")
    assert answered.returncode == 0, answered.stderr
    final = whole(run["runId"])
    assert final.status == TaskState.COMPLETE and "The user answered: SQLite" in (final.summary or "")


def test_interrupt_from_another_terminal_stops_the_turn(tmp_path: Path, fake_claude: Path) -> None:
    add(tmp_path)
    owner = hold("make it [need-write out.txt]")
    try:
        run = until_pending()
        stopped = run_cli("interrupt", run["runId"])
        assert stopped.returncode == 0, stopped.stderr
        owner.communicate(timeout=30)
    finally:
        owner.kill()
    waiting = runs()[0]
    assert waiting["status"] == "AWAITING_RESPONSE" and pending(waiting["runId"]) is None
    assert "interrupted" in waiting["question"]


def test_bad_modes_and_rules_are_refused_with_what_is_valid(tmp_path: Path, fake_claude: Path) -> None:
    add(tmp_path)
    bad = run_cli("project", "set", "p", "--permission-mode", "yolo")
    assert bad.returncode != 0 and "ask, accept_edits, plan, bypass" in bad.stderr
    bad_rule = run_cli("project", "set", "p", "--allow", "Bash(npm test")
    assert bad_rule.returncode != 0 and "not a permission rule" in bad_rule.stderr
    unconfirmed = run_cli("project", "set", "p", "--permission-mode", "bypass")
    assert unconfirmed.returncode != 0 and "--confirm-bypass" in unconfirmed.stderr
    ok = run_cli("project", "set", "p", "--allow", "Bash(npm test:*)", "--allow", "Read", "--deny", "WebFetch",
                 "--permission-mode", "accept-edits")
    assert ok.returncode == 0, ok.stderr
    shown = run_cli("project", "show", "p")
    assert "permissions: accept_edits; allow ['Bash(npm test:*)', 'Read']; deny ['WebFetch']" in shown.stdout
    in_place = run_cli("run", "p", "go", "--executor", "claude_code", "--permission-mode", "bypass")
    assert in_place.returncode != 0 and "only for runs in an isolated worktree" in in_place.stderr
    confirmed = run_cli("project", "set", "p", "--permission-mode", "bypass", "--confirm-bypass")
    assert confirmed.returncode == 0, confirmed.stderr
    activity = run_cli("activity", "p", "--json")
    assert "bypass confirmed" in activity.stdout
    assert run_cli("approve", "run_00000000-0000-0000-0000-000000000000").returncode != 0
