"""The embedded agent's ``run_command`` runs in a bubblewrap sandbox.

Inside: the workdir is writable, the rest of the system read-only; the user's home, pmdesk's
config and data, ``/tmp`` and the project's ``.claude/state`` are hidden (empty tmpfs); the
repository's ``.git`` is read-only (no hooks written behind the user's back); the environment
is built from scratch, so no key of pmdesk's (nor anything named like a secret) gets in; the
network is off unless the project allows it; and the command is the first process of its own
PID namespace, so nothing it starts outlives it. Where bubblewrap cannot run, a command is
refused with the reason unless the project has chosen to allow unsandboxed commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pmdesk import config
from pmdesk.executors.process_tree import bwrap_path, bwrap_works

SAFE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ")
UNAVAILABLE = ("run_command needs a sandbox, and bubblewrap (bwrap) cannot run here; install the "
               "'bubblewrap' package, or allow unsandboxed commands in the project's settings")


@dataclass(frozen=True)
class SandboxPolicy:
    network: bool = False  # the project allows the agent's commands to reach the network
    allow_unsandboxed: bool = False  # the project chose to run commands without a sandbox


def command_env(workdir: Path) -> dict[str, str]:
    """The environment a command sees: a few harmless variables, never pmdesk's secrets."""
    env = {name: os.environ[name] for name in SAFE_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env["HOME"] = str(workdir)
    return env


def _hidden_dirs(workdir: Path) -> list[Path]:
    """Folders to hide behind an empty tmpfs, outermost first, never the workdir or above it."""
    candidates = [Path.home(), config.config_dir(), config.data_dir(), Path("/tmp"), Path("/root")]
    real = Path(os.path.realpath(workdir))
    out: list[Path] = []
    for path in candidates:
        path = Path(os.path.realpath(path))
        if path.is_dir() and path not in out:
            out.append(path)
    # Hiding a parent of the workdir is fine: the workdir is bound again on top of it.
    out.sort(key=lambda p: len(p.parts))
    return [p for p in out if p != real]


def sandbox_argv(command: str, workdir: Path, policy: SandboxPolicy) -> list[str]:
    binary = bwrap_path()
    assert binary is not None
    real = Path(os.path.realpath(workdir))
    argv = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for hidden in _hidden_dirs(real):
        argv += ["--tmpfs", str(hidden)]
    argv += ["--bind", str(real), str(real)]
    git = real / ".git"
    if git.exists():
        argv += ["--ro-bind", str(git), str(git)]
    state = real / ".claude" / "state"
    if state.is_dir():
        argv += ["--tmpfs", str(state)]
    argv += ["--unshare-pid", "--die-with-parent", "--new-session", "--clearenv"]
    if not policy.network:
        argv.append("--unshare-net")
    for name, value in command_env(real).items():
        argv += ["--setenv", name, value]
    return [*argv, "--chdir", str(real), "/bin/sh", "-c", command]


async def command_argv(command: str, workdir: Path, policy: SandboxPolicy) -> tuple[list[str], dict[str, str] | None]:
    """How to run ``command``: in the sandbox, or (only where the project allowed it) without."""
    if await bwrap_works():
        return sandbox_argv(command, workdir, policy), None
    if policy.allow_unsandboxed:
        return ["/bin/sh", "-c", command], command_env(workdir)
    raise SandboxUnavailable(UNAVAILABLE)


class SandboxUnavailable(RuntimeError):
    """No sandbox, and the project did not allow commands without one."""
