"""Merge on the user's word: the integration branch into the project's current branch.

It refuses, changing nothing, when the user's checkout has uncommitted changes in files the
plan touches, when the branch moved in a way that conflicts, or when HEAD is detached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pmdesk.engine.worktrees import checkout
from pmdesk.engine.worktrees.git import git
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import MergeRecord


class MergeRefusedError(PmdeskError, RuntimeError):
    kind = ErrorKind.CONFLICT
    code = "merge_refused"


@dataclass(frozen=True)
class MergePreview:
    into_branch: str
    touched: list[str]
    fast_forward: bool


def current_branch(repo: Path) -> str:
    found = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if not found.ok:
        raise MergeRefusedError("the project's checkout is on a detached HEAD; check out the branch to merge into")
    return found.out.strip()


def preview(repo: Path, base: str, integration_head: str) -> MergePreview:
    """What a merge would do, or why it cannot: checked without touching anything."""
    branch = current_branch(repo)
    touched = git(repo, "diff", "--name-only", base, integration_head).lines()
    dirty = set(checkout.dirty(repo))
    clash = sorted(dirty & set(touched))
    if clash:
        raise MergeRefusedError(f"uncommitted changes in {', '.join(clash[:10])}"
                                f"{' …' if len(clash) > 10 else ''}, which the plan also changes; "
                                "commit or stash them first")
    if not git(repo, "diff", "--cached", "--quiet", check=False).ok:
        raise MergeRefusedError("the project's checkout has staged changes; commit or unstage them first "
                                "(a merge never records unrelated work)")
    here = checkout.head(repo)
    if git(repo, "merge-base", "--is-ancestor", here, integration_head, check=False).ok:
        return MergePreview(branch, touched, fast_forward=True)
    trial = git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", here, integration_head,
                check=False)
    if trial.code == 1:
        files = trial.lines()[1:]
        raise MergeRefusedError(f"{branch} has moved since the plan's base and now conflicts with it in "
                                f"{', '.join(files[:10]) or 'some files'}; rebuild the integration on the new "
                                "HEAD (verify with --rebase) and merge again")
    if not trial.ok:
        raise MergeRefusedError(f"a trial merge failed: {trial.err.strip()[:500]}")
    return MergePreview(branch, touched, fast_forward=False)


def merge(repo: Path, base: str, integration_head: str, message: str, squash: bool = False,
          forced: bool = False) -> MergeRecord:
    """Fast-forward when possible, else a merge commit, or one squashed commit."""
    plan = preview(repo, base, integration_head)
    if squash:
        git(repo, "merge", "--squash", "--quiet", integration_head)
        if git(repo, "diff", "--cached", "--quiet", check=False).ok:
            raise MergeRefusedError("the plan's change is already on this branch: nothing to squash")
        git(repo, "commit", "--quiet", "--no-verify", "-m", message)
        mode = "squash"
    elif plan.fast_forward:
        git(repo, "merge", "--ff-only", "--quiet", integration_head)
        mode = "fast-forward"
    else:
        git(repo, "merge", "--no-ff", "--no-edit", "--quiet", "-m", message, integration_head)
        mode = "merge"
    return MergeRecord(into_branch=plan.into_branch, mode=mode, commit=checkout.head(repo), forced=forced)
