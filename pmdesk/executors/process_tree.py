"""A run owns its whole process tree: each child starts in a PID namespace of its own.

Process groups are not enough: an agent's ``nohup``/``setsid`` daemon leaves the group, keeps
the output pipe open and outlives the run. Under ``bwrap --unshare-pid --die-with-parent`` the
child is the first process of a new PID namespace; when it ends, or when pmdesk kills it or
dies, the kernel ends every process in that namespace, however it detached. The filesystem is
bound as it is (``--dev-bind / /``, the host's /proc included, so pids read there are the
ones pmdesk knows): this is about lifetime, not confinement (that is ``sandbox.py``). Without a working bwrap the child is only a process group, and ``contain``
says so (the run's log carries ``NOT_CONTAINED``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence

NOT_CONTAINED = ("bubblewrap (bwrap) is not available: this run is one process group, and a process it "
                 "detaches (setsid, nohup) may outlive it; install the 'bubblewrap' package")
_works: list[bool] = []  # probed once per process


def bwrap_path() -> str | None:
    return os.environ.get("PMDESK_BWRAP") or shutil.which("bwrap")


async def bwrap_works() -> bool:
    """Whether bwrap can make a PID namespace here (it cannot in some containers)."""
    if not _works:
        binary = bwrap_path()
        ok = False
        if binary and os.environ.get("PMDESK_NO_BWRAP", "") not in ("1", "true"):
            try:
                probe = await asyncio.create_subprocess_exec(
                    binary, "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "true",
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL)
                ok = await asyncio.wait_for(probe.wait(), 10) == 0
            except (OSError, TimeoutError):
                ok = False
        _works[:] = [ok]
    return _works[0]


def check_executable(program: str, cwd: str, env: dict[str, str] | None) -> None:
    """Raise as exec would (FileNotFoundError, PermissionError) before bwrap hides it in its exit code."""
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file or directory", program)
        if not os.access(path, os.X_OK):
            raise PermissionError(13, "Permission denied", program)
        return
    search = (env or os.environ).get("PATH", os.defpath)
    if shutil.which(program, path=search) is None:
        raise FileNotFoundError(2, "No such file or directory", program)


async def contain(argv: Sequence[str], cwd: str, env: dict[str, str] | None) -> tuple[list[str], bool]:
    """``argv`` wrapped to run in its own PID namespace, and whether it is."""
    if not await bwrap_works():
        return list(argv), False
    check_executable(argv[0], cwd, env)
    binary = bwrap_path()
    assert binary is not None
    return [binary, "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent",
            "--", *argv], True
