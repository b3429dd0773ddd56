"""The embedded agent asks as Claude Code does: run_command, write_file and edit_file go through
the same requests, rules and decisions (read-only tools never ask), through the real anthropic SDK
against the fake Messages API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PermissionMode, RequestKind, TaskState
from tests.engine.helpers import add_project, events, run_to_pause, until
from tests.fakes.fake_anthropic import FakeAnthropic, message, text_reply, tool_use

AGENT = ExecutorKind.ANTHROPIC_AGENT


def results(request: dict[str, Any]) -> list[dict[str, Any]]:
    content = request["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []


async def settled(engine: Engine, project: Any, run_id: str) -> Any:
    await until(lambda: engine.store(project).get_run(run_id).status.is_terminal
                or engine.store(project).get_run(run_id).pending_request is not None, timeout=20)
    return engine.store(project).get_run(run_id)


async def test_read_only_tools_never_ask_and_a_write_waits_for_allow(engine: Engine, tmp_path: Path,
                                                                     fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    (tmp_path / "p" / "notes.txt").write_text("alpha\n")
    fake_api.queue(tool_use("read_file", {"path": "notes.txt"}), tool_use("list_dir", {"path": "."}),
                   tool_use("write_file", {"path": "out.txt", "content": "made\n"}), text_reply("Wrote out.txt."))
    run = await run_to_pause(engine, project, "write it", executor=AGENT)
    request = run.pending_request
    assert run.status == TaskState.AWAITING_RESPONSE and request is not None
    assert request.tool_name == "write_file" and request.kind == RequestKind.PERMISSION
    assert request.preview and "+made" in request.preview and request.suggested_rule == "Write"
    assert not (tmp_path / "p" / "out.txt").exists()
    assert len(fake_api.requests) == 3  # read and list ran unasked; the turn waits on the write

    await engine.decide(project, run.run_id, True)
    final = await settled(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE and final.summary == "Wrote out.txt."
    assert (tmp_path / "p" / "out.txt").read_text() == "made\n"
    assert len(fake_api.requests) == 4  # the same turn went on: no new conversation


async def test_deny_tells_the_model_and_nothing_runs(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("run_command", {"command": "touch made_by_command"}), text_reply("OK, I did not."))
    run = await run_to_pause(engine, project, "touch it", executor=AGENT)
    assert run.pending_request and run.pending_request.suggested_rule == "Bash(touch:*)"
    assert run.pending_request.preview == "$ touch made_by_command"
    await engine.decide(project, run.run_id, False, message="Do not touch anything.")
    final = await settled(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE
    assert not (tmp_path / "p" / "made_by_command").exists()
    told = results(fake_api.requests[-1])[0]
    assert told["content"] == "Do not touch anything." and told["is_error"] is True


async def test_allow_always_and_rules_decide_without_asking(engine: Engine, tmp_path: Path,
                                                            fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    engine.set_permissions(project, deny=["Bash(rm:*)"])
    two_writes = message([
        {"type": "tool_use", "id": "toolu_a", "name": "write_file", "input": {"path": "a.txt", "content": "a"}},
        {"type": "tool_use", "id": "toolu_b", "name": "write_file", "input": {"path": "b.txt", "content": "b"}},
    ], stop_reason="tool_use")
    fake_api.queue(two_writes, tool_use("run_command", {"command": "rm -rf a.txt"}), text_reply("Done."))
    run = await run_to_pause(engine, project, "write two", executor=AGENT)
    assert run.pending_request and run.pending_request.input["path"] == "a.txt"
    await engine.decide(project, run.run_id, True, always="run")
    final = await settled(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE, final.pending_request
    assert (tmp_path / "p" / "a.txt").exists() and (tmp_path / "p" / "b.txt").exists()
    assert [e.kind for e in events(engine, project, run.run_id)].count("permission") == 1  # b.txt not asked
    assert [d.by_rule for d in final.decisions] == [None, "Write", "Bash(rm:*)"]
    denied = results(fake_api.requests[-1])[0]
    assert "Denied by the rule Bash(rm:*)" in denied["content"]


async def test_accept_edits_mode_writes_unasked_but_commands_ask(engine: Engine, tmp_path: Path,
                                                                 fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("write_file", {"path": "a.txt", "content": "a"}),
                   tool_use("run_command", {"command": "echo hi"}), text_reply("Done."))
    run = await run_to_pause(engine, project, "go", executor=AGENT, permission_mode=PermissionMode.ACCEPT_EDITS)
    assert (tmp_path / "p" / "a.txt").exists()
    assert run.pending_request and run.pending_request.tool_name == "run_command"
    await engine.decide(project, run.run_id, True)
    assert (await settled(engine, project, run.run_id)).status == TaskState.COMPLETE


async def test_plan_mode_changes_nothing_until_the_plan_is_approved(engine: Engine, tmp_path: Path,
                                                                    fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("write_file", {"path": "early.txt", "content": "x"}),
                   tool_use("propose_plan", {"plan": "1. write late.txt"}),
                   tool_use("write_file", {"path": "late.txt", "content": "y"}), text_reply("Done."))
    run = await run_to_pause(engine, project, "plan it", executor=AGENT, permission_mode=PermissionMode.PLAN)
    assert run.pending_request and run.pending_request.kind == RequestKind.PLAN_APPROVAL
    assert "write late.txt" in (run.pending_request.preview or "")
    assert not (tmp_path / "p" / "early.txt").exists()
    assert "Plan mode" in results(fake_api.requests[1])[0]["content"]
    await engine.decide(project, run.run_id, True, accept_edits=True)
    final = await settled(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE and (tmp_path / "p" / "late.txt").exists()


async def test_interrupt_and_a_message_while_it_works(engine: Engine, tmp_path: Path,
                                                      fake_api: FakeAnthropic) -> None:
    project = add_project(engine, tmp_path / "p")
    fake_api.queue(tool_use("write_file", {"path": "a.txt", "content": "a"}), text_reply("Waiting for you."),
                   text_reply("Done as you said."))
    run = await run_to_pause(engine, project, "go", executor=AGENT)
    assert run.pending_request is not None
    await engine.interrupt(project, run.run_id)
    await until(lambda: engine.store(project).get_run(run.run_id).pending_request is None
                and engine.store(project).get_run(run.run_id).status == TaskState.AWAITING_RESPONSE)
    assert not (tmp_path / "p" / "a.txt").exists()
    await engine.answer(project, run.run_id, "skip the file")
    final = await settled(engine, project, run.run_id)
    assert final.status == TaskState.COMPLETE
    last = fake_api.requests[-1]["messages"][-1]["content"]
    assert any(b.get("type") == "text" and b.get("text") == "skip the file" for b in last)
    assert any(b.get("type") == "tool_result" and "interrupted" in b.get("content", "") for b in last)


async def test_a_restart_while_a_write_waits_then_approved(tmp_path: Path, fake_api: FakeAnthropic) -> None:
    first = Engine()
    project = add_project(first, tmp_path / "p")

    def model(body: dict[str, Any]) -> Any:
        told = str(body["messages"])
        if "wrote 5 bytes" in told:
            return text_reply("Finished.")
        return tool_use("write_file", {"path": "out.txt", "content": "made\n"})
    fake_api.default = model
    run = await run_to_pause(first, project, "write it", executor=AGENT)
    assert run.pending_request is not None
    await first.runs.detach()
    await first.shutdown()

    second = Engine()
    again = second.store(project).get_run(run.run_id)
    assert again.status == TaskState.AWAITING_RESPONSE and again.pending_request is not None
    await second.decide(project, run.run_id, True)
    final = await settled(second, project, run.run_id)
    assert final.status == TaskState.COMPLETE, [(e.kind, e.text[:150]) for e in events(second, project, run.run_id)]
    assert (tmp_path / "p" / "out.txt").read_text() == "made\n" and final.run_id == run.run_id
    assert [e.kind for e in events(second, project, run.run_id)].count("permission") == 1  # re-asked: granted
    await second.shutdown()
