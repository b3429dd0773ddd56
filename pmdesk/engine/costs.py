"""What runs cost, rolled up: to a task, a plan (with its fix plans), a project; per day and in all.

Sums of the runs' own figures, read from the run listing (no record is parsed). A model run
whose model has no known price is counted as such: its cost stays unknown, never 0, and a
total says how many runs it leaves out. Command and gate runs call no model and cost nothing
here; they are not "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import Field

from pmdesk.models import Budget, Model, Plan, Project, cost_text
from pmdesk.store import PlanSummary, RunSummary
from pmdesk.store.tally import NANO, RunTally, counts_cost, run_day


class CostTotals(Model):
    runs: int = 0  # model runs counted
    priced: int = 0
    unpriced: int = 0  # model runs whose cost is unknown (a model with no price)
    tokens: int = 0
    cost_usd: float | None = None  # the priced runs' sum; None when no run has a price

    def add(self, cost_usd: float | None, tokens: int) -> None:
        self.runs += 1
        self.tokens += tokens
        if cost_usd is None:
            self.unpriced += 1
        else:
            self.priced += 1
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

    def merge(self, other: CostTotals) -> None:
        self.runs += other.runs
        self.priced += other.priced
        self.unpriced += other.unpriced
        self.tokens += other.tokens
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd

    def text(self) -> str:
        """"$1.20", "$1.20 + 2 runs of unknown cost", "unknown (3 runs)", "—" (no model run)."""
        if not self.runs:
            return "—"
        if self.cost_usd is None:
            return f"unknown ({self.runs} run{'s' if self.runs != 1 else ''})"
        extra = f" + {self.unpriced} run{'s' if self.unpriced != 1 else ''} of unknown cost" if self.unpriced else ""
        return cost_text(self.cost_usd) + extra


class DayCost(Model):
    day: str  # YYYY-MM-DD (UTC)
    totals: CostTotals


class ItemCost(Model):
    id: str
    label: str
    totals: CostTotals


class CostReport(Model):
    project_id: str
    project_name: str
    plan_id: str | None = None
    since: str | None = None
    total: CostTotals = Field(default_factory=CostTotals)
    today: CostTotals = Field(default_factory=CostTotals)
    this_month: CostTotals = Field(default_factory=CostTotals)
    days: list[DayCost] = Field(default_factory=list)  # newest first
    plans: list[ItemCost] = Field(default_factory=list)  # a project's plans, each with its fix plans
    tasks: list[ItemCost] = Field(default_factory=list)  # a plan's tasks
    budget: Budget | None = None  # the plan's, or the project's for this month
    spent: CostTotals | None = None  # against that budget
    left_usd: float | None = None
    left_tokens: int | None = None


def budget_text(budget: Budget) -> str:
    parts = ([cost_text(budget.usd)] if budget.usd is not None else []) + \
        ([f"{budget.tokens:,} tokens"] if budget.tokens is not None else [])
    return " and ".join(parts) or "none"


def metered(runs: Iterable[RunSummary]) -> list[RunSummary]:
    return [r for r in runs if counts_cost(r)]


def totals(runs: Iterable[RunSummary]) -> CostTotals:
    out = CostTotals()
    for run in metered(runs):
        out.add(run.cost_usd, run.total_tokens)
    return out


def kept_at_a_glance(tally: RunTally, now: datetime | None = None) -> tuple[CostTotals, CostTotals, CostTotals]:
    """The same three from a project's kept tally (its cost by day), without a listing; summed in
    nanodollars, so the figure does not depend on the order the days were kept in."""
    now = now or datetime.now(UTC)
    today, month = now.strftime("%Y-%m-%d"), this_month(now)
    sums = [[0] * 5 for _ in range(3)]  # today, this month, in all: runs, priced, unpriced, tokens, nanodollars
    for day, figures in tally.days.items():
        for i, wanted in enumerate((day == today, day.startswith(month), True)):
            if wanted:
                sums[i] = [a + b for a, b in zip(sums[i], figures, strict=True)]
    day_total, month_total, total = (
        CostTotals(runs=runs, priced=priced, unpriced=unpriced, tokens=tokens, cost_usd=nano / NANO if priced else None)
        for runs, priced, unpriced, tokens, nano in sums)
    return day_total, month_total, total


def family(plan_id: str, plans: Iterable[PlanSummary | Plan]) -> set[str]:
    """The plan and its fix plans, and theirs."""
    children: dict[str, list[str]] = {}
    for p in plans:
        if p.parent_plan_id:
            children.setdefault(p.parent_plan_id, []).append(p.plan_id)
    found, todo = {plan_id}, [plan_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def this_month(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m")


def left(budget: Budget | None, spent: CostTotals) -> tuple[float | None, int | None]:
    if budget is None:
        return None, None
    usd = budget.usd - (spent.cost_usd or 0.0) if budget.usd is not None else None
    tokens = budget.tokens - spent.tokens if budget.tokens is not None else None
    return usd, tokens


def report(project: Project, runs: list[RunSummary], plans: list[PlanSummary], plan: Plan | None = None,
           since: str | None = None, now: datetime | None = None) -> CostReport:
    """The project's (or, with ``plan``, that plan's and its fix plans') costs."""
    now = now or datetime.now(UTC)
    today, month = now.strftime("%Y-%m-%d"), this_month(now)
    chosen = metered(runs)
    if plan is not None:
        ids = family(plan.plan_id, plans)
        chosen = [r for r in chosen if r.plan_id in ids]
    if since:
        chosen = [r for r in chosen if run_day(r) >= since[:10]]
    out = CostReport(project_id=project.project_id, project_name=project.name,
                     plan_id=plan.plan_id if plan else None, since=since)
    by_day: dict[str, CostTotals] = {}
    for run in chosen:
        day = run_day(run)
        out.total.add(run.cost_usd, run.total_tokens)
        by_day.setdefault(day, CostTotals()).add(run.cost_usd, run.total_tokens)
        if day == today:
            out.today.add(run.cost_usd, run.total_tokens)
        if day.startswith(month):
            out.this_month.add(run.cost_usd, run.total_tokens)
    out.days = [DayCost(day=d, totals=t) for d, t in sorted(by_day.items(), reverse=True)]
    if plan is None:
        roots = [p for p in plans if not p.parent_plan_id]
        for root in sorted(roots, key=lambda p: p.created_at, reverse=True):
            ids = family(root.plan_id, plans)
            spent = totals(r for r in chosen if r.plan_id in ids)
            if spent.runs:
                fixes = len(ids) - 1
                label = (root.summary or root.plan_id) + (f" (+{fixes} fix plan{'s' if fixes != 1 else ''})" if fixes else "")
                out.plans.append(ItemCost(id=root.plan_id, label=label, totals=spent))
        out.budget = project.settings.monthly_budget
        out.spent = out.this_month if since is None else totals(r for r in metered(runs) if run_day(r).startswith(month))
    else:
        for task in plan.tasks:
            spent = totals(r for r in chosen if r.plan_task_id == task.task_id and r.plan_id == plan.plan_id)
            out.tasks.append(ItemCost(id=task.task_id, label=task.description, totals=spent))
        out.budget = plan.budget
        out.spent = totals(r for r in metered(runs) if r.plan_id == plan.plan_id)
    out.left_usd, out.left_tokens = left(out.budget, out.spent)
    return out
