"""The embedded agent on the real anthropic SDK, against the fake Messages API on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, TaskState
from tests.engine.helpers import add_project, allow_tools, events, run_to_pause
from tests.fakes.fake_anthropic import Delay, FakeAnthropic, Status, error_body, text_reply, tool_use

AGENT = ExecutorKind.ANTHROPIC_AGENT


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    last = request["messages"][-1]
    assert last["role"] == "user"
    return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


async def test_the_tools_change_the_project_and_usage_is_counted(
    engine: Engine, tmp_path: Path, fake_api: FakeAnthropic
) -> None:
    project = add_project(engine, tmp_path / "p")
    allow_tools(engine, project)  # these tests are about the tools, not about asking
    (tmp_path / "p" / "notes.txt").write_text("alpha\nbeta\n")
    fake_api.queue(
        tool_use("list_dir", {"path": "."}),
        tool_use("read_file", {"path": "notes.txt"}),
        tool_use("edit_file", {"path": "notes.txt", "old": "beta", "new": "gamma"}),
        tool_use("write_file", {"path": "src/new.py", "content": "print('hi')\n"}),
        tool_use("run_command", {"command": "python3 src/new.py && echo ran"}),
        text_reply("Edited notes.txt and added src/new.py."),
    )
    run = await run_to_pause(engine, project, "tidy up", executor=AGENT, model="claude-sonnet-4-6")
    assert run.status == TaskState.COMPLETE, run.error
    assert run.summary == "Edited notes.txt and added src/new.py."
    assert (tmp_path / "p" / "notes.txt").read_text() == "alpha\ngamma\n"
    assert (tmp_path / "p" / "src" / "new.py").exists()
    reqs = fake_api.requests
    assert "notes.txt" in tool_results(reqs[1])[0]["content"]
    assert tool_results(reqs[2])[0]["content"] == "alpha\nbeta\n"
    assert "exit code 0\nhi\nran" in tool_results(reqs[5])[0]["content"]
    assert {t["name"] for t in reqs[0]["tools"]} == {"read_file", "write_file", "edit_file", "list_dir",
                                                      "run_command", "ask_user"}
    assert fake_api.headers[0].get("Authorization", fake_api.headers[0].get("authorization", "")).endswith(
        "sk-ant-test-0123456789abcdef") or fake_api.headers[0].get("x-api-key") == "sk-ant-test-0123456789abcdef"
    assert run.usage.input_tokens == 6000 and run.usage.output_tokens == 1200
    assert run.cost_usd == pytest.approx((6000 * 3 + 1200 * 15) / 1_000_000)
    assert [e.kind for e in events(engine, project, run.run_id)].count("tool_use") == 5


@pytest.mark.parametrize("attempt", [
    {"name": "read_file", "input": {"path": "../outside.txt"}},
    {"name": "read_file", "input": {"path": "/etc/passwd"}},
    {"name": "write_file", "input": {"path": "../../escaped.txt", "content": "x"}},
    {"name": "write_file", "input": {"path": "link/escaped.txt", "content": "x"}},
    {"name": "edit_file", "input": {"path": "link/../../outside.txt", "old": "secret", "new": "changed"}},
    {"name": "edit_file", "input": {"path": "outlink.txt", "old": "secret", "new": "changed"}},
    {"name": "list_dir", "input": {"path": ".."}},
    {"name": "list_dir", "input": {"path": "link"}},
    {"name": "read_file", "input": {"path": "~/.ssh/id_rsa"}},
])
async def test_escapes_are_refused_as_tool_errors(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                  attempt: dict[str, Any]) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    project = add_project(engine, tmp_path / "p")
    allow_tools(engine, project)  # these tests are about the tools, not about asking
    (tmp_path / "p" / "link").symlink_to(tmp_path)  # a symlink that points out of the project
    (tmp_path / "p" / "outlink.txt").symlink_to(outside)
    fake_api.queue(tool_use(attempt["name"], attempt["input"]), text_reply("ok"))
    run = await run_to_pause(engine, project, "try", executor=AGENT)
    assert run.status == TaskState.COMPLETE
    result = tool_results(fake_api.requests[1])[0]
    assert result.get("is_error") is True
    assert "outside the project" in result["content"] or "absolute paths" in result["content"]
    assert outside.read_text() == "secret"
    assert not (tmp_path / "escaped.txt").exists()


async def test_ask_user_waits_and_the_answer_is_the_tool_result(
    engine: Engine, tmp_path: Path, fake_api: FakeAnthropic
) -> None:
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("ask_user", {"question": "Tabs or spaces?"}), text_reply("Used spaces."))
    run = await run_to_pause(engine, project, "format", executor=AGENT)
    assert run.status == TaskState.AWAITING_RESPONSE
    assert run.pending_question and run.pending_question.question == "Tabs or spaces?"
    await engine.runs.respond(project, run.run_id, "spaces")
    await engine.runs.wait(run.run_id)
    done = engine.store(project).get_run(run.run_id)
    assert done.status == TaskState.COMPLETE and done.summary == "Used spaces."
    assert tool_results(fake_api.requests[1])[0]["content"] == "spaces"


async def test_an_answer_after_a_restart_continues_the_persisted_conversation(
    tmp_path: Path, fake_api: FakeAnthropic
) -> None:
    first = Engine()
    project = add_project(first, tmp_path / "p")
    fake_api.queue(tool_use("ask_user", {"question": "Which file?"}), text_reply("Done with a.txt."))
    run = await run_to_pause(first, project, "edit", executor=AGENT)
    assert run.status == TaskState.AWAITING_RESPONSE
    await first.runs.detach()
    await first.shutdown()
    second = Engine()
    await second.runs.respond(project, run.run_id, "a.txt")
    await second.runs.wait(run.run_id)
    done = second.store(project).get_run(run.run_id)
    assert done.status == TaskState.COMPLETE and done.run_id == run.run_id
    second_request = fake_api.requests[1]
    assert second_request["messages"][0]["content"] == "edit"  # the same conversation
    assert tool_results(second_request)[0]["content"] == "a.txt"
    conversation = tmp_path / "p" / ".claude" / "state" / "conversations" / f"{run.run_id}.json"
    assert oct(os.stat(conversation).st_mode & 0o777) == "0o600"


async def test_a_turn_ending_on_a_question_mark_completes(
    engine: Engine, tmp_path: Path, fake_api: FakeAnthropic
) -> None:
    """Waiting comes from the protocol (ask_user, a permission), never from how the text ends."""
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(text_reply("Done. Should I also delete the old migrations?"))
    run = await run_to_pause(engine, project, "clean", executor=AGENT)
    assert run.status == TaskState.COMPLETE and run.summary == "Done. Should I also delete the old migrations?"


@pytest.mark.parametrize(("reply", "message"), [
    (Status(401, error_body("authentication_error", "invalid x-api-key")), "refused the API key (401)"),
    (Status(429, error_body("rate_limit_error", "slow down")), "rate limiting this key (429)"),
    (Status(500, error_body("api_error", "boom")), "server error (500)"),
    (Status(529, error_body("overloaded_error", "overloaded")), "server error (529)"),
    (Delay(3.0, text_reply("late")), "did not answer in time"),
])
async def test_api_failures_end_the_run_with_a_clear_error(
    engine: Engine, tmp_path: Path, fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    reply: Any, message: str
) -> None:
    monkeypatch.setenv("PMDESK_API_TIMEOUT", "0.5")
    project = add_project(engine, tmp_path / "p")
    fake_api.default = reply
    run = await run_to_pause(engine, project, "go", executor=AGENT)
    assert run.status == TaskState.ERROR
    assert message in (run.error or "")
    if isinstance(reply, Status) and reply.code != 401:
        assert len(fake_api.requests) == 3  # the SDK's retries happened first


async def test_limits_and_unknown_prices(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    engine.settings.max_turns = 3
    fake_api.default = tool_use("list_dir", {"path": "."})
    run = await run_to_pause(engine, project, "loop forever", executor=AGENT, model="my-custom-model")
    assert run.status == TaskState.ERROR and "turn limit" in (run.error or "")
    assert run.cost_usd is None  # a model without a price: unknown, never 0
    assert run.usage.input_tokens == 3000


async def test_run_command_has_a_timeout_and_an_output_cap(
    engine: Engine, tmp_path: Path, fake_api: FakeAnthropic
) -> None:
    project = add_project(engine, tmp_path / "p")
    allow_tools(engine, project)  # these tests are about the tools, not about asking
    fake_api.queue(
        tool_use("run_command", {"command": "sleep 30", "timeout": 1}),
        tool_use("run_command", {"command": "python3 -c \"print('x' * 200000)\""}),
        text_reply("done"),
    )
    run = await run_to_pause(engine, project, "go", executor=AGENT)
    assert run.status == TaskState.COMPLETE
    assert "timed out after 1s" in tool_results(fake_api.requests[1])[0]["content"]
    capped = tool_results(fake_api.requests[2])[0]["content"]
    assert len(capped) < 40_000 and "output cut" in capped


async def test_no_key_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "go", executor=AGENT)
    assert run.status == TaskState.ERROR and "no Anthropic API key" in (run.error or "")


async def test_odd_tool_inputs_never_leave_a_run_without_an_outcome(engine: Engine, tmp_path: Path,
                                                                     fake_api: FakeAnthropic) -> None:
    """A lone surrogate, a FIFO, a binary file, a 2 GB file: tool errors, and the run completes."""
    project = add_project(engine, tmp_path / "p")
    allow_tools(engine, project)  # these tests are about the tools, not about asking
    root = tmp_path / "p"
    os.mkfifo(root / "pipe")
    (root / "blob.bin").write_bytes(b"\x00\xff" * 64)
    (root / "huge.log").touch()
    os.truncate(root / "huge.log", 2 * 1024 ** 3)
    fake_api.queue(
        tool_use("write_file", {"path": "odd.txt", "content": "lone \ud800 surrogate"}),
        tool_use("read_file", {"path": "pipe"}),
        tool_use("edit_file", {"path": "blob.bin", "old": "a", "new": "b"}),
        tool_use("read_file", {"path": "huge.log"}),
        text_reply("Done despite everything."),
    )
    run = await run_to_pause(engine, project, "try odd things", executor=AGENT, model="claude-sonnet-4-6")
    assert run.status == TaskState.COMPLETE and run.summary == "Done despite everything.", run.error
    results = [tool_results(r)[0] for r in fake_api.requests[1:5]]
    assert [bool(r.get("is_error")) for r in results] == [False, True, True, False]
    assert (root / "odd.txt").read_bytes() == b"lone ? surrogate"
    assert all("\ud800" not in e.text for e in events(engine, project, run.run_id))  # readable back, as '?'
