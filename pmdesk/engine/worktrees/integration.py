"""Integration before verify: the plan's task branches merged, in order, into one worktree.

A conflict stops the merge where it is (the worktree keeps git's conflict state and markers,
so a person or an agent can resolve it there) and names the tasks and files. Building again
reuses what is merged already: a branch whose head is reachable is not merged twice.
"""

from __future__ import annotations

from pathlib import Path

from pmdesk.engine.worktrees import checkout, layout
from pmdesk.engine.worktrees.git import GitError, git
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Conflict, Integration, Plan, TaskState

MARKERS = ("<<<<<<< ", ">>>>>>> ")


class ConflictOpenError(PmdeskError, RuntimeError):
    """The integration worktree still has a conflict nobody has resolved."""

    kind = ErrorKind.CONFLICT
    code = "conflict"


def merging(path: Path) -> bool:
    return git(path, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).ok


def files_with_markers(path: Path, files: list[str]) -> list[str]:
    found = []
    for name in files:
        try:
            text = (path / name).read_text(errors="replace")
        except (FileNotFoundError, IsADirectoryError):
            continue
        if any(line.startswith(MARKERS) for line in text.splitlines()):
            found.append(name)
    return found


def included(plan: Plan, integration: Integration) -> list[tuple[int, str, str]]:
    """(task number, task id, branch) of every completed task with a branch, in merge order."""
    out = []
    for task in layout.integration_order(plan):
        if task.status != TaskState.COMPLETE or not task.branch or task.task_id in integration.left_out_task_ids:
            continue
        out.append((layout.task_number(plan, task.task_id), task.task_id, task.branch))
    return out


def build(repo: Path, plan: Plan) -> Integration:
    """Create or continue the integration worktree; returns it with ``conflict`` set when one stops it."""
    assert plan.base_commit is not None
    current = plan.integration or Integration(branch=layout.integration_branch(plan.plan_id),
                                              worktree_path=str(layout.integration_path(plan.project_id, plan.plan_id)))
    path = Path(current.worktree_path)
    fresh = not checkout.is_worktree(path)
    checkout.create(repo, path, current.branch, plan.base_commit, [])
    if current.conflict is not None or merging(path):
        current = _conclude_resolution(path, current)
    for number, task_id, branch in included(plan, current):
        # Built before (a re-verify): what is merged already is reused, not merged again.
        if not fresh and git(path, "merge-base", "--is-ancestor", branch, "HEAD", check=False).ok:
            if task_id not in current.merged_task_ids:
                current.merged_task_ids.append(task_id)
            continue
        task = plan.task(task_id)
        title = task.description.strip().splitlines()[0][:60] if task.description.strip() else ""
        merged = git(path, "merge", "--no-ff", "--no-edit", "--quiet", "-m", f"pmdesk: merge task #{number}: {title}",
                     branch, check=False)
        if merged.ok:
            current.merged_task_ids.append(task_id)
            continue
        files = git(path, "diff", "--name-only", "--diff-filter=U").lines()
        if not files:
            git(path, "merge", "--abort", check=False)
            raise GitError(f"merging task #{number} ({branch}) failed: {(merged.err or merged.out).strip()[:1000]}")
        current.conflict = Conflict(task_id=task_id, branch=branch, files=files,
                                    with_task_ids=_touching(path, plan, current.merged_task_ids, files))
        return current
    current.head_commit = checkout.head(path)
    current.changes = checkout.change_stat(path, plan.base_commit, current.head_commit)
    return current


def _touching(path: Path, plan: Plan, merged: list[str], files: list[str]) -> list[str]:
    """The merged tasks whose own change touched any of ``files``: who it conflicts with."""
    wanted = set(files)
    out = []
    for task_id in merged:
        task = plan.task(task_id)
        if not task.branch or not task.start_commit:
            continue
        changed = set(git(path, "diff", "--name-only", task.start_commit, task.branch, check=False).lines())
        if changed & wanted:
            out.append(task_id)
    return out


def _conclude_resolution(path: Path, current: Integration) -> Integration:
    """Continue after a conflict: the merge is committed once no file has markers left."""
    conflict = current.conflict
    if not merging(path):
        # Resolved and committed in the worktree by hand, or the merge was aborted: build carries on.
        if conflict is not None and git(path, "merge-base", "--is-ancestor", conflict.branch, "HEAD",
                                        check=False).ok:
            current.merged_task_ids.append(conflict.task_id)
        current.conflict = None
        return current
    files = conflict.files if conflict else git(path, "diff", "--name-only", "--diff-filter=U").lines()
    left = files_with_markers(path, files)
    if left:
        raise ConflictOpenError(f"conflict markers remain in {', '.join(left)} (in {path}); resolve them, "
                                "or leave the task out")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--no-verify", "--no-edit")
    if conflict is not None:
        current.merged_task_ids.append(conflict.task_id)
    current.conflict = None
    return current


def leave_out(path: Path, current: Integration, task_id: str) -> Integration:
    """Abort the merge in progress (if it is this task's) and never merge this task."""
    if current.conflict is not None and current.conflict.task_id == task_id and merging(path):
        git(path, "merge", "--abort")
        current.conflict = None
    if task_id not in current.left_out_task_ids:
        current.left_out_task_ids.append(task_id)
    return current


def conflict_prompt(plan: Plan, conflict: Conflict) -> str:
    numbers = {t.task_id: layout.task_number(plan, t.task_id) for t in plan.tasks}
    task = plan.task(conflict.task_id)
    others = ", ".join(f"#{numbers[t]} ({plan.task(t).description.strip()[:80]})" for t in conflict.with_task_ids)
    return (f"Resolve a merge conflict in this repository. The branch {conflict.branch} of task "
            f"#{numbers[conflict.task_id]} ({task.description.strip()[:200]}) conflicts"
            + (f" with task {others}" if others else "")
            + f" in: {', '.join(conflict.files)}. Edit those files so that both changes are kept where they "
              "can be, remove every conflict marker (<<<<<<<, =======, >>>>>>>), and do not commit.")
