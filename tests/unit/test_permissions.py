"""Permission rules, the protocol's answers and the CLI's version check, without processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pmdesk.config import AppSettings
from pmdesk.engine.permissions import Policy, matches, parse_mode, parse_rule, parse_rules, run_policy, suggest_rule
from pmdesk.errors import BadInputError
from pmdesk.executors.base import Verdict
from pmdesk.executors.claude_protocol import permission_answer, rule_value, too_old, tool_request
from pmdesk.executors.discovery import bundled_claude, find_claude
from pmdesk.models import PermissionMode, RequestKind, ToolRequest


def bash(command: str) -> ToolRequest:
    return ToolRequest(request_id="r", tool_name="Bash", input={"command": command})


@pytest.mark.parametrize(("rule", "asked", "expected"), [
    ("Bash(npm test:*)", bash("npm test"), True),
    ("Bash(npm test:*)", bash("npm test -- --watch"), True),
    ("Bash(npm test:*)", bash("npm testing"), False),
    ("Bash(npm test:*)", bash("npm run build"), False),
    ("Bash", bash("anything at all"), True),
    ("Write(src/*)", ToolRequest(request_id="r", tool_name="Write", input={"file_path": "src/a.py"}), True),
    ("Write(src/*)", ToolRequest(request_id="r", tool_name="Write", input={"file_path": "docs/a.md"}), False),
    ("Write", ToolRequest(request_id="r", tool_name="write_file", input={"path": "a"}), True),  # the embedded agent's
    ("Bash(git push:*)", ToolRequest(request_id="r", tool_name="run_command", input={"command": "git push -f"}), True),
])
def test_rules_match_claude_codes_way(rule: str, asked: ToolRequest, expected: bool) -> None:
    assert matches(parse_rule(rule), asked) is expected


def test_bad_rules_and_modes_are_refused_with_what_is_valid() -> None:
    for text in ("Bash(npm test", "(x)", "two words", ""):
        with pytest.raises(BadInputError, match="not a permission rule"):
            parse_rule(text)
    assert parse_rules([" Read ", "Read", "", "Bash(npm test:*)"]) == ["Read", "Bash(npm test:*)"]
    with pytest.raises(BadInputError, match="ask, accept_edits, plan, bypass"):
        parse_mode("yolo")
    assert parse_mode("Accept-Edits") == PermissionMode.ACCEPT_EDITS


def test_allow_always_suggests_a_command_pattern() -> None:
    assert suggest_rule(bash("npm test -- --watch")) == "Bash(npm test:*)"
    assert suggest_rule(bash("git status")) == "Bash(git status:*)"
    assert suggest_rule(bash("touch made_by_bash")) == "Bash(touch:*)"
    assert suggest_rule(bash("python3 -m pytest")) == "Bash(python3:*)"
    assert suggest_rule(ToolRequest(request_id="r", tool_name="edit_file", input={"path": "a"})) == "Edit"


def test_deny_wins_and_modes_settle_edits() -> None:
    policy = Policy(PermissionMode.ACCEPT_EDITS, ("Bash",), ("Bash(rm:*)",))
    assert policy.decide(bash("rm -rf /")) == (False, "Bash(rm:*)")
    assert policy.decide(bash("ls")) == (True, "Bash")
    write = ToolRequest(request_id="r", tool_name="Write", input={"file_path": "a"})
    assert policy.decide(write) == (True, "accept edits mode")
    assert Policy(PermissionMode.ASK, (), ()).decide(write) is None
    question = ToolRequest(request_id="r", kind=RequestKind.QUESTION, tool_name="AskUserQuestion")
    assert Policy(PermissionMode.BYPASS, ("AskUserQuestion",), ()).decide(question) is None  # always the user's


def test_bypass_needs_a_worktree_and_the_confirmation() -> None:
    with pytest.raises(BadInputError, match="isolated worktree"):
        run_policy(PermissionMode.ASK, [], [], True, PermissionMode.BYPASS, isolated=False)
    with pytest.raises(BadInputError, match="confirm"):
        run_policy(PermissionMode.ASK, [], [], False, PermissionMode.BYPASS, isolated=True)
    inherited = run_policy(PermissionMode.BYPASS, ["Read"], [], True, None, isolated=False)
    assert inherited["permission_mode"] == "ask" and inherited["claude_mode"] == "default"  # in place: it asks
    assert run_policy(PermissionMode.BYPASS, [], [], True, None, isolated=True)["claude_mode"] == "bypassPermissions"


def test_the_answers_claude_code_accepts() -> None:
    request = tool_request({"type": "control_request", "request_id": "abc", "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "npm test"},
        "description": "run the tests", "tool_use_id": "toolu_1"}})
    assert request is not None and request.kind == RequestKind.PERMISSION and request.description == "run the tests"
    allow = json.loads(permission_answer(request, Verdict(allow=True, keep_rule="Bash(npm test:*)")))
    body = allow["response"]["response"]
    assert allow["response"]["request_id"] == "abc"
    assert body["behavior"] == "allow" and body["updatedInput"] == {"command": "npm test"}  # required
    assert body["updatedPermissions"][0] == {"type": "addRules", "rules": [{"toolName": "Bash",
                                             "ruleContent": "npm test:*"}], "behavior": "allow",
                                             "destination": "session"}
    deny = json.loads(permission_answer(request, Verdict(allow=False, message="no")))["response"]["response"]
    assert deny == {"behavior": "deny", "message": "no"}
    assert rule_value("Write") == {"toolName": "Write"}
    assert tool_request({"type": "control_request", "request_id": "x", "request": {"subtype": "hook_callback"}}) is None


def test_an_old_cli_gets_a_message_naming_both_versions() -> None:
    warning = too_old("2.0.14")
    assert warning is not None and "2.0.14" in warning and "2.1.197" in warning
    assert too_old("2.1.197") is None and too_old("2.2.0 (Claude Code)") is None and too_old("garbage") is None


def test_the_sdks_bundled_cli_is_the_last_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMDESK_CLAUDE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_claude(AppSettings()) is None or bundled_claude() is not None
    package = tmp_path / "site" / "claude_agent_sdk"
    (package / "_bundled").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported by discovery')\n")
    binary = package / "_bundled" / "claude"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    assert bundled_claude() == str(binary)
    assert find_claude(AppSettings()) == str(binary)
