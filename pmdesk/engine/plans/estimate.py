"""The dispatch estimate: runs, waves, peak concurrency, and tokens, cost and time from history.

Numbers only, so the window, the CLI and the API show the same estimate; each client words
it. A quantity with no history behind it is None ("unknown"), never 0.
"""

from __future__ import annotations

import statistics

from pmdesk.engine.plans.shape import waves
from pmdesk.models import Model, Plan, TaskState, parse_ts
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


def estimate(plan: Plan, parallel: bool, limit: int, history: list[RunSummary]) -> DispatchEstimate:
    """From the plan's shape and the project's finished agent runs (verify runs excluded)."""
    levels = waves({t.task_id: list(t.dependencies) for t in plan.tasks})
    limit = max(1, limit) if parallel else 1
    n = len(plan.tasks)
    peak = min(limit, max((len(w) for w in levels), default=0))
    rounds = sum(-(-len(w) // limit) for w in levels) if parallel else n
    done = [r for r in history if r.status == TaskState.COMPLETE and r.task_run_id is None]
    tokens = [r.total_tokens for r in done if r.total_tokens]
    costs = [r.cost_usd for r in done if r.cost_usd is not None]
    durations = []  # working time: a run's time waiting for its user is left out
    for r in done:
        a, b = parse_ts(r.started_at), parse_ts(r.ended_at)
        if a and b:
            durations.append(max(0.0, (b - a).total_seconds() - r.waited_ms / 1000))
    per = statistics.mean(durations) if durations else None
    return DispatchEstimate(
        runs=n, waves=len(levels), peak=peak, rounds=rounds,
        tokens=int(statistics.mean(tokens) * n) if tokens else None, tokens_basis=len(tokens),
        cost_usd=statistics.mean(costs) * n if costs else None, cost_basis=len(costs),
        seconds=per * rounds if per is not None else None, seconds_per_run=per, time_basis=len(durations),
    )
