"""Child processes in their own process group, read in chunks, ended as a whole."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence

MAX_LINE = 64 * 1024
CHUNK = 256 * 1024


async def spawn(
    argv: Sequence[str], cwd: str, env: dict[str, str] | None = None, stdin: bool = False
) -> asyncio.subprocess.Process:
    """Start ``argv`` (never through a shell) as the leader of a new process group."""
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=CHUNK,
    )


async def pump_lines(stream: asyncio.StreamReader, on_lines: Callable[[list[str]], None]) -> None:
    """Hand complete lines to ``on_lines`` in batches, as fast as they arrive.

    Reading chunks instead of lines keeps the loop's work per line small when an agent
    floods its output; over-long lines are cut rather than buffered without bound.
    """
    pending = b""
    while True:
        chunk = await stream.read(CHUNK)
        if not chunk:
            break
        data = pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            if len(pending) > MAX_LINE:
                on_lines([pending[:MAX_LINE].decode("utf-8", "replace") + " [line cut]"])
                pending = b""
            continue
        pending = data[cut + 1:]
        text = data[:cut].decode("utf-8", "replace")  # complete lines: no character is split
        lines = text.split("\n")
        if "\r" in text:
            lines = [line.rstrip("\r") for line in lines]
        on_lines(lines)
    if pending:
        on_lines([pending.decode("utf-8", "replace").rstrip("\r")])


def signal_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except FileNotFoundError:
        return False  # it exited between the two checks
    except OSError:
        return True  # no /proc here: the signal check is all there is


async def end_process_group(proc: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """TERM the whole group, then KILL it after ``grace`` seconds; reap the leader."""
    pid = proc.pid
    signal_group(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
    # Children that outlived the leader are still in the group.
    signal_group(pid, signal.SIGKILL)


def kill_group_now(pid: int) -> None:
    signal_group(pid, signal.SIGTERM)
    signal_group(pid, signal.SIGKILL)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if extra:
        env.update(extra)
    return env
