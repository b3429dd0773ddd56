"""The command executor, kill -9 recovery, redaction, and Inspection Packets."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.inspect import packet_markdown
from pmdesk.errors import PmdeskError
from pmdesk.executors.command import command_argv
from pmdesk.models import ExecutorKind, TaskState
from tests.conftest import ROOT, echo_command, run_cli
from tests.engine.helpers import add_project, alive, events, fake_log, run_to_pause, until

CMD = ExecutorKind.COMMAND


def test_templates_are_split_without_a_shell() -> None:
    assert command_argv("aider --yes --message {prompt}", "fix; rm -rf /") == [
        "aider", "--yes", "--message", "fix; rm -rf /"]
    assert command_argv("tool 'a b'", "p q") == ["tool", "a b", "p q"]
    assert command_argv("tool --msg={prompt}", "x") == ["tool", "--msg=x"]


async def test_command_exit_codes_become_statuses(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    ok = await run_to_pause(engine, project, "hello; echo pwned", executor=CMD, command=echo_command("fine"))
    assert ok.status == TaskState.COMPLETE and ok.summary == "fine" and ok.exit_code == 0
    out = [e.text for e in events(engine, project, ok.run_id) if e.kind == "stdout"]
    assert out == ["prompt: hello; echo pwned", "fine"]  # one argument, no shell
    bad = await run_to_pause(engine, project, "x", executor=CMD,
                             command=f"{sys.executable} -c \"import sys; print('oops', file=sys.stderr); sys.exit(4)\"")
    assert bad.status == TaskState.ERROR and bad.exit_code == 4 and "oops" in (bad.error or "")
    missing = await run_to_pause(engine, project, "x", executor=CMD, command="/no/such/tool {prompt}")
    assert missing.status == TaskState.ERROR and "command not found" in (missing.error or "")
    assert ok.cost_usd is None  # unknown, never 0


async def test_a_flood_arrives_whole_in_order_and_leaves_no_descriptor_open(engine: Engine, tmp_path: Path) -> None:
    """Output goes through pipes of our own: every line lands once, and both ends get closed."""
    project = add_project(engine, tmp_path / "p")
    flood = ("import sys\nfor i in range(30000): sys.stdout.write(f'out {i} ' + 'x' * (i % 200) + '\\n')\n"
             "sys.stderr.write('done\\n')")
    script = tmp_path / "flood.py"
    script.write_text(flood)
    gc.collect()  # what earlier tests left for the collector closes now, not while this one counts
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        run = await run_to_pause(engine, project, "x", executor=CMD, command=f"{sys.executable} {script}")
        assert run.status == TaskState.COMPLETE
        out = [e.text for e in events(engine, project, run.run_id) if e.kind == "stdout"]
        assert out == [f"out {i} " + "x" * (i % 200) for i in range(30000)]
        assert [e.text for e in events(engine, project, run.run_id) if e.kind == "stderr"] == ["done"]
    assert len(os.listdir("/proc/self/fd")) == before


def test_cli_run_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    assert run_cli("project", "add", str(tmp_path / "p"), "--name", "p").returncode == 0
    ok = run_cli("run", "p", "hi", "--executor", "command", "--command", echo_command("all good"))
    assert ok.returncode == 0 and "prompt: hi" in ok.stdout and "COMPLETE" in ok.stderr
    bad = run_cli("run", "p", "hi", "--executor", "command", "--command", "false")
    assert bad.returncode == 1 and "ERROR" in bad.stderr
    none = run_cli("run", "p", "hi")
    assert none.returncode == 1 and "no agent is configured" in none.stderr
    listed = run_cli("runs", "p", "--json")
    assert [r["status"] for r in json.loads(listed.stdout)].count("COMPLETE") == 1


def test_cli_run_with_a_question_exits_0_and_respond_finishes_it(tmp_path: Path, fake_claude: Path) -> None:
    (tmp_path / "p").mkdir()
    run_cli("project", "add", str(tmp_path / "p"), "--name", "p")
    asked = run_cli("run", "p", "pick [ask]", "--json")
    assert asked.returncode == 0
    run = json.loads(asked.stdout)
    assert run["status"] == "AWAITING_RESPONSE"
    shown = json.loads(run_cli("project", "show", "p", "--json").stdout)
    assert shown["status"] == "needs_response" and shown["awaiting"] == 1
    answered = run_cli("respond", run["runId"], "Postgres", "--json")
    assert answered.returncode == 0, answered.stderr
    final = json.loads(answered.stdout)
    assert final["runId"] == run["runId"] and final["status"] == "COMPLETE"
    assert final["clarifications"][0]["response"] == "Postgres"
    again = run_cli("respond", run["runId"], "more")
    assert again.returncode == 2 and "not waiting for an answer" in again.stderr
    bogus = run_cli("respond", "run_../../etc", "x")
    assert bogus.returncode == 2 and "invalid run id" in bogus.stderr


async def test_kill_9_of_the_engine_then_restart_leaves_nothing_running(tmp_path: Path, fake_claude: Path) -> None:
    (tmp_path / "p").mkdir()
    run_cli("project", "add", str(tmp_path / "p"), "--name", "p")
    import os

    proc = subprocess.Popen([sys.executable, "-m", "pmdesk", "run", "p", "work [hang]"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    await until(lambda: any(e["kind"] == "hang" for e in fake_log(fake_claude)))
    proc.kill()
    proc.wait()
    agent_pid = next(e for e in fake_log(fake_claude) if e["kind"] == "hang")["pid"]
    engine = Engine()
    project = engine.project("p")
    run_id = engine.store(project).list_runs()[0].run_id
    assert engine.store(project).get_run(run_id).status == TaskState.RUNNING  # what the dead process left
    notes = engine.recover()
    run = engine.store(project).get_run(run_id)
    assert run.status == TaskState.ERROR and "interrupted" in (run.error or "")
    assert any(run_id in n for n in notes)
    await until(lambda: not alive(agent_pid), timeout=10)  # the orphaned agent was ended
    kinds = [a.type.value for a in engine.store(project).list_activity()]
    assert "run_interrupted" in kinds


async def test_recovery_leaves_runs_of_a_live_engine_alone(tmp_path: Path, fake_claude: Path) -> None:
    owner = Engine()
    project = add_project(owner, tmp_path / "p")
    run = owner.runs.create(project, "busy [hang]", executor=ExecutorKind.CLAUDE_CODE)
    await owner.runs.start(project, run.run_id)
    other = Engine()
    assert other.recover() == []
    assert other.store(project).get_run(run.run_id).status == TaskState.RUNNING
    from pmdesk.store import ProjectBusyError

    with pytest.raises(ProjectBusyError, match="in use by pmdesk pid"):
        other.ctx.owning(project)
    await owner.runs.cancel(project, run.run_id)
    with other.ctx.owning(project):  # free once the owner has no live run
        pass


async def test_no_api_key_reaches_the_state_directory(engine: Engine, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-ant-api03-SECRETSECRETSECRET1234567890"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    engine.redactor.secrets = [key]
    project = add_project(engine, tmp_path / "p")
    monkeypatch.setenv("SOME_TOKEN", "abcdefghijklmnopqrstuvwxyz123456")
    leak = (f"{sys.executable} -c \"import os,sys; print('key is', os.environ['ANTHROPIC_API_KEY']); "
            f"print('Authorization: Bearer ' + os.environ['SOME_TOKEN']); print(sys.argv[1])\" {{prompt}}")
    run = await run_to_pause(engine, project, f"use {key} please", executor=CMD, command=leak)
    assert run.status == TaskState.COMPLETE
    packet = await engine.inspect(project, run.run_id)
    packet_markdown(packet)
    for path in (tmp_path / "p" / ".claude" / "state").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key.encode() not in data, path
            assert b"abcdefghijklmnopqrstuvwxyz123456" not in data, path
    assert "[REDACTED]" in packet_markdown(packet)


async def test_an_inspection_packet_has_everything(engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await run_to_pause(engine, project, "choose [ask]", executor=ExecutorKind.CLAUDE_CODE)
    await engine.runs.respond(project, run.run_id, "SQLite")
    await engine.runs.wait(run.run_id)
    packet = await engine.inspect(project, run.run_id)
    assert packet.packet_id.startswith("pkt_")
    saved = tmp_path / "p" / ".claude" / "state" / "inspection-packets" / f"{packet.packet_id}.json"
    assert json.loads(saved.read_text())["runId"] == run.run_id
    assert packet.task["prompt"] == "choose [ask]" and packet.task["status"] == "COMPLETE"
    assert packet.project["name"] == project.name
    assert packet.settings["executor"] == "claude_code"
    assert packet.clarifications[0].response == "SQLite"
    assert packet.result == "Finished with SQLite." and packet.events and packet.logs
    assert {line.stream for line in packet.logs} <= {"stdout", "stderr", "system"}
    assert packet.meta["costUsd"] > 0
    md = packet_markdown(packet)
    assert "## Clarifications" in md and "SQLite" in md
    cli = run_cli("inspect", run.run_id, "--format", "json")
    assert cli.returncode == 0 and json.loads(cli.stdout)["runId"] == run.run_id


def test_a_bad_packet_id_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    for bad in ("../../etc/passwd", "pkt_nothere00000000"):
        try:
            engine.packet(project, bad)
        except PmdeskError as exc:
            assert "pkt" in str(exc) or "packet" in str(exc)
        else:
            raise AssertionError(f"{bad} was read")
