"""Small listing rows kept in the index, so a listing never parses every record."""

from __future__ import annotations

from typing import Any

from pmdesk.models import ExecutorKind, Model, Plan, PlanStatus, Run, TaskState

PROMPT_PREVIEW = 200


class RunSummary(Model):
    run_id: str
    status: TaskState
    prompt: str
    executor: ExecutorKind
    model: str | None = None
    plan_id: str | None = None
    plan_task_id: str | None = None
    task_run_id: str | None = None
    created_at: str
    updated_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    cost_usd: float | None = None
    total_tokens: int = 0
    question: str | None = None
    error: str | None = None


class PlanSummary(Model):
    plan_id: str
    status: PlanStatus
    created_at: str
    updated_at: str | None = None
    packet_id: str | None = None
    run_id: str | None = None
    task_count: int = 0
    tasks_complete: int = 0
    tasks_failed: int = 0
    summary: str | None = None


def summarize_run(run: Run) -> dict[str, Any]:
    return RunSummary(
        run_id=run.run_id,
        status=run.status,
        prompt=run.prompt[:PROMPT_PREVIEW],
        executor=run.executor,
        model=run.model,
        plan_id=run.plan_id,
        plan_task_id=run.plan_task_id,
        task_run_id=run.task_run_id,
        created_at=run.created_at,
        updated_at=run.updated_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        cost_usd=run.cost_usd,
        total_tokens=run.usage.total,
        question=run.pending_question.question if run.pending_question else None,
        error=(run.error or "")[:300] or None,
    ).to_json_dict()


def summarize_plan(plan: Plan) -> dict[str, Any]:
    return PlanSummary(
        plan_id=plan.plan_id,
        status=plan.status,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        packet_id=plan.packet_id,
        run_id=plan.run_id,
        task_count=len(plan.tasks),
        tasks_complete=sum(t.status == TaskState.COMPLETE for t in plan.tasks),
        tasks_failed=sum(t.status in (TaskState.ERROR, TaskState.CANCELLED) for t in plan.tasks),
        summary=plan.summary,
    ).to_json_dict()
