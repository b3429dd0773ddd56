"""The dispatch estimate: runs, waves, peak concurrency, and tokens, cost and time from history.

Numbers only, so the window, the CLI and the API show the same estimate; each client words
it. Tokens, cost and time per run are the median of this project's finished runs of the same
executor and model (verify runs left out); a quantity with no such run behind it is None
("unknown"), never 0. What a budget leaves is given beside it.
"""

from __future__ import annotations

import statistics

from pmdesk.engine.cluster.connection import ClusterStatus
from pmdesk.engine.plans.shape import waves
from pmdesk.models import ExecutorKind, Model, Plan, TaskState, cost_text, parse_ts
from pmdesk.store import RunSummary


class DispatchEstimate(Model):
    runs: int
    waves: int
    peak: int  # agents at once, at most
    rounds: int  # rounds of runs one after another, given the limit
    tokens: int | None = None
    tokens_basis: int = 0  # how many past runs the token figure comes from
    cost_usd: float | None = None
    cost_basis: int = 0
    seconds: float | None = None
    seconds_per_run: float | None = None
    time_basis: int = 0
    executor: ExecutorKind | None = None  # the runs it is like
    model: str | None = None
    tokens_per_run: int | None = None
    cost_per_run: float | None = None
    budget_left_usd: float | None = None  # the least a budget (the plan's, the project's this month) leaves
    budget_left_tokens: int | None = None
    over_budget: str | None = None  # why dispatching would exceed a budget
    cluster: ClusterStatus | None = None  # where the runs would go: its nodes, free CPUs, runs it takes at once


def similar(history: list[RunSummary], executor: ExecutorKind | None, model: str | None) -> list[RunSummary]:
    """Finished task-like runs (not verify's) of the same executor and model (a run that left its
    model to the agent's default is like any of that executor's)."""
    return [r for r in history if r.status == TaskState.COMPLETE and r.task_run_id is None
            and (executor is None or r.executor == executor) and (model is None or r.model in (None, model))]


def estimate(plan: Plan, parallel: bool, limit: int, history: list[RunSummary], executor: ExecutorKind | None = None,
             model: str | None = None) -> DispatchEstimate:
    """From the plan's shape and the project's finished runs like the ones dispatch would start."""
    levels = waves({t.task_id: list(t.dependencies) for t in plan.tasks})
    limit = max(1, limit) if parallel else 1
    n = len(plan.tasks)
    peak = min(limit, max((len(w) for w in levels), default=0))
    rounds = sum(-(-len(w) // limit) for w in levels) if parallel else n
    done = similar(history, executor, model)
    tokens = [r.total_tokens for r in done if r.total_tokens]
    costs = [r.cost_usd for r in done if r.cost_usd is not None]
    durations = []  # working time: a run's time waiting for its user is left out
    for r in done:
        a, b = parse_ts(r.started_at), parse_ts(r.ended_at)
        if a and b:
            durations.append(max(0.0, (b - a).total_seconds() - r.waited_ms / 1000))
    per = statistics.median(durations) if durations else None
    per_tokens = int(statistics.median(tokens)) if tokens else None
    per_cost = statistics.median(costs) if costs else None
    return DispatchEstimate(
        runs=n, waves=len(levels), peak=peak, rounds=rounds,
        tokens=per_tokens * n if per_tokens is not None else None, tokens_basis=len(tokens),
        cost_usd=per_cost * n if per_cost is not None else None, cost_basis=len(costs),
        seconds=per * rounds if per is not None else None, seconds_per_run=per, time_basis=len(durations),
        executor=executor, model=model, tokens_per_run=per_tokens, cost_per_run=per_cost,
    )


def within(found: DispatchEstimate, left_usd: float | None, left_tokens: int | None) -> DispatchEstimate:
    """The estimate with what the budgets leave, and whether it fits (for a client that varies the
    shape or the plan's budget without asking the engine again)."""
    found.budget_left_usd, found.budget_left_tokens = left_usd, left_tokens
    found.over_budget = None
    if found.cost_usd is not None and left_usd is not None and found.cost_usd > left_usd:
        found.over_budget = f"the estimate {cost_text(found.cost_usd)} is more than the {cost_text(max(0.0, left_usd))} left"
    elif found.tokens is not None and left_tokens is not None and found.tokens > left_tokens:
        found.over_budget = f"the estimate of {found.tokens:,} tokens is more than the {max(0, left_tokens):,} left"
    return found
