"""The window is live: what the CLI (another process) changes shows within a second, without F5."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, TaskState
from pmdesk.store import RunSummary
from pmdesk.ui.app import Controllers
from pmdesk.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "pmdesk", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_what_the_cli_does_appears_in_the_open_window_within_a_second(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "made-by-cli"
    folder.mkdir()
    dash = window.dashboard
    assert dash.model.rowCount() == 0
    cli("project", "add", str(folder), "--name", "made-by-cli")
    added = time.monotonic()
    qtbot.waitUntil(lambda: dash.model.rowCount() == 1, timeout=1000)
    assert time.monotonic() - added < 1.0
    project = engine.projects()[0]
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: window.on_project_page())

    cli("run", "made-by-cli", "say hello", "--executor", "command", "--command", "echo hello")
    ended = time.monotonic()

    def shown() -> RunSummary | None:
        records = [r for r in page.runs.source.records() if isinstance(r, RunSummary)]
        return records[0] if records and records[0].status == TaskState.COMPLETE else None

    qtbot.waitUntil(lambda: shown() is not None, timeout=1000)
    assert time.monotonic() - ended < 1.0
    row = dash.model.row_of(project.project_id)
    assert row is not None
    qtbot.waitUntil(lambda: dash.model.records()[row].total == 1, timeout=1000)  # the dashboard agrees
    assert engine.watcher is not None and engine.watcher.seen >= 1

    # The window's own writes are not told twice, and an older record never replaces a newer one.
    seen = engine.watcher.seen
    made = engine.runs.create(project, "mine", executor=ExecutorKind.COMMAND, command="true")
    qtbot.wait(400)
    assert engine.watcher.seen == seen
    assert any(r.run_id == made.run_id for r in page.runs.source.records())


async def cli_async(*args: str) -> tuple[int, str, str]:
    """The CLI as another process while the window's loop keeps running (it serves the letters)."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "pmdesk", *args, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=dict(os.environ))
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def test_cli_commands_on_a_project_the_window_owns_are_carried_out_by_the_window(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    from tests.conftest import make_npm_project
    from tests.ui.conftest import run

    project = engine.add_project(str(make_npm_project(tmp_path / "owned")), "owned")
    busy = engine.runs.create(project, "keep the project busy", executor=ExecutorKind.COMMAND,
                              command="sh -c 'sleep 60'")
    run(qtbot, engine.runs.start(project, busy.run_id))  # the window owns the project now
    controllers.projects.open_project(project.project_id)
    page = window.project_page

    code, out, err = run(qtbot, cli_async("run", "owned", "say it", "--executor", "command",
                                          "--command", "echo routed-output"), timeout=120_000)
    assert code == 0, err
    assert "carried out by pmdesk pid" in err and "routed-output" in out
    made = [r for r in engine.store(project).list_runs() if r.prompt == "say it"]
    assert len(made) == 1 and made[0].status == TaskState.COMPLETE
    assert engine.store(project).get_run(made[0].run_id).owner_pid == os.getpid()  # the window ran it
    qtbot.waitUntil(lambda: any(getattr(r, "run_id", "") == made[0].run_id for r in page.runs.source.records()))

    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    code, out, err = run(qtbot, cli_async("dispatch", plan.plan_id, "--executor", "command", "--command", "true"),
                         timeout=120_000)
    assert code == 0, err
    assert "in the pmdesk process that owns the project" in err
    run(qtbot, engine.plans.wait(plan.plan_id))
    assert engine.store(project).get_plan(plan.plan_id).tasks[0].status == TaskState.COMPLETE

    code, out, err = run(qtbot, cli_async("verify", plan.plan_id), timeout=120_000)
    assert "verified by the pmdesk process that owns owned" in err
    final = engine.store(project).get_plan(plan.plan_id)
    assert final.status.value in ("VERIFIED", "FAILED") and final.gate_result is not None
    assert code == (0 if final.status.value == "VERIFIED" else 1)
    run(qtbot, engine.runs.cancel(project, busy.run_id))
