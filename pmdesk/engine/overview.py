"""A project's derived status and counts, from its run listing (no record is parsed)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from pmdesk.engine.costs import CostTotals, report
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


def derive_status(runs: list[RunSummary]) -> ProjectStatus:
    states = {r.status for r in runs}
    if TaskState.AWAITING_RESPONSE in states:
        return ProjectStatus.NEEDS_RESPONSE
    # "error" means the last run to finish failed; an old failure fixed since is history.
    finished = [r for r in runs if r.status.is_terminal and r.status != TaskState.CANCELLED]
    if finished and max(finished, key=lambda r: r.ended_at or r.created_at).status == TaskState.ERROR:
        return ProjectStatus.ERROR
    if states & {TaskState.RUNNING, TaskState.QUEUED}:
        return ProjectStatus.RUNNING
    return ProjectStatus.IDLE


def overview(project: Project, store: StateStore | None = None) -> ProjectOverview:
    base = {"project_id": project.project_id, "name": project.name, "path": project.path}
    if not Path(project.path).is_dir():
        return ProjectOverview(**base, status=ProjectStatus.MISSING)
    store = store or StateStore.for_project(project.path, project.project_id)
    runs = store.list_runs()
    plans = store.list_plans()
    stamps = [r.updated_at or r.created_at for r in runs] + [p.updated_at or p.created_at for p in plans]
    spent = report(project, runs, [])
    return ProjectOverview(
        **base,
        status=derive_status(runs),
        total=len(runs),
        completed=sum(r.status == TaskState.COMPLETE for r in runs),
        failed=sum(r.status == TaskState.ERROR for r in runs),
        running=sum(r.status in (TaskState.RUNNING, TaskState.QUEUED) for r in runs),
        awaiting=sum(r.status == TaskState.AWAITING_RESPONSE for r in runs),
        plans=len(plans),
        last_activity=max(stamps) if stamps else None,
        problems=len(store.problems()),
        cost_today=spent.today,
        cost_month=spent.this_month,
        cost_total=spent.total,
    )
