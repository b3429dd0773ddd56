"""Runs through the Claude Code executor, against the stream-json fake `claude`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, ProjectStatus, TaskState
from tests.engine.helpers import add_project, alive, events, fake_log, group_members, run_to_pause, until

CC = ExecutorKind.CLAUDE_CODE


async def test_a_run_completes_with_events_cost_and_files(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "add a file [write hello.txt]", executor=CC)
    assert run.status == TaskState.COMPLETE
    assert (tmp_path / "p" / "hello.txt").exists()
    assert run.cost_usd == pytest.approx(0.0125)
    assert run.usage.input_tokens == 100 and run.usage.output_tokens == 20
    assert run.agent_session_id and run.session_id and run.ended_at
    kinds = [e.kind for e in events(engine, project, run.run_id)]
    for kind in ("system", "tool_use", "tool_result", "assistant", "result"):
        assert kind in kinds
    seqs = [e.seq for e in events(engine, project, run.run_id)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert engine.overview(project).status == ProjectStatus.IDLE


async def test_a_question_waits_and_the_answer_continues_the_same_process(
    engine: Engine, tmp_path: Path, fake_claude: Path
) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "set up storage [ask]", executor=CC)
    assert run.status == TaskState.AWAITING_RESPONSE
    assert run.pending_question and "Which database" in run.pending_question.question
    assert engine.overview(project).status == ProjectStatus.NEEDS_RESPONSE
    pid = run.pid
    assert pid and alive(pid)  # the CLI process waits on stdin
    await engine.runs.respond(project, run.run_id, "Postgres")
    await engine.runs.wait(run.run_id)
    done = engine.store(project).get_run(run.run_id)
    assert done.status == TaskState.COMPLETE and done.summary == "Finished with Postgres."
    assert len(done.clarifications) == 1
    c = done.clarifications[0]
    assert c.response == "Postgres" and c.asked_at and c.responded_at and "Which database" in c.question
    starts = [e for e in fake_log(fake_claude) if e["kind"] == "start"]
    assert len(starts) == 1  # one process, one session: the answer went to its stdin
    assert engine.overview(project).status == ProjectStatus.IDLE


async def test_the_ask_tool_is_a_question_too(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "serve it [askuser-tool]", executor=CC)
    assert run.status == TaskState.AWAITING_RESPONSE
    assert run.pending_question and run.pending_question.question == "Which port should the server use?"
    await engine.runs.cancel(project, run.run_id)


async def test_an_answer_after_a_restart_resumes_the_session(tmp_path: Path, fake_claude: Path) -> None:
    first = Engine()
    project = add_project(first, tmp_path / "p")
    run = await run_to_pause(first, project, "choose [ask]", executor=CC)
    assert run.status == TaskState.AWAITING_RESPONSE
    await first.runs.detach()  # the app quits; the CLI process is ended
    await first.shutdown()
    assert not alive(run.pid or 0)

    second = Engine()
    assert second.recover() == []  # an awaiting run is not "interrupted"
    await second.runs.respond(project, run.run_id, "SQLite")
    await second.runs.wait(run.run_id)
    done = second.store(project).get_run(run.run_id)
    assert done.status == TaskState.COMPLETE
    # the resumed session lost the question's tool call: the answer is told in words
    assert done.summary and done.summary.startswith("Finished after the answer:")
    assert "The user answered: SQLite" in done.summary
    starts = [e for e in fake_log(fake_claude) if e["kind"] == "start"]
    assert starts[-1]["resume"] == run.agent_session_id
    await second.shutdown()


@pytest.mark.parametrize(("marker", "expected"), [
    ("[error]", "Claude Code reported an error: API Error"),
    ("[crash]", "exited with code 3 before finishing:\nboom"),
])
async def test_failures_are_errors_with_the_reason(engine: Engine, tmp_path: Path, fake_claude: Path,
                                                   marker: str, expected: str) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, f"go {marker}", executor=CC)
    assert run.status == TaskState.ERROR
    assert expected in (run.error or "")
    assert engine.overview(project).status == ProjectStatus.ERROR
    if marker == "[crash]":
        assert any(e.kind == "stderr" and "boom" in e.text for e in events(engine, project, run.run_id))


async def test_malformed_lines_are_kept_as_output(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "go [malformed]", executor=CC)
    assert run.status == TaskState.COMPLETE
    texts = [e.text for e in events(engine, project, run.run_id) if e.kind == "stdout"]
    assert "this is not json" in texts


async def test_a_flood_of_100000_lines_is_all_recorded(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "go [flood 100000]", executor=CC)
    assert run.status == TaskState.COMPLETE
    store = engine.store(project)
    assistant = [e for e in store.read_events(run.run_id) if e.kind == "assistant"]
    assert len(assistant) == 100_001
    assert assistant[0].text == "line 0" and assistant[-2].text == "line 99999"
    assert run.event_count == store.last_event_seq(run.run_id) >= 100_004


async def test_cancel_ends_the_whole_process_group(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = engine.runs.create(project, "go [hang]", executor=CC)
    await engine.runs.start(project, run.run_id)
    await until(lambda: any(e["kind"] == "hang" for e in fake_log(fake_claude)))
    pgid = engine.store(project).get_run(run.run_id).pid
    assert pgid and len(group_members(pgid)) >= 2  # the fake and its child
    cancelled = await engine.runs.cancel(project, run.run_id)
    assert cancelled.status == TaskState.CANCELLED
    await until(lambda: group_members(pgid) == [], timeout=10)


async def test_a_missing_binary_is_an_error_that_says_how_to_fix_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMDESK_CLAUDE_BIN", str(tmp_path / "no-such-claude"))
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "go", executor=CC)
    assert run.status == TaskState.ERROR
    assert "no-such-claude" in (run.error or "") and "npm install -g @anthropic-ai/claude-code" in (run.error or "")


async def test_a_broken_binary_is_an_error_naming_the_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "claude"
    broken.write_bytes(b"\x7fELF garbage")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PMDESK_CLAUDE_BIN", str(broken))
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "go", executor=CC)
    assert run.status == TaskState.ERROR and str(broken) in (run.error or "")


async def test_the_default_executor_is_claude_when_found(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = engine.runs.create(project, "go")
    assert run.executor == ExecutorKind.CLAUDE_CODE
    os.environ.pop("PMDESK_CLAUDE_BIN")
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-test-key-000000"
    assert engine.runs.create(project, "go").executor == ExecutorKind.ANTHROPIC_AGENT
    del os.environ["ANTHROPIC_API_KEY"]
    from pmdesk.executors.base import ExecutorError

    with pytest.raises(ExecutorError, match=r"no agent is configured.*API key"):
        engine.runs.create(project, "go")


async def test_claude_code_runs_in_its_own_sandbox_unless_the_project_turns_it_off(engine: Engine, tmp_path: Path,
                                                                                  fake_claude: Path) -> None:
    import json

    project = engine.add_project(str(tmp_path), "p")

    def sandbox_of(run_id: str) -> object:
        argv = next(e.data["argv"] for e in engine.store(project).read_events(run_id) if e.data and "argv" in e.data)
        if "--settings" not in argv:
            return None
        return json.loads(argv[argv.index("--settings") + 1])["sandbox"]

    run = await run_to_pause(engine, project, "hello", executor=CC)
    assert sandbox_of(run.run_id) == {"enabled": True, "failIfUnavailable": True, "allowUnsandboxedCommands": False,
                                      "autoAllowBashIfSandboxed": False}  # under Ask, a sandboxed command still asks
    project.settings.claude_sandbox = False
    engine.save_project(project)
    off = await run_to_pause(engine, project, "hello", executor=CC)
    assert sandbox_of(off.run_id) is None and off.settings["claude_sandbox"] is False


async def test_the_cli_version_is_recorded_and_an_old_one_is_named(engine: Engine, tmp_path: Path, fake_claude: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    project = add_project(engine, tmp_path / "p")
    current = await run_to_pause(engine, project, "hello", executor=CC)
    assert current.agent_version == "9.9.9"
    assert not [e for e in engine.store(project).read_events(current.run_id) if "older than" in e.text]
    monkeypatch.setenv("FAKE_CLAUDE_VERSION", "2.0.1")
    old = await run_to_pause(engine, project, "hello again", executor=CC)
    assert old.status == TaskState.COMPLETE and old.agent_version == "2.0.1"
    warned = [e.text for e in engine.store(project).read_events(old.run_id) if "older than" in e.text]
    assert warned and "2.0.1" in warned[0] and "2.1.197" in warned[0]
