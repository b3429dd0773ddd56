"""Child processes in their own process group, read in chunks, ended as a whole.

A chatty agent writes faster than a reader can wake up for every write, so on POSIX its
stdout and stderr are pipes of our own, enlarged to 1 MiB: while output floods in, the
reader takes a short nap between reads and then picks up hundreds of kilobytes at once,
instead of being woken (and waking the writer) for every 4 KiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import sys
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pmdesk.executors.base import RunContext, Uncontrolled
from pmdesk.executors.lines import Lines
from pmdesk.executors.process_tree import contain

MAX_LINE = 64 * 1024
CHUNK = 1024 * 1024
SLICE = 64 * 1024  # the most output handed over between two turns of the loop (~2 ms of work)
PIPE_SIZE = 1024 * 1024
FLOOD = 64 * 1024  # a read this big means the writer is flooding: let the pipe fill a little
FLOOD_NAP = 0.005
TURN = 0.004  # the longest a reader keeps the loop to itself while output keeps coming
GATHER = 0.010  # a writer that trickles lines is read at most this often: what it wrote meanwhile comes in one read
CHILD_NICE = 10  # agents, gates and their commands run below the window's CPU priority


class OutputStream(Protocol):
    async def read(self) -> bytes:
        """The next bytes, b"" at the end."""
        ...

    def close(self) -> None: ...


class _PipeReader:
    """The read end of one of the child's output pipes, read without blocking the loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self._turn = 0.0  # when this reader last gave the loop a turn
        self._read_at = 0.0  # when the last read returned bytes
        self._trickle = 0  # reads in a row that returned a little, each soon after the one before
        self._nap = 0.0
        try:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            self._nap = FLOOD_NAP  # only a big pipe can take a nap's worth of output
        except (ImportError, AttributeError, OSError):
            pass

    async def read(self) -> bytes:
        """The next chunk. A writer that keeps pace with us would always leave something to
        read, and the loop (the window's) would never get a turn: after TURN it gets one.

        A writer that prints a line at a time (50 runs at 200 lines a second) would wake the loop
        for every line, each wake a watch set up and taken down again: it is read at most every
        GATHER instead, so the lines written meanwhile come in one read, a frame's worth late."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._trickle >= 2 and now - self._read_at < GATHER:  # a line and its end are not a trickle
            await asyncio.sleep(GATHER - (now - self._read_at))
            self._turn = loop.time()
        elif now - self._turn > TURN:
            await asyncio.sleep(0)
            self._turn = loop.time()
        while True:
            try:
                data = os.read(self.fd, CHUNK)
            except BlockingIOError:
                await self._readable(loop)
                self._turn = loop.time()
                continue
            at = loop.time()
            self._trickle = self._trickle + 1 if len(data) < FLOOD and at - self._read_at < 2 * GATHER else 0
            self._read_at = at
            if not data:
                self.close()
            elif self._nap and len(data) >= FLOOD:
                await asyncio.sleep(self._nap)
                self._turn = loop.time()
            return data

    async def _readable(self, loop: asyncio.AbstractEventLoop) -> None:
        ready = loop.create_future()
        loop.add_reader(self.fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class _StreamReader:
    """Where the loop cannot watch a pipe (Windows' proactor): asyncio's own stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def read(self) -> bytes:
        return await self._stream.read(CHUNK)

    def close(self) -> None:
        """The transport closes with the process."""


@dataclass
class Child:
    """A started child: its process (wait, stdin, pid) and its two output streams.

    ``contained``: it runs in a PID namespace of its own (``process_tree``), so everything it
    starts ends with it; False where bubblewrap is missing, and only its process group is known.
    """

    process: asyncio.subprocess.Process
    stdout: OutputStream
    stderr: OutputStream
    contained: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    async def pump(self, on_stdout: Callable[[list[str]], None], on_stderr: Callable[[list[str]], None]) -> None:
        """Hand both streams' lines over until the child and everything it started closed them."""
        try:
            await asyncio.gather(pump_lines(self.stdout, on_stdout), pump_lines(self.stderr, on_stderr))
        finally:
            self.stdout.close()
            self.stderr.close()


def yield_cpu(group: int) -> None:
    """The process group ``group`` (a child started in a session of its own, and all it has started)
    below the window's CPU priority: ``CHILD_NICE`` more than ours.

    On two cores, twenty agents starting at once stall a bare Qt window's frames by ~90 ms;
    at nice 10 by ~20 ms (benchmarks: python -m benchmarks --only ui). With nothing else to
    do, a niced child runs as fast. Set on the group as soon as it is started rather than by
    ``nice`` in front of the program: an exec less, 1.3 ms of every start. The child's first
    moment runs at our priority; what it has started by then is in its group and goes with it.
    """
    if CHILD_NICE <= 0 or sys.platform == "win32":
        return
    try:
        os.setpriority(os.PRIO_PGRP, group, min(19, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE))
    except OSError:  # it has ended already (or a set-uid part of it may not be lowered): nothing to yield
        pass


@dataclass
class _Pacer:
    lock: asyncio.Lock
    last: float = 0.0  # when the previous start ended (the loop's clock)


_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pacer] = weakref.WeakKeyDictionary()
SPAWN_GAP_S = 0.012  # between two starts, a frame or so for the window


@contextlib.asynccontextmanager
async def one_start_at_a_time() -> AsyncIterator[None]:
    """Starting a child forks this process and waits for the exec, on the loop: ~2 ms alone, up
    to ~20 ms when twenty start at once on two cores. One at a time, with a frame between two
    of them, keeps each stall of the window to one start. A start that finds none under way
    goes at once: a plan's tasks run one after another in place would otherwise each wait out
    the gap after the last one's start (~12 ms a task, a third of 50 instant tasks' time)."""
    loop = asyncio.get_running_loop()
    pacer = _pacers.get(loop)
    if pacer is None:
        pacer = _pacers[loop] = _Pacer(asyncio.Lock())
    queued = pacer.lock.locked()  # starts that come together: each a frame after the one before
    async with pacer.lock:
        wait = pacer.last + SPAWN_GAP_S - loop.time()
        if queued and wait > 0:
            await asyncio.sleep(wait)
        try:
            yield
        finally:
            pacer.last = loop.time()


async def spawn(argv: Sequence[str], cwd: str, env: dict[str, str] | None = None, stdin: bool = False) -> Child:
    """Start ``argv`` (never through a shell) as the leader of a new process group, in a PID
    namespace of its own where bubblewrap works (``process_tree.contain``), giving the CPU
    to the window (``yield_cpu``)."""
    if any("\x00" in part for part in (*argv, cwd, *(env or {}).values())):
        raise OSError(errno.EINVAL, "an argument, the folder or the environment holds a NUL byte")
    argv, contained = await contain(argv, cwd, env)
    async with one_start_at_a_time():
        return await _start(argv, cwd, env, stdin, contained)


async def _start(argv: list[str], cwd: str, env: dict[str, str] | None, stdin: bool, contained: bool) -> Child:
    stdin_mode = asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL
    if sys.platform == "win32":
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdin=stdin_mode, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=CHUNK)
        assert process.stdout is not None and process.stderr is not None
        return Child(process, _StreamReader(process.stdout), _StreamReader(process.stderr), contained)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        stdout, stderr = _PipeReader(out_r), _PipeReader(err_r)
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdin=stdin_mode, stdout=out_w, stderr=err_w, start_new_session=True)
        yield_cpu(process.pid)
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        os.close(out_w)  # the child holds its own copies; ours would keep the pipes open forever
        os.close(err_w)
    return Child(process, stdout, stderr, contained)


async def pump_lines(stream: OutputStream, on_lines: Callable[[list[str]], None]) -> None:
    """Hand complete lines to ``on_lines`` in batches, as fast as they arrive.

    Reading chunks instead of lines keeps the loop's work per line small when an agent
    floods its output; over-long lines are cut rather than buffered without bound. A big
    chunk is handed over in slices with a turn of the loop between them: the loop is the
    window's, and 1 MiB of short lines at once is a frozen frame or two.
    """
    pending = b""
    while True:
        chunk = await stream.read()
        if not chunk:
            break
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            if len(pending) > MAX_LINE:
                on_lines([pending[:MAX_LINE].decode("utf-8", "replace") + " [line cut]"])
                pending = b""
            continue
        pending = data[cut + 1:]
        start = 0
        while cut - start > SLICE:
            end = data.rfind(b"\n", start, start + SLICE)
            if end < 0:  # a line longer than a slice: it goes on its own
                end = data.find(b"\n", start + SLICE, cut)
                if end < 0:
                    break
            on_lines(Lines.from_bytes(data[start:end]))
            start = end + 1
            await asyncio.sleep(0)
        on_lines(Lines.from_bytes(data[start:cut]))
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


def terminate_group(pgid: int) -> None:
    """SIGTERM to the group, but not to bubblewrap's own processes: bwrap dies of it at once and
    its namespace with it, so the agent would be killed before it can save its session."""
    members = _group_members(pgid)
    if not members:
        signal_group(pgid, signal.SIGTERM)  # no /proc to look in (or already gone): the whole group
        return
    for pid, comm in members:
        if comm != "bwrap":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process in group ``pgid``, from /proc."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                raw = handle.read().decode(errors="replace")
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            found.append((int(name), comm))
    return found


async def end_process_group(proc: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """TERM the whole group, then KILL it after ``grace`` seconds; reap the leader."""
    pid = proc.pid
    terminate_group(pid)
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


class ChildExecution(Uncontrolled):
    """What an execution backed by one child process shares: the child, its pid, whether it lives."""

    def __init__(self, child: Child, ctx: RunContext) -> None:
        self._child = child
        self._proc = child.process
        self._ctx = ctx
        self._cancelled = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.returncode is None
