"""A run's start going out, and its new commits coming back, as git bundles (blocking: for a thread)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pmdesk.engine.worktrees.git import AGENT, GitError, git

RESULT_REF = "refs/pmdesk/remote"  # where a run's commits land first, whatever happens to its worktree


def current_branch(worktree: Path) -> str:
    found = git(worktree, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).out.strip()
    if not found:
        raise GitError(f"{worktree} is not on a branch: a cluster run starts from its task's branch")
    return found


def pack_start(worktree: Path, branch: str) -> bytes:
    """Everything the worker needs to have what the local worktree has: ``branch`` with its history."""
    with tempfile.TemporaryDirectory(prefix="pmdesk-bundle-") as tmp:
        out = Path(tmp) / "start.bundle"
        git(worktree, "bundle", "create", "--quiet", str(out), f"refs/heads/{branch}")
        return out.read_bytes()


def clone_start(bundle: bytes, into: Path, branch: str) -> str:
    """The worker's clone of the start, on ``branch``; returns its HEAD."""
    into.parent.mkdir(parents=True, exist_ok=True)
    source = into.parent / f"{into.name}.start.bundle"
    source.write_bytes(bundle)
    try:
        git(into.parent, "clone", "--quiet", "--branch", branch, str(source), str(into))
    finally:
        source.unlink(missing_ok=True)
    git(into, "remote", "remove", "origin", check=False)  # the bundle's file is gone: no remote to fetch
    return git(into, "rev-parse", "HEAD").out.strip()


def pack_result(clone: Path, branch: str, start: str, message: str) -> bytes | None:
    """What the agent left, committed as pmdesk's agent, then the commits since ``start``; None: none."""
    git(clone, "add", "-A")
    if not git(clone, "diff", "--cached", "--quiet", check=False).ok:
        git(clone, "commit", "--quiet", "--no-verify", "-m", message.strip() or "pmdesk: work of an agent run",
            identity=AGENT)
    if git(clone, "rev-list", "--count", f"{start}..refs/heads/{branch}").out.strip() == "0":
        return None
    with tempfile.TemporaryDirectory(prefix="pmdesk-bundle-") as tmp:
        out = Path(tmp) / "result.bundle"
        git(clone, "bundle", "create", "--quiet", str(out), f"refs/heads/{branch}", f"^{start}")
        return out.read_bytes()


def land_result(worktree: Path, bundle: bytes, branch: str, run_id: str) -> tuple[str, int]:
    """The commits a worker sent back, kept under ``refs/pmdesk/remote/RUN`` and fast-forwarded onto
    the worktree's branch. Returns (head, commits). A worktree that moved meanwhile keeps them on that
    ref: ``GitError`` says where."""
    keep = f"{RESULT_REF}/{run_id}"
    with tempfile.TemporaryDirectory(prefix="pmdesk-bundle-") as tmp:
        source = Path(tmp) / "result.bundle"
        source.write_bytes(bundle)
        git(worktree, "fetch", "--quiet", "--no-tags", str(source), f"+refs/heads/{branch}:{keep}")
    before = git(worktree, "rev-parse", "HEAD").out.strip()
    merged = git(worktree, "merge", "--ff-only", "--quiet", keep, check=False)
    if not merged.ok:
        raise GitError(f"the run's commits came back but do not fast-forward {branch}: they are kept at {keep}")
    head = git(worktree, "rev-parse", "HEAD").out.strip()
    count = int(git(worktree, "rev-list", "--count", f"{before}..{head}").out.strip() or 0)
    return head, count
