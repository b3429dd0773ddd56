"""One worktree's life: made from a start point, its leftovers committed, its change counted.

Blocking git calls, for a worker thread (``asyncio.to_thread``) or for recovery and the CLI.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pmdesk.engine.worktrees.git import AGENT, GitError, git
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import ChangeStat, FileChange

MAX_LISTED_FILES = 500
SETUP_TIMEOUT_S = 1800


class SetupError(PmdeskError, RuntimeError):
    """A worktree's set-up command failed: the task ends ERROR with its output."""

    kind = ErrorKind.FAILED
    code = "setup_failed"


def head(path: Path | str) -> str:
    return git(path, "rev-parse", "HEAD").out.strip()


def branch_exists(repo: Path | str, branch: str) -> bool:
    return git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", check=False).ok


def is_worktree(path: Path) -> bool:
    return (path / ".git").is_file() and git(path, "rev-parse", "--is-inside-work-tree", check=False).ok


def create(repo: Path, path: Path, branch: str, start: str, merge_from: list[str]) -> str:
    """The worktree at ``path`` on ``branch``, from ``start`` plus each branch of ``merge_from``
    merged in order. Found again when it exists already (after a crash). Returns its start commit."""
    if is_worktree(path):
        return head(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "worktree", "prune")  # a folder that vanished must not block its branch being checked out again
    if branch_exists(repo, branch):
        git(repo, "worktree", "add", "--quiet", str(path), branch)
        return head(path)
    first, rest = (merge_from[0], merge_from[1:]) if merge_from else (start, [])
    git(repo, "worktree", "add", "--quiet", "-b", branch, str(path), first)
    for other in rest:
        merged = git(path, "merge", "--no-edit", "--quiet", "-m", f"pmdesk: start from {other}", other, check=False)
        if not merged.ok:
            files = git(path, "diff", "--name-only", "--diff-filter=U", check=False).lines()
            git(path, "merge", "--abort", check=False)
            raise GitError(f"the work this task depends on does not merge: {other} conflicts in "
                           f"{', '.join(files) or 'the tree'}")
    return head(path)


def dirty(path: Path) -> list[str]:
    """Paths with uncommitted changes (untracked included)."""
    out = git(path, "status", "--porcelain", "-z", "--untracked-files=all").out
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]


def commit_leftovers(path: Path, message: str) -> bool:
    """Commit whatever the agent left in the worktree, as ``pmdesk agent``. True when there was some."""
    git(path, "add", "-A")  # an agent's half-done merge is concluded as it stands: nothing is thrown away
    if git(path, "diff", "--cached", "--quiet", check=False).ok:
        return False
    git(path, "commit", "--quiet", "--no-verify", "-m", message.strip() or "pmdesk: work of an agent run",
        identity=AGENT)
    return True


def commit_message(description: str, run_id: str) -> str:
    text = description.strip() or "work of an agent run"
    title = text.splitlines()[0][:72]
    parts = [title, text] if text != title else [title]  # the whole description when the title cuts it
    return "\n\n".join([*parts, f"pmdesk run {run_id}"])


def change_stat(repo: Path | str, start: str, end: str | None) -> ChangeStat:
    """``git diff --numstat start end``, counted (renames followed; binary files count no lines).
    Without ``end``: against the files in the worktree now (tracked ones)."""
    out = git(repo, "diff", "--numstat", "-z", "-M", start, *([end] if end else [])).out
    files: list[FileChange] = []
    parts = out.split("\0")
    i = 0
    while i < len(parts):
        entry = parts[i]
        i += 1
        if not entry:
            continue
        added, removed, name = ([*entry.split("\t", 2), "", ""])[:3]
        if name == "" and i + 1 < len(parts):  # a rename: "a\tr\t" then old and new paths
            name = parts[i + 1]
            i += 2
        binary = added == "-"
        files.append(FileChange(path=name, added=0 if binary else int(added), removed=0 if binary else int(removed),
                                binary=binary))
    return ChangeStat(files_changed=len(files), lines_added=sum(f.added for f in files),
                      lines_removed=sum(f.removed for f in files), files=files[:MAX_LISTED_FILES])


@dataclass
class Captured:
    head_commit: str
    changes: ChangeStat
    committed_leftovers: bool

    @property
    def no_changes(self) -> bool:
        return self.changes.files_changed == 0


def capture(path: Path, start: str, message: str) -> Captured:
    """What a run left: its uncommitted work committed, then the change since ``start``."""
    committed = commit_leftovers(path, message)
    end = head(path)
    return Captured(end, change_stat(path, start, end), committed)


# -- set-up of a new worktree -------------------------------------------------------------


def copy_in(project: Path, path: Path, names: list[str]) -> list[str]:
    """Copy untracked files or folders (``.env``, ``node_modules``) from the project, copy-on-write
    where the filesystem allows (``cp --reflink=auto``). Returns one line per copy, for the events."""
    said: list[str] = []
    for name in names:
        source = (project / name).resolve()
        if not source.is_relative_to(project.resolve()) or not source.exists():
            said.append(f"not copied: {name} (not found in the project)")
            continue
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if shutil.which("cp"):
            done = subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target.parent) + os.sep],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SetupError(f"copying {name} failed: {done.stderr.strip()}")
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        said.append(f"copied {name}")
    return said


def run_setup(path: Path, command: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """One set-up command in the worktree, no shell: its exit code and output lines."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SetupError(f"set-up command {command!r} does not parse: {exc}") from None
    if not argv:
        return 0, []
    try:
        done = subprocess.run(argv, cwd=path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT_S)
    except FileNotFoundError:
        raise SetupError(f"set-up command not found: {argv[0]!r}") from None
    except subprocess.TimeoutExpired:
        raise SetupError(f"set-up command {command!r} took longer than {SETUP_TIMEOUT_S} s") from None
    return done.returncode, done.stdout.decode(errors="replace").splitlines()
