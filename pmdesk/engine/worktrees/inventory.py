"""pmdesk's worktrees of a project: what each holds, what it costs on disk, and cleaning them
up without ever losing work (DESIGN §10). Never automatic: only on the user's command.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pmdesk.engine.worktrees import checkout, layout
from pmdesk.engine.worktrees.git import git
from pmdesk.errors import ErrorKind, PmdeskError


class CleanRefusedError(PmdeskError, RuntimeError):
    kind = ErrorKind.CONFLICT
    code = "clean_refused"


class WorktreeState(StrEnum):
    CLEAN = "clean"  # nothing of its own: no commits beyond where it started, nothing uncommitted
    UNCOMMITTED = "uncommitted changes"
    UNMERGED = "unmerged commits"
    MERGED = "merged"  # its commits are on one of the project's own branches
    MISSING = "missing"  # git knows it, the folder is gone


@dataclass
class WorktreeInfo:
    path: str
    branch: str | None
    head: str | None
    state: WorktreeState
    size_bytes: int
    plan_short: str | None = None
    task_number: int | None = None
    run_short: str | None = None
    integration: bool = False
    dirty_files: list[str] = field(default_factory=list)
    unmerged_commits: int = 0

    def to_json_dict(self) -> dict[str, object]:
        return {"path": self.path, "branch": self.branch, "head": self.head, "state": self.state.value,
                "sizeBytes": self.size_bytes, "planShort": self.plan_short, "taskNumber": self.task_number,
                "runShort": self.run_short, "integration": self.integration, "dirtyFiles": self.dirty_files,
                "unmergedCommits": self.unmerged_commits}


def disk_usage(path: Path) -> int:
    """Bytes allocated under ``path`` (blocks, so a copy-on-write clone shows what it really costs)."""
    total = 0
    for top, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                continue
    return total


def registered(repo: Path) -> list[tuple[Path, str | None, str | None, bool]]:
    """``git worktree list``: (path, branch, head, prunable) of every linked worktree."""
    out = git(repo, "worktree", "list", "--porcelain").out
    found: list[tuple[Path, str | None, str | None, bool]] = []
    for block in out.strip().split("\n\n")[1:]:  # the first is the main checkout
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch", "").removeprefix("refs/heads/") or None
        found.append((Path(fields["worktree"]), branch, fields.get("HEAD"), "prunable" in fields))
    return found


def _own_branches(repo: Path) -> list[str]:
    """The project's branches that are not pmdesk's: what "merged" means reachable from."""
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").lines()
    return [r for r in refs if not r.startswith("refs/heads/" + layout.PREFIX)]


def unmerged_count(repo: Path, ref: str, own: list[str]) -> int:
    found = git(repo, "rev-list", "--count", ref, "--not", *own, check=False) if own else \
        git(repo, "rev-list", "--count", ref, check=False)
    return int(found.out.strip() or 0) if found.ok else 0


def listing(repo: Path, project_id: str, starts: dict[str, str] | None = None,
            sizes: bool = True, squashed: set[str] | None = None) -> list[WorktreeInfo]:
    """pmdesk's worktrees of ``repo``; ``starts`` maps a branch to the commit its worktree started
    at (from the plans and runs), which tells "clean" (nothing of its own) from "merged".
    ``squashed``: plans (short ids) merged as one squashed commit, whose branches' commits are
    on no branch of the user's although their change is."""
    own = _own_branches(repo)
    out = []
    for path, branch, head, prunable in registered(repo):
        owner = layout.owner_of(project_id, path)
        if owner is None:
            continue  # the user's own worktrees are none of pmdesk's business
        info = WorktreeInfo(str(path), branch, head, WorktreeState.MISSING, 0, owner.plan_short, owner.task_number,
                            owner.run_short, owner.integration)
        if not prunable and path.is_dir():
            info.dirty_files = checkout.dirty(path)
            info.unmerged_commits = unmerged_count(repo, head or "HEAD", own) if head else 0
            info.size_bytes = disk_usage(path) if sizes else 0
            info.state = _state(info, starts or {})
            if info.state == WorktreeState.UNMERGED and owner.plan_short in (squashed or set()):
                info.state = WorktreeState.MERGED
        out.append(info)
    return out


def _state(info: WorktreeInfo, starts: dict[str, str]) -> WorktreeState:
    if info.dirty_files:
        return WorktreeState.UNCOMMITTED
    if info.unmerged_commits:
        return WorktreeState.UNMERGED
    start = starts.get(info.branch or "")
    return WorktreeState.CLEAN if start is not None and start == info.head else WorktreeState.MERGED


@dataclass
class Cleaned:
    removed: list[str] = field(default_factory=list)
    branches_deleted: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<path>: why"
    pruned: list[str] = field(default_factory=list)


def clean(repo: Path, targets: list[WorktreeInfo], force: bool) -> Cleaned:
    """Remove worktrees, then their branches. Uncommitted or unmerged work is refused unless
    ``force``; forced, it is first saved under ``refs/pmdesk/backup/…`` so it stays recoverable."""
    done = Cleaned()
    for info in targets:
        path = Path(info.path)
        at_risk = info.state in (WorktreeState.UNCOMMITTED, WorktreeState.UNMERGED)
        if at_risk and not force:
            why = (f"{len(info.dirty_files)} file(s) with uncommitted changes" if info.dirty_files
                   else f"{info.unmerged_commits} commit(s) on no branch of the project")
            done.refused.append(f"{info.path}: {why} (clean --force saves them to a backup ref first)")
            continue
        if at_risk and info.branch:
            if info.dirty_files and path.is_dir():
                checkout.commit_leftovers(path, "pmdesk backup: uncommitted work saved before cleanup")
            ref = layout.backup_ref(info.branch)
            source = checkout.head(path) if path.is_dir() else (info.head or info.branch)
            git(repo, "update-ref", "-m", "pmdesk clean --force", ref, source)
            done.backups.append(ref)
        if info.state == WorktreeState.MISSING:
            done.pruned.append(info.path)
        elif path.is_dir():
            removed = git(repo, "worktree", "remove", "--force", str(path), check=False)
            if not removed.ok:
                shutil.rmtree(path, ignore_errors=True)
            done.removed.append(info.path)
        if info.branch and info.branch.startswith(layout.PREFIX) and \
                git(repo, "branch", "-D", "--quiet", info.branch, check=False).ok:
            done.branches_deleted.append(info.branch)
    git(repo, "worktree", "prune", check=False)
    return done


def backups(repo: Path) -> list[tuple[str, str]]:
    """(ref, commit) of every backup a forced cleanup saved."""
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", layout.BACKUP_PREFIX).lines()
    return [tuple(line.split(" ", 1)) for line in out]  # type: ignore[misc]


def prune_vanished(repo: Path, project_id: str) -> list[str]:
    """Forget pmdesk worktrees whose folders are gone (say which); their branches stay."""
    gone = [str(p) for p, _b, _h, prunable in registered(repo) if prunable and layout.owner_of(project_id, p)]
    if gone:
        git(repo, "worktree", "prune")
    return gone
