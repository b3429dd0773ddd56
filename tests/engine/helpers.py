"""Small helpers for engine tests: a registered project and waiting on runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pmdesk.engine.engine import Engine
from pmdesk.executors.process import pid_alive
from pmdesk.models import Project, Run, TaskState
from tests.conftest import ROOT, git_commit_all, run_cli


def add_project(engine: Engine, path: Path, name: str | None = None) -> Project:
    """A registered project; a git repository with one commit, so its plans run isolated."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git_commit_all(path)
    return engine.add_project(str(path), name)


def allow_tools(engine: Engine, project: Project, *rules: str) -> Project:
    """Keep allow rules in the project (default: every tool that would ask), as Settings does."""
    project = engine.project_settings(project)
    project.settings.allow_rules = list(rules or ("Write", "Edit", "Bash"))
    engine.save_project(project)
    return project


async def run_to_pause(engine: Engine, project: Project, prompt: str, **kw: Any) -> Run:
    run = engine.runs.create(project, prompt, **kw)
    await engine.runs.start(project, run.run_id)
    await engine.runs.wait(run.run_id)
    return engine.store(project).get_run(run.run_id)


def events(engine: Engine, project: Project, run_id: str) -> list[Any]:
    return engine.store(project).read_events(run_id)


def fake_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


alive = pid_alive  # a zombie, or a pid that is gone, is not alive


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().split(") ", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


async def until(predicate: Any, timeout: float = 20.0, interval: float = 0.02) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


TERMINAL = (TaskState.COMPLETE, TaskState.ERROR, TaskState.CANCELLED)


def start_hanging_cli_run(tmp_path: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`pmdesk run` of a fake claude that hangs, in a new project "p": the CLI process and the agent's pid."""
    (tmp_path / "p").mkdir(exist_ok=True)
    run_cli("project", "add", str(tmp_path / "p"), "--name", "p")
    proc = subprocess.Popen([sys.executable, "-m", "pmdesk", "run", "p", "wait [hang]"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.time() + 20
    while not any(e["kind"] == "hang" for e in fake_log(log)):
        assert time.time() < deadline, "the agent never started"
        time.sleep(0.05)
    return proc, int(next(e for e in fake_log(log) if e["kind"] == "hang")["pid"])
