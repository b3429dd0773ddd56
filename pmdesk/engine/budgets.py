"""Budgets: a plan's (set at dispatch) and a project's per calendar month, in USD and/or tokens.

Three checks, one rule (``over``): a dispatch whose estimate would exceed what is left starts
nothing; a task whose run's estimate would exceed it is not started (the plan says why and
waits: raise the budget and it goes on); a run that crosses it while it works is interrupted
and waits for its user (raise the budget, then answer it to go on). What a run has spent in
its current turn is counted as it is reported, so a crossing is seen mid-turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pmdesk.engine.context import EngineContext
from pmdesk.engine.costs import CostTotals, metered, this_month
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Budget, Plan, Project, Usage, cost_text
from pmdesk.store import RunSummary
from pmdesk.store.tally import run_day

CHECK_EVERY_S = 1.0  # a run's spending is checked against its budgets at most this often


class BudgetError(PmdeskError):
    """Starting this would spend more than a budget allows (HTTP 409)."""

    kind = ErrorKind.WRONG_STATE
    code = "budget.exceeded"


@dataclass(slots=True)
class LiveSpend:
    """What a run has spent in the turn it is in (its record has the turns before)."""

    project_id: str
    plan_id: str | None
    tokens: int = 0
    cost_usd: float | None = None
    checked_at: float = 0.0
    again: asyncio.TimerHandle | None = None  # a check put off by the rate limit, so no crossing goes unseen


def over(budget: Budget | None, spent: CostTotals, name: str, more_usd: float | None = 0.0,
         more_tokens: int | None = 0) -> str | None:
    """Why ``spent`` (and ``more``, an estimate) exceeds ``budget``, or None when it fits."""
    if budget is None:
        return None
    usd = (spent.cost_usd or 0.0) + (more_usd or 0.0)
    tokens = spent.tokens + (more_tokens or 0)
    ahead = bool(more_usd or more_tokens)
    if budget.usd is not None and usd > budget.usd:
        told = cost_text(spent.cost_usd or 0.0) + " spent" + (f", {cost_text(usd)} with the estimate" if ahead else "")
        return f"{name} budget of {cost_text(budget.usd)} is reached ({told})"
    if budget.tokens is not None and tokens > budget.tokens:
        told = f"{spent.tokens:,} tokens spent" + (f", {tokens:,} with the estimate" if ahead else "")
        return f"{name} budget of {budget.tokens:,} tokens is reached ({told})"
    return None


class Budgets:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.live: dict[str, LiveSpend] = {}
        self.stop_run: Callable[[Project, str, str], Awaitable[None]] | None = None  # set by the run service
        self._checks: set[asyncio.Task[None]] = set()

    # -- what has been spent ---------------------------------------------------------------------

    def spent(self, project: Project, plan_id: str | None, runs: list[RunSummary] | None = None
              ) -> tuple[CostTotals, CostTotals]:
        """(the plan's, the project's this month), the turns at work included. Blocking: the run listing."""
        runs = metered(self.ctx.store(project).list_runs() if runs is None else runs)
        month = this_month()
        plan_total, month_total = CostTotals(), CostTotals()
        for run in runs:
            if plan_id is not None and run.plan_id == plan_id:
                plan_total.add(run.cost_usd, run.total_tokens)
            if run_day(run).startswith(month):
                month_total.add(run.cost_usd, run.total_tokens)
        for spend in list(self.live.values()):
            if spend.project_id != project.project_id:
                continue
            extra = CostTotals(tokens=spend.tokens, cost_usd=spend.cost_usd)
            month_total.merge(extra)
            if plan_id is not None and spend.plan_id == plan_id:
                plan_total.merge(extra)
        return plan_total, month_total

    def reason(self, project: Project, plan: Plan | None, more_usd: float | None = 0.0,
               more_tokens: int | None = 0, runs: list[RunSummary] | None = None) -> str | None:
        """Why spending ``more`` now would exceed the plan's or the project's budget (blocking)."""
        project = self.ctx.project_settings(project)
        plan_budget = plan.budget if plan is not None else None
        month_budget = project.settings.monthly_budget
        if plan_budget is None and month_budget is None:
            return None
        plan_spent, month_spent = self.spent(project, plan.plan_id if plan else None, runs)
        return (over(plan_budget, plan_spent, "the plan's", more_usd, more_tokens)
                or over(month_budget, month_spent, f"{project.name}'s monthly", more_usd, more_tokens))

    # -- a run at work -------------------------------------------------------------------------

    def on_usage(self, project: Project, run_id: str, plan_id: str | None, usage: Usage, cost_usd: float | None) -> None:
        """A run reported what its turn has used so far (on the loop): checked against its budgets,
        at most once a CHECK_EVERY_S, off the loop; a crossing stops the run."""
        spend = self.live.setdefault(run_id, LiveSpend(project.project_id, plan_id))
        spend.tokens, spend.cost_usd = usage.total, cost_usd
        wait = spend.checked_at + CHECK_EVERY_S - time.monotonic()
        if wait <= 0:
            self._check_now(project, run_id, plan_id)
        elif spend.again is None:
            spend.again = asyncio.get_running_loop().call_later(wait, self._check_now, project, run_id, plan_id)

    def _check_now(self, project: Project, run_id: str, plan_id: str | None) -> None:
        spend = self.live.get(run_id)
        if spend is None:
            return
        spend.checked_at, spend.again = time.monotonic(), None
        task = asyncio.ensure_future(self._check(project, run_id, plan_id))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    def turn_ended(self, run_id: str) -> None:
        """The turn's usage is in the run's record now: no longer counted here."""
        spend = self.live.pop(run_id, None)
        if spend is not None and spend.again is not None:
            spend.again.cancel()

    async def _check(self, project: Project, run_id: str, plan_id: str | None) -> None:
        store = self.ctx.store(project)

        def read() -> str | None:
            plan = store.get_plan(plan_id) if plan_id else None
            return self.reason(project, plan)

        with contextlib.suppress(PmdeskError):
            why = await asyncio.to_thread(read)
            if why and run_id in self.live and self.stop_run is not None:
                await self.stop_run(project, run_id, why)
