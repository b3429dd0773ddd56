"""Secrets never stored, never answered: runs that touch the key in every way, then every file
pmdesk wrote, eight CLI answers and fifteen API answers are searched for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pmdesk import config
from pmdesk.engine.engine import Engine
from pmdesk.models import ActivityType, ExecutorKind, GateCheck, GateResult
from tests.conftest import run_cli
from tests.engine.helpers import add_project, run_to_pause

SAVED = "proxy-saved-0123456789abcdef"  # in Settings (the 0600 file here: no keyring); not key-shaped
ENV = "sk-ant-environment-key-9876543210"  # in the environment


def leaks(root: Path, secrets: tuple[str, ...]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {s[:16]}…" for s in secrets if s.encode() in data]
    return found


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    config.save_api_key(SAVED)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV)
    return SAVED, ENV


async def test_no_secret_is_stored_or_answered(engine: Engine, tmp_path: Path, keys: tuple[str, str]) -> None:
    project = add_project(engine, tmp_path / "p", "p")
    py = sys.executable
    prints_env = f"{py} -c \"import os; print(os.environ.get('ANTHROPIC_API_KEY')); print('{ENV}')\""
    fails = f"{py} -c \"import sys; print('auth failed for key={SAVED}', file=sys.stderr); sys.exit(3)\""
    asks = f"{py} -c \"print('Should I use {SAVED} or {ENV}?')\""
    done = await run_to_pause(engine, project, f"use the key {SAVED} please", executor=ExecutorKind.COMMAND,
                              command=prints_env)
    failed = await run_to_pause(engine, project, "x", executor=ExecutorKind.COMMAND, command=fails)
    waiting = await run_to_pause(engine, project, "x", executor=ExecutorKind.COMMAND, command=asks)
    for run in (done, failed, waiting):  # what the engine hands back is already masked
        assert SAVED not in run.model_dump_json() and ENV not in run.model_dump_json()
    packet = await engine.inspect(project, failed.run_id)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "t", "description": f"rotate {SAVED}"}]})
    engine.plans.update_now(project, plan.plan_id, lambda p: setattr(p, "gate_result", GateResult(
        passed=False, checks=[GateCheck(name="gate:x", passed=False, message=f"token: {ENV}")])))
    engine.ctx.record(project, ActivityType.RUN_FAILED, f"failed with {SAVED}")
    await engine.shutdown()
    assert leaks(Path(project.path) / ".claude", keys) == []

    answers = [run_cli(*args) for args in (
        ("runs", "p", "--json"), ("show", plan.plan_id, "--json"), ("inspect", failed.run_id),
        ("inspect", failed.run_id, "--json"), ("log", done.run_id), ("log", failed.run_id, "--json"),
        ("activity", "p", "--json"), ("plans", "p", "--json"))]
    for answer in answers:
        assert answer.returncode == 0, answer.stderr
        assert SAVED not in answer.stdout + answer.stderr and ENV not in answer.stdout + answer.stderr
    assert packet.error and "[REDACTED]" in packet.error  # the saved key is masked by value, not by shape

    from aiohttp.test_utils import TestClient, TestServer

    from pmdesk.api.server import create_app

    served = Engine(role="serve")
    client = TestClient(TestServer(create_app(served, "t" * 32, check_host=False)))
    await client.start_server()
    pid, headers = project.project_id, {"Authorization": "Bearer " + "t" * 32}
    paths = ["/api/projects", f"/api/projects/{pid}", f"/api/projects/{pid}/runs", f"/api/projects/{pid}/plans",
             f"/api/projects/{pid}/packets", f"/api/projects/{pid}/activity", "/api/awaiting",
             f"/api/plans/{plan.plan_id}", f"/api/packets/{packet.packet_id}"]
    paths += [f"/api/runs/{r.run_id}{tail}" for r in (done, failed, waiting) for tail in ("", "/events")]
    try:
        for path in paths:
            answer = await client.get(path, headers=headers)
            body = await answer.text()
            assert answer.status == 200, (path, body[:200])
            assert SAVED not in body and ENV not in body, path
    finally:
        await client.close()
        await served.shutdown()
