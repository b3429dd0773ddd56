"""A project's derived status and counts, from its run listing (no record is parsed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import Field

from pmdesk.engine.costs import CostTotals, at_a_glance
from pmdesk.models import Model, Project, ProjectStatus, TaskState
from pmdesk.store import RunSummary, StateStore


class ProjectOverview(Model):
    project_id: str
    name: str
    path: str
    status: ProjectStatus
    total: int = 0
    completed: int = 0
    failed: int = 0
    running: int = 0
    awaiting: int = 0
    plans: int = 0
    last_activity: str | None = None
    problems: int = 0
    cost_today: CostTotals = Field(default_factory=CostTotals)
    cost_month: CostTotals = Field(default_factory=CostTotals)
    cost_total: CostTotals = Field(default_factory=CostTotals)


def derive_status(runs: list[RunSummary], states: Counter[TaskState] | None = None) -> ProjectStatus:
    states = states if states is not None else Counter(r.status for r in runs)
    if states[TaskState.AWAITING_RESPONSE]:
        return ProjectStatus.NEEDS_RESPONSE
    # "error" means the last run to finish failed; an old failure fixed since is history.
    if states[TaskState.ERROR]:
        ended = (r for r in runs if r.status in (TaskState.COMPLETE, TaskState.ERROR))
        last = max(ended, key=lambda r: r.ended_at or r.created_at)
        if last.status == TaskState.ERROR:
            return ProjectStatus.ERROR
    if states[TaskState.RUNNING] or states[TaskState.QUEUED]:
        return ProjectStatus.RUNNING
    return ProjectStatus.IDLE


def overview(project: Project, store: StateStore | None = None) -> ProjectOverview:
    """Counted in a few passes over the listing (100,000 runs: tens of milliseconds)."""
    base = {"project_id": project.project_id, "name": project.name, "path": project.path}
    if not Path(project.path).is_dir():
        return ProjectOverview(**base, status=ProjectStatus.MISSING)
    store = store or StateStore.for_project(project.path, project.project_id)
    runs = store.list_runs()
    plans = store.list_plans()
    states = Counter(r.status for r in runs)
    stamps = [max((r.updated_at or r.created_at for r in runs), default=""),
              max((p.updated_at or p.created_at for p in plans), default="")]
    today, month, total = at_a_glance(runs)
    return ProjectOverview(
        **base,
        status=derive_status(runs, states),
        total=len(runs),
        completed=states[TaskState.COMPLETE],
        failed=states[TaskState.ERROR],
        running=states[TaskState.RUNNING] + states[TaskState.QUEUED],
        awaiting=states[TaskState.AWAITING_RESPONSE],
        plans=len(plans),
        last_activity=max(stamps) or None,
        problems=len(store.problems()),
        cost_today=today,
        cost_month=month,
        cost_total=total,
    )
