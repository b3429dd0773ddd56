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
