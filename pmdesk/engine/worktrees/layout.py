"""Where pmdesk's worktrees live and what their branches are called (DESIGN §10).

``<data>/worktrees/<projectId>/<plan-short>/<n>`` on ``pmdesk/<plan-short>/<n>``; the plan's
integration worktree beside them; a single run's under ``runs/``. Outside the project, so the
user's checkout never sees them, and named so that a listing can say whose each one is.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

from pmdesk import config
from pmdesk.models import Plan, PlanTask

PREFIX = "pmdesk/"
BACKUP_PREFIX = "refs/pmdesk/backup/"
INTEGRATION = "integration"


def short(item_id: str) -> str:
    """``plan_0123456789ab…`` → its first eight id characters: enough to be unique in one project."""
    return item_id.split("_", 1)[-1][:8]


def root(project_id: str) -> Path:
    return config.data_dir() / "worktrees" / project_id


def task_number(plan: Plan, task_id: str) -> int:
    return next(i for i, t in enumerate(plan.tasks, 1) if t.task_id == task_id)


def _attempt(attempt: int) -> str:
    return f"-{attempt}" if attempt > 1 else ""  # a retry's fresh branch and folder: 3-2, 3-3, …


def task_branch(plan: Plan, task_id: str, attempt: int = 1) -> str:
    return f"{PREFIX}{short(plan.plan_id)}/{task_number(plan, task_id)}{_attempt(attempt)}"


def task_path(project_id: str, plan: Plan, task_id: str, attempt: int = 1) -> Path:
    return root(project_id) / short(plan.plan_id) / f"{task_number(plan, task_id)}{_attempt(attempt)}"


def integration_branch(plan_id: str) -> str:
    return f"{PREFIX}{short(plan_id)}/{INTEGRATION}"


def integration_path(project_id: str, plan_id: str) -> Path:
    return root(project_id) / short(plan_id) / INTEGRATION


def run_branch(run_id: str) -> str:
    return f"{PREFIX}run-{short(run_id)}"


def run_path(project_id: str, run_id: str) -> Path:
    return root(project_id) / "runs" / short(run_id)


def backup_ref(branch: str) -> str:
    """``pmdesk/ab12cd34/2`` → ``refs/pmdesk/backup/ab12cd34/2``."""
    return BACKUP_PREFIX + branch.removeprefix(PREFIX)


@dataclass(frozen=True)
class Owner:
    """Whose a pmdesk worktree is, read back from its folder name."""

    plan_short: str | None
    task_number: int | None
    run_short: str | None
    integration: bool


def owner_of(project_id: str, path: Path) -> Owner | None:
    try:
        parts = path.resolve().relative_to(root(project_id).resolve()).parts
    except ValueError:
        return None
    if len(parts) != 2:
        return None
    first, second = parts
    if first == "runs":
        return Owner(None, None, second, False)
    if second == INTEGRATION:
        return Owner(first, None, None, True)
    return Owner(first, int(second), None, False) if second.isdigit() else None


def integration_order(plan: Plan) -> list[PlanTask]:
    """Every task, dependencies first, then by priority (then as listed): the order branches merge in."""
    index = {t.task_id: i for i, t in enumerate(plan.tasks)}
    waiting = {t.task_id: {d for d in t.dependencies if d in index} for t in plan.tasks}
    heap = [(t.priority, index[t.task_id], t.task_id) for t in plan.tasks if not waiting[t.task_id]]
    heapq.heapify(heap)
    order: list[PlanTask] = []
    while heap:
        _, _, task_id = heapq.heappop(heap)
        order.append(plan.tasks[index[task_id]])
        for other in plan.tasks:
            deps = waiting[other.task_id]
            if task_id in deps:
                deps.discard(task_id)
                if not deps:
                    heapq.heappush(heap, (other.priority, index[other.task_id], other.task_id))
    seen = {t.task_id for t in order}
    return order + [t for t in plan.tasks if t.task_id not in seen]  # a cycle (never stored) still lists all


def dependency_branches(plan: Plan, task: PlanTask) -> list[str]:
    """The branches a task's worktree starts from: its direct dependencies', in merge order."""
    deps = set(task.dependencies)
    return [t.branch or task_branch(plan, t.task_id) for t in integration_order(plan) if t.task_id in deps]
