"""git as a command (DESIGN §10): argv only, never a shell, failures as ``GitError`` values.

Every call gets a fixed environment: no pager, no prompts, no editor, no signing, and
pmdesk's own identity for the commits it makes, so a user's config never stops a merge to
ask something nobody will see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pmdesk.errors import ErrorKind, PmdeskError

AGENT = ("pmdesk agent", "agent@pmdesk.invalid")
PMDESK = ("pmdesk", "pmdesk@pmdesk.invalid")
QUIET = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "merge.renames=true",
         "-c", "advice.detachedHead=false", "-c", "core.quotepath=false")


class GitError(PmdeskError, RuntimeError):
    """A git command failed; the message is git's own, after the command that was run."""

    kind = ErrorKind.FAILED
    code = "git_failed"


class NotGitError(PmdeskError, ValueError):
    kind = ErrorKind.NOT_CONFIGURED
    code = "not_git"


@dataclass(frozen=True)
class GitResult:
    argv: list[str]
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]


def git_env(identity: tuple[str, str] = PMDESK) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    name, email = identity
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", GIT_EDITOR="true", LC_ALL="C",
               GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    return env


def git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise NotGitError("git is not installed: isolation (a worktree per task) needs the git command")
    return found


def git(cwd: Path | str, *args: str, check: bool = True, identity: tuple[str, str] = PMDESK) -> GitResult:
    """Run git and wait. Blocking: the engine calls it through ``asyncio.to_thread``, a CLI
    or recovery directly."""
    argv = [git_binary(), *QUIET, *args]
    try:
        done = subprocess.run(argv, cwd=str(cwd), env=git_env(identity), stdin=subprocess.DEVNULL,
                              capture_output=True)
    except OSError as exc:  # cwd gone, git unrunnable
        raise GitError(f"git {' '.join(args)} could not run in {cwd}: {exc}") from None
    result = GitResult(["git", *args], done.returncode, done.stdout.decode(errors="replace"),
                       done.stderr.decode(errors="replace"))
    if check and not result.ok:
        raise GitError(f"git {' '.join(args)} failed: {(result.err or result.out).strip()[:2000]}")
    return result


def is_repository(path: Path) -> bool:
    """``path`` is the top of a git work tree (not merely inside one)."""
    if shutil.which("git") is None or not path.is_dir():
        return False
    found = git(path, "rev-parse", "--show-toplevel", check=False)
    return found.ok and Path(found.out.strip()).resolve() == path.resolve()


EXCLUDED = ".claude/state/"


def exclude_state_dir(path: Path) -> bool:
    """Put pmdesk's state directory into the repository's ``info/exclude`` (once): it is never
    committed, by pmdesk or by a ``git add -A``. True when the line was added now."""
    if not is_repository(path):
        return False
    found = git(path, "rev-parse", "--git-path", "info/exclude", check=False)
    if not found.ok:
        return False
    exclude = Path(found.out.strip())
    exclude = exclude if exclude.is_absolute() else path / exclude
    try:
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        if EXCLUDED in lines or "/" + EXCLUDED in lines:
            return False
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a") as handle:
            handle.write(("\n" if lines and lines[-1] else "") + f"# pmdesk's own state (never committed)\n{EXCLUDED}\n")
    except OSError:
        return False
    return True
