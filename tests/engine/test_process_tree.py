"""A run owns its whole process tree: what an agent detaches (setsid, nohup) ends with the run."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.executors.process import pid_alive
from pmdesk.executors.process_tree import bwrap_works
from pmdesk.models import ExecutorKind, TaskState
from tests.engine.helpers import add_project, run_to_pause

# The agent: starts a daemon in a new session that holds stdout open, writes the daemon's pid
# as pmdesk sees it, and (unless told to hang) exits at once.
AGENT = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork():
        os._exit(0)
    with open(sys.argv[1], "w") as f:
        f.write(os.readlink("/proc/self"))
    time.sleep(300)
    os._exit(0)
os.waitpid(pid, 0)
print("started a daemon", flush=True)
if sys.argv[2] == "hang":
    time.sleep(300)
"""


def daemon_pid(path: Path, timeout: float = 10) -> int:
    deadline = time.time() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.time() < deadline, "the daemon never started"
        time.sleep(0.02)
    return int(path.read_text())


async def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.time() + timeout
    while pid_alive(pid):
        if time.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    return script


async def test_a_detached_daemon_ends_with_a_run_that_finished(engine: Engine, tmp_path: Path, agent: Path) -> None:
    assert await bwrap_works(), "bubblewrap is part of the set-up (scripts/setup.sh)"
    project = add_project(engine, tmp_path / "p")
    marker = tmp_path / "daemon.pid"
    run = await asyncio.wait_for(run_to_pause(engine, project, "go", executor=ExecutorKind.COMMAND,
                                              command=f"{sys.executable} {agent} {marker} done"), 30)
    assert run.status == TaskState.COMPLETE, run.error  # not stuck on the pipe the daemon holds
    assert await gone(daemon_pid(marker)), "the daemon outlived its run"


async def test_cancel_ends_a_detached_daemon_too(engine: Engine, tmp_path: Path, agent: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    marker = tmp_path / "daemon.pid"
    run = engine.runs.create(project, "go", executor=ExecutorKind.COMMAND,
                             command=f"{sys.executable} {agent} {marker} hang")
    await engine.runs.start(project, run.run_id)
    daemon = daemon_pid(marker)
    cancelled = await asyncio.wait_for(engine.runs.cancel(project, run.run_id), 30)
    assert cancelled.status == TaskState.CANCELLED
    assert await gone(daemon)


async def test_a_nul_byte_in_a_command_ends_the_run_with_an_error(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run = await asyncio.wait_for(run_to_pause(engine, project, "a\x00b", executor=ExecutorKind.COMMAND,
                                              command="echo {prompt}"), 30)
    assert run.status == TaskState.ERROR and "NUL" in (run.error or "")


async def test_children_start_below_the_windows_priority_one_at_a_time(tmp_path: Path) -> None:
    """Agents yield the CPU to the window (nice 10), a missing program is still said as exec says
    it, and starts that come together are a frame apart (each forks on the loop)."""
    import os

    from pmdesk.executors.process import CHILD_NICE, SPAWN_GAP_S, spawn

    ours = os.nice(0)
    child = await spawn([sys.executable, "-c", "import os; print(os.nice(0))"], str(tmp_path))
    said: list[str] = []
    await asyncio.gather(child.pump(said.extend, said.extend), child.process.wait())
    assert said == [str(min(19, ours + CHILD_NICE))]
    with pytest.raises(FileNotFoundError):
        await spawn([str(tmp_path / "no-such-program")], str(tmp_path))
    loop = asyncio.get_running_loop()
    started: list[float] = []

    async def one() -> None:
        c = await spawn([sys.executable, "-c", "pass"], str(tmp_path))
        started.append(loop.time())
        await c.pump(lambda _: None, lambda _: None)
        await c.process.wait()

    await asyncio.gather(*(one() for _ in range(4)))
    gaps = [b - a for a, b in zip(sorted(started), sorted(started)[1:], strict=False)]
    assert min(gaps) >= SPAWN_GAP_S * 0.9, gaps


async def test_a_lone_start_goes_at_once() -> None:
    """The gap between starts is for starts that come together; one that finds none under way
    (tasks in place, one after another) does not wait it out after the last."""
    import itertools

    from pmdesk.executors.process import SPAWN_GAP_S, one_start_at_a_time

    loop = asyncio.get_running_loop()
    async with one_start_at_a_time():
        pass
    began = loop.time()
    async with one_start_at_a_time():
        pass
    assert loop.time() - began < SPAWN_GAP_S / 2
    entered: list[float] = []

    async def together() -> None:
        async with one_start_at_a_time():
            entered.append(loop.time())
            await asyncio.sleep(0.002)  # the fork and exec, during which the others come

    await asyncio.gather(*(together() for _ in range(3)))
    assert min(b - a for a, b in itertools.pairwise(entered)) >= SPAWN_GAP_S * 0.9
