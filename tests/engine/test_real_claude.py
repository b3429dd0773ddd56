"""The real Claude Code CLI (npm @anthropic-ai/claude-code, installed by scripts/setup.sh --test)
through the claude_code executor, against the fake Messages API on 127.0.0.1: never the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, TaskState
from tests.conftest import ROOT
from tests.engine.helpers import add_project, run_to_pause
from tests.fakes.fake_anthropic import FakeAnthropic, last_user_text, text_reply

REAL_CLAUDE = ROOT / "tests" / "fixtures" / "claude-code" / "node_modules" / ".bin" / "claude"
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


def answers(fake_api: FakeAnthropic, first: str, then: str) -> None:
    """The model asks ``first`` on the task's turn and answers ``then`` once the user has replied."""
    def reply(body: dict[str, object]) -> dict[str, object]:
        said = last_user_text(body)  # type: ignore[arg-type]
        return text_reply(then.format(said=said) if "use tabs" in said else first)
    fake_api.default = reply


async def test_real_claude_asks_and_the_same_run_continues(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                         real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    answers(fake_api, "Should I indent with tabs or spaces?", "Done: reformatted with tabs.")
    run = await run_to_pause(engine, project, "reformat the code", executor=ExecutorKind.CLAUDE_CODE)
    assert run.status == TaskState.AWAITING_RESPONSE, run.error
    assert run.pending_question and "tabs or spaces" in run.pending_question.question
    assert run.agent_session_id  # the CLI's session id, from its init line
    assert any(r.get("stream") for r in fake_api.requests)  # the real CLI streams

    await engine.runs.respond(project, run.run_id, "use tabs")
    await engine.runs.wait(run.run_id)
    final = engine.store(project).get_run(run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    assert final.summary and "reformatted with tabs" in final.summary
    assert final.clarifications[0].response == "use tabs" and final.cost_usd is not None
    events = engine.store(project).read_events(run.run_id)
    assert any(e.kind == "assistant" and "tabs or spaces" in e.text for e in events)


async def test_real_claude_resumes_after_a_restart(engine: Engine, tmp_path: Path, fake_api: FakeAnthropic,
                                                 real_claude: Path) -> None:
    project = add_project(engine, tmp_path / "proj")
    answers(fake_api, "Which branch should I target?", "Done on the branch you named.")
    run = await run_to_pause(engine, project, "open the change", executor=ExecutorKind.CLAUDE_CODE)
    assert run.status == TaskState.AWAITING_RESPONSE, run.error
    await engine.runs.detach()  # the app exits; the CLI process is gone
    await engine.shutdown()

    restarted = Engine()
    await restarted.runs.respond(project, run.run_id, "use tabs on main")
    await restarted.runs.wait(run.run_id)
    final = restarted.store(project).get_run(run.run_id)
    assert final.status == TaskState.COMPLETE, final.error
    resumed = [e for e in restarted.store(project).read_events(run.run_id) if "--resume" in e.text]
    assert resumed and run.agent_session_id in resumed[0].text
    # the resumed CLI sent the earlier conversation along with the answer
    last = fake_api.requests[-1]
    texts = str(last.get("messages"))
    assert "open the change" in texts and "use tabs on main" in texts
    await restarted.shutdown()
