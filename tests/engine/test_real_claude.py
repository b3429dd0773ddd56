"""The real Claude Code CLI (npm @anthropic-ai/claude-code, pinned, installed by scripts/setup.sh --test)
through the claude_code executor on its control protocol, against a scripted fake Messages API on
127.0.0.1: never the network. The fake plays the model; the CLI asks pmdesk for every tool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PermissionMode, RequestKind, Run, TaskState
from tests.conftest import ROOT
from tests.engine.helpers import add_project, events, until
from tests.fakes.fake_anthropic import FakeAnthropic, message, text_reply, tool_use

REAL_CLAUDE = ROOT / "tests" / "fixtures" / "claude-code" / "node_modules" / ".bin" / "claude"
CC = ExecutorKind.CLAUDE_CODE
pytestmark = pytest.mark.realclaude


@pytest.fixture
def real_claude(monkeypatch: pytest.MonkeyPatch, fake_api: FakeAnthropic, private_home: Path) -> Path:
    assert REAL_CLAUDE.exists(), "scripts/setup.sh --test installs it (npm ci in tests/fixtures/claude-code)"
    monkeypatch.setenv("PMDESK_CLAUDE_BIN", str(REAL_CLAUDE))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(private_home / ".claude"))
    for name in ("DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
                 "DISABLE_AUTOUPDATER"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")
    return REAL_CLAUDE


# -- the scripted model ---------------------------------------------------------------------------


def said(body: dict[str, Any]) -> str:
    """Everything the model has been told so far (prompts, tool results, injected messages)."""
    return json.dumps(body.get("messages", []), ensure_ascii=False)


def steps(*replies: Any) -> Callable[[dict[str, Any]], Any]:
    """The n-th reply for the n-th model call of the conversation (counted by its assistant turns);
    a reply may be a function of the request."""
    def reply(body: dict[str, Any]) -> Any:
        done = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        chosen = replies[min(done, len(replies) - 1)]
        return chosen(body) if callable(chosen) else chosen
    return reply


def write(path: Path, content: str = "hello\n") -> dict[str, Any]:
    return tool_use("Write", {"file_path": str(path), "content": content})


def bash(command: str) -> dict[str, Any]:
    return tool_use("Bash", {"command": command, "description": command})


async def until_asked(engine: Engine, project: Any, run_id: str, timeout: float = 40) -> Run:
    def asked() -> bool:
        run = engine.store(project).get_run(run_id)
        return run.pending_request is not None or run.status.is_terminal
    await until(asked, timeout=timeout)
    return engine.store(project).get_run(run_id)


async def start(engine: Engine, project: Any, prompt: str, **kw: Any) -> Run:
    run = engine.runs.create(project, prompt, executor=CC, **kw)
    await engine.runs.start(project, run.run_id)
    return await until_asked(engine, project, run.run_id)


async def finish(engine: Engine, project: Any, run_id: str) -> Run:
    """The run once it ended (or asks again); an unexpected error carries the run's trail."""
    await until(lambda: engine.store(project).get_run(run_id).status.is_terminal
                or engine.store(project).get_run(run_id).pending_request is not None, timeout=40)
    run = engine.store(project).get_run(run_id)
    if run.status == TaskState.ERROR:
        trail = "\n".join(f"{e.kind}: {e.text[:200]}" for e in engine.store(project).read_events(run_id)[-20:])
        run.error = f"{run.error}\n--- trail ---\n{trail}"
    return run


# -- tools: allow, deny, allow always, two at once ------------------------------------------------


async def test_allow_runs_the_tool_in_the_same_turn(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                    real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    target = tmp_path / "proj" / "hello.txt"
    fake_api.default = steps(write(target), text_reply("Wrote hello.txt."))
    run = await start(engine, project, "write hello")
    request = run.pending_request
    assert run.status == TaskState.AWAITING_RESPONSE and request is not None
    assert request.tool_name == "Write" and request.input["file_path"] == str(target)
    assert request.preview and "+hello" in request.preview and "b/hello.txt" in request.preview
    assert run.agent_version == "2.1.197" and not target.exists()  # nothing happens before the user decides
    assert engine.overview(project).status.value == "needs_response"

    await engine.runs.decisions.decide(project, run.run_id, True)
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert target.read_text() == "hello\n" and final.summary == "Wrote hello.txt."
    assert "File created successfully" in said(fake_api.requests[-1])  # the tool ran in that same turn
    assert [d.allow for d in final.decisions] == [True]
    assert len([e for e in events(engine, project, run.run_id) if "--resume" in e.text]) == 0  # one process


async def test_deny_with_a_message_tells_the_model(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                   real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    target = tmp_path / "proj" / "hello.txt"
    fake_api.default = steps(write(target), text_reply("Understood, not writing."))
    run = await start(engine, project, "write hello")
    await engine.runs.decisions.decide(project, run.run_id, False, message="No files today, just tell me.")
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert not target.exists()
    assert "No files today, just tell me." in said(fake_api.requests[-1])
    activity = [a.message for a in engine.store(project).list_activity()]
    assert any("denied" in m and "hello.txt" in m for m in activity)


async def test_allow_always_does_not_ask_the_second_time(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                         real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    first, second = tmp_path / "proj" / "a.txt", tmp_path / "proj" / "b.txt"
    fake_api.default = steps(write(first, "a\n"), write(second, "b\n"), text_reply("Both written."))
    run = await start(engine, project, "write two files")
    await engine.runs.decisions.decide(project, run.run_id, True, always="run")
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert first.read_text() == "a\n" and second.read_text() == "b\n"
    assert final.allow_rules == ["Write"]
    asked = [e for e in events(engine, project, run.run_id) if e.kind == "permission"]
    assert len(asked) == 1  # the second Write was not asked


async def test_allow_always_for_the_project_is_kept_for_the_next_run(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    fake_api.default = steps(bash("touch made_by_bash"), text_reply("Touched."))
    run = await start(engine, project, "touch a file")
    assert run.pending_request and run.pending_request.suggested_rule == "Bash(touch:*)"
    await engine.runs.decisions.decide(project, run.run_id, True, always="project")
    assert (await finish(engine, project, run.run_id)).status == TaskState.COMPLETE
    assert (tmp_path / "proj" / "made_by_bash").exists()
    assert engine.project_settings(project).settings.allow_rules == ["Bash(touch:*)"]

    fake_api.default = steps(bash("touch again_by_bash"), text_reply("Touched again."))
    second = await start(engine, project, "touch another")
    assert second.status == TaskState.COMPLETE and second.pending_request is None, second.error
    assert (tmp_path / "proj" / "again_by_bash").exists()
    assert "Bash(touch:*)" in second.settings["allow_rules"]  # shown in its packet's settings


async def test_two_tools_in_one_message_are_asked_one_by_one(engine: Engine, tmp_path: Path,
                                                              fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    root = tmp_path / "proj"
    both = message([
        {"type": "tool_use", "id": "toolu_two_1", "name": "Write",
         "input": {"file_path": str(root / "one.txt"), "content": "1\n"}},
        {"type": "tool_use", "id": "toolu_two_2", "name": "Bash",
         "input": {"command": "touch two.txt", "description": "make two"}},
    ], stop_reason="tool_use")
    fake_api.default = steps(both, text_reply("Did both."))
    run = await start(engine, project, "do two things")
    assert run.pending_request and run.pending_request.tool_name == "Write"
    await engine.runs.decisions.decide(project, run.run_id, True)

    def bash_asked() -> bool:
        pending = engine.store(project).get_run(run.run_id).pending_request
        return pending is not None and pending.tool_name == "Bash"
    await until(bash_asked, timeout=30)
    run = engine.store(project).get_run(run.run_id)
    assert run.pending_request and run.pending_request.tool_name == "Bash"
    await engine.runs.decisions.decide(project, run.run_id, False, message="not that one")
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert (root / "one.txt").exists() and not (root / "two.txt").exists()
    assert [(d.tool_name, d.allow) for d in final.decisions] == [("Write", True), ("Bash", False)]


# -- questions and plans ---------------------------------------------------------------------------


QUESTION = {"questions": [{"question": "Which indentation style should I use?", "header": "Indent",
                           "options": [{"label": "Tabs", "description": "One tab per level"},
                                       {"label": "Spaces", "description": "Four spaces per level"}],
                           "multiSelect": False}]}


async def test_a_question_with_choices_is_answered_in_the_same_turn(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    fake_api.default = steps(tool_use("AskUserQuestion", QUESTION),
                             lambda body: text_reply("Reformatted with " + ("tabs." if '=\\"Tabs\\"' in said(body)
                                                                           else "something else.")))
    run = await start(engine, project, "reformat")
    assert run.pending_request and run.pending_request.kind == RequestKind.QUESTION
    assert run.pending_question and run.pending_question.question == "Which indentation style should I use?"
    await engine.runs.decisions.decide(project, run.run_id, True,
                                       answers={"Which indentation style should I use?": "Tabs"})
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE and final.summary == "Reformatted with tabs.", final.error
    assert "Your questions have been answered" in said(fake_api.requests[-1])
    assert final.clarifications[0].response == "Tabs"


async def test_plan_approval_and_accept_edits_from_then_on(engine: Engine, tmp_path: Path,
                                                           fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    target = tmp_path / "proj" / "plan_done.txt"
    fake_api.default = steps(tool_use("ExitPlanMode", {"plan": "## Plan\n1. write plan_done.txt"}),
                             write(target, "done\n"), text_reply("Carried out the plan."))
    run = await start(engine, project, "plan then do", permission_mode=PermissionMode.PLAN)
    assert run.settings["claude_mode"] == "plan"
    assert run.pending_request and run.pending_request.kind == RequestKind.PLAN_APPROVAL
    assert run.pending_request.preview and "write plan_done.txt" in run.pending_request.preview
    await engine.runs.decisions.decide(project, run.run_id, True, accept_edits=True)
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, (final.status, final.pending_request)
    assert target.read_text() == "done\n"  # the Write after the approval did not ask
    assert "User has approved your plan" in said(fake_api.requests[-1])


# -- interrupt --------------------------------------------------------------------------------------


async def test_interrupt_while_a_permission_is_pending(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                       real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    target = tmp_path / "proj" / "hello.txt"
    fake_api.default = steps(write(target), text_reply("Fine, I stopped."), text_reply("Doing the other thing."))
    run = await start(engine, project, "write hello")
    assert run.pending_request is not None
    await engine.runs.decisions.interrupt(project, run.run_id)
    await until(lambda: engine.store(project).get_run(run.run_id).pending_request is None
                and engine.store(project).get_run(run.run_id).status == TaskState.AWAITING_RESPONSE, timeout=30)
    waiting = engine.store(project).get_run(run.run_id)
    assert waiting.pending_question and "interrupted" in waiting.pending_question.question
    assert not target.exists()
    await engine.runs.respond(project, run.run_id, "do the other thing instead")
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE and final.run_id == run.run_id, final.error
    assert "do the other thing instead" in said(fake_api.requests[-1])


def sleepers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    return [pid for pid in found if pid != str(os.getpid())]


async def test_interrupt_while_a_tool_runs_leaves_no_process(engine: Engine, tmp_path: Path,
                                                             fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    project.settings.allow_rules = ["Bash(sleep:*)"]
    engine.save_project(project)
    fake_api.default = steps(bash("sleep 47.5"), text_reply("Stopped."), text_reply("OK."))
    run = engine.runs.create(project, "sleep a while", executor=CC)
    await engine.runs.start(project, run.run_id)
    await until(lambda: bool(sleepers("sleep 47.5")), timeout=40)
    await engine.runs.decisions.interrupt(project, run.run_id)
    await until(lambda: engine.store(project).get_run(run.run_id).status == TaskState.AWAITING_RESPONSE, timeout=30)
    await until(lambda: not sleepers("sleep 47.5"), timeout=10)
    await engine.runs.cancel(project, run.run_id)
    final = engine.store(project).get_run(run.run_id)
    assert final.status == TaskState.CANCELLED
    assert not sleepers("sleep 47.5")
    assert final.pid is None or not Path(f"/proc/{run.pid}").exists()


# -- a restart while a permission is pending -------------------------------------------------------


OWNER = """
import asyncio, sys
from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind

async def main():
    engine = Engine()
    project = engine.project(sys.argv[1])
    run = engine.runs.create(project, "write hello", executor=ExecutorKind.CLAUDE_CODE)
    print(run.run_id, flush=True)
    await engine.runs.start(project, run.run_id)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def transcripts(session: str) -> list[Path]:
    """Where the CLI keeps a session (``$HOME/.claude/projects/*/<id>.jsonl``; HOME is the test's)."""
    return list((Path(os.environ["HOME"]) / ".claude" / "projects").glob(f"*/{session}.jsonl"))


@pytest.mark.parametrize("session_kept", [True, False], ids=["session-saved", "session-lost"])
async def test_the_app_killed_while_a_permission_is_pending_then_approved(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, real_claude: Path, session_kept: bool) -> None:
    """Either way the decision is carried out and the tool runs once: the saved session is
    resumed; one the CLI had not saved yet (killed at once with pmdesk) goes on in a new session."""
    project = add_project(engine, tmp_path / "proj")
    target = tmp_path / "proj" / "hello.txt"

    def model(body: dict[str, Any]) -> Any:
        told = said(body)
        if "File created successfully" in told:
            return text_reply("Wrote it after the restart.")
        if "The user allowed it" in told or "write hello" in told:
            return write(target)
        return text_reply("?")
    fake_api.default = model
    owner = subprocess.Popen([sys.executable, "-c", OWNER, project.project_id], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT, env=os.environ.copy())
    try:
        assert owner.stdout is not None
        run_id = owner.stdout.readline().strip()
        await until(lambda: engine.store(project).get_run(run_id).pending_request is not None, timeout=40)
        if session_kept:  # the CLI writes its transcript a moment after it asks
            session_id = engine.store(project).get_run(run_id).agent_session_id or ""
            await until(lambda: bool(transcripts(session_id)), timeout=20)
    finally:
        owner.send_signal(signal.SIGKILL)  # the app dies with the permission pending
        owner.wait(10)
    time.sleep(0.5)
    pending = engine.store(project).get_run(run_id)
    assert pending.status == TaskState.AWAITING_RESPONSE and pending.pending_request is not None
    if not session_kept:
        for path in transcripts(pending.agent_session_id or ""):
            path.unlink()  # as if the CLI had died before it saved the session

    restarted = Engine()
    restarted.recover()
    again = restarted.store(project).get_run(run_id)
    assert again.status == TaskState.AWAITING_RESPONSE and again.pending_request is not None  # nothing lost
    await restarted.runs.decisions.decide(project, run_id, True)
    final = await finish(restarted, project, run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert target.read_text() == "hello\n" and final.run_id == run_id
    logged = restarted.store(project).read_events(run_id)
    session = pending.agent_session_id or ""
    resumed = [e for e in logged if "--resume" in e.text and session in e.text]
    fresh = [e for e in logged if f"session {session} was not saved" in e.text]
    assert session and (bool(resumed), bool(fresh)) == ((True, False) if session_kept else (False, True))
    assert len([e for e in restarted.store(project).read_events(run_id) if e.kind == "permission"]) == 1
    await restarted.shutdown()


async def test_a_message_while_the_agent_works_reaches_its_turn(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    project.settings.allow_rules = ["Bash(sleep:*)"]
    engine.save_project(project)
    fake_api.default = steps(bash("sleep 3"), text_reply("Done, and noted."))
    run = engine.runs.create(project, "wait a little", executor=CC)
    await engine.runs.start(project, run.run_id)
    await until(lambda: bool(sleepers("sleep 3")), timeout=40)
    working = engine.store(project).get_run(run.run_id)
    assert working.status == TaskState.RUNNING and working.pending_request is None
    await engine.answer(project, run.run_id, "also mention the changelog")  # while the tool runs
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert "also mention the changelog" in said(fake_api.requests[-1])  # into the same turn
    assert len([e for e in events(engine, project, run.run_id) if e.kind == "result"]) == 1


async def test_bypass_in_its_own_worktree_asks_nothing_and_is_recorded(
        engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    engine.set_permissions(project, mode="bypass", confirm_bypass=True)
    run = engine.runs.create(project, "write freely", executor=CC, in_worktree=True)
    assert run.worktree_path and run.settings["claude_mode"] == "bypassPermissions"
    target = Path(run.worktree_path) / "free.txt"
    fake_api.default = steps(write(target, "free\n"), text_reply("Wrote it unasked."))
    await engine.runs.start(project, run.run_id)
    final = await finish(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE and final.pending_request is None, final.error
    assert target.read_text() == "free\n" and not (tmp_path / "proj" / "free.txt").exists()
    assert not [e for e in events(engine, project, run.run_id) if e.kind == "permission"]
    activity = [a.message for a in engine.store(project).list_activity()]
    assert any("bypass confirmed" in m for m in activity) and any("bypasses permissions" in m for m in activity)
