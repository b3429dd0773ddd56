"""`pmdesk plan`, `plans`, `show`, `dispatch` and `verify`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from pmdesk.cli.errors import EXIT_OK, CliError
from pmdesk.cli.follow import detach, follow_plan, print_output
from pmdesk.cli.output import next_page, plan_exit, print_json, print_plan, table
from pmdesk.cli.session import open_engine, project_of
from pmdesk.engine.costs import CostReport, budget_text
from pmdesk.engine.listing import page_of
from pmdesk.engine.plans.estimate import DispatchEstimate
from pmdesk.engine.plans.rules import PlanAction, verdict
from pmdesk.errors import ErrorKind
from pmdesk.models import Budget, ExecutorKind, PlanStatus, TaskState, cost_text, short
from pmdesk.store.locks import ProjectBusyError


def cmd_plan(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    if args.from_file:
        raw: Any
        try:
            raw = json.loads(Path(args.from_file).read_text())
        except OSError as exc:
            raise CliError(f"{args.from_file}: {exc.strerror}") from None
        except ValueError as exc:
            raw = f"invalid JSON: {exc}"  # validated below into a FAILED plan with the reason
        plan = engine.plans.plan_from_answer(project, raw, packet_id=args.packet)
    elif args.fix is not None:
        if args.goal is not None or args.packet:
            raise CliError("give --fix alone: the fix plan is planned from the failed plan's verify")
        plan = asyncio.run(engine.plans.create_fix_plan(project, args.fix, args.model))
    elif args.goal is not None:
        if args.packet:
            raise CliError("give --goal or --packet, not both")
        plan = asyncio.run(engine.plans.create_from_goal(project, args.goal, args.model))
    else:
        if not args.packet:
            raise CliError("give --goal TEXT, --packet PKT (from 'pmdesk inspect RUN') or --from-file TASKS.json")
        plan = asyncio.run(engine.plans.create_plan(project, args.packet, args.model))
    print_json(plan) if args.json else print_plan(plan)
    if plan.status == PlanStatus.FAILED and plan.gate_result and not args.json:
        print(f"\nplan generation failed: {plan.gate_result.checks[0].message}", file=sys.stderr)
    return plan_exit(plan)


def cmd_plans(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    listed = engine.store(project).list_plans()
    chosen = [p for p in listed if args.archived or not p.archived_at]
    page = page_of(chosen, lambda p: (p.created_at, p.plan_id), "newest", args.after, args.limit)
    command = f"plans {args.project}" + (" --archived" if args.archived else "")
    if args.json:
        print_json(page.items)
        next_page(command, page.next, args.limit, 50, len(page.items), len(chosen))
        return EXIT_OK
    rows = [[p.plan_id, p.status.value + (" (archived)" if p.archived_at else ""), f"{p.tasks_complete}/{p.task_count}",
             p.created_at, short(p.summary, 50)] for p in page.items]
    hidden = len(listed) - len(chosen)
    print(table(rows, ["PLAN", "STATUS", "DONE", "CREATED", "SUMMARY"]) if rows else
          f"no plans in {project.name} yet" if not chosen else "no plans after that cursor")
    if hidden:
        print(f"({hidden} archived plan(s) left out: --archived lists them)")
    next_page(command, page.next, args.limit, 50, len(page.items), len(chosen))
    return EXIT_OK


def cmd_archive(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    plan = engine.plans.archive(project, args.plan, archived=not args.undo)
    print_json(plan) if args.json else print(f"plan {plan.plan_id} {'restored' if args.undo else 'archived'}"
                                             + ("" if args.undo else f" ('pmdesk archive {plan.plan_id} --undo' "
                                                                     "brings it back)"))
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    kept = engine.plans.delete(project, args.plan)
    print_json({"planId": args.plan, "keptAt": kept}) if args.json else \
        print(f"plan {args.plan} deleted; its runs stay, and its file is kept at {kept}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    plan = engine.store(project).get_plan(args.plan)
    print_json(plan) if args.json else print_plan(plan)
    return EXIT_OK


def estimate_text(e: DispatchEstimate) -> str:
    like = f"{e.executor.value}{f' / {e.model}' if e.model else ''}" if e.executor else "any agent"

    def basis(n: int) -> str:
        return "" if not n else f" (from 1 similar run: {like})" if n == 1 else f" (median of {n} similar runs: {like})"

    tokens = f"≈ {e.tokens:,}{basis(e.tokens_basis)}" if e.tokens is not None else "unknown"
    cost = f"≈ {cost_text(e.cost_usd)}{basis(e.cost_basis)}" if e.cost_usd is not None else "unknown"
    time = (f"≈ {e.seconds / 60:.1f} min ({e.rounds} rounds of ≈ {e.seconds_per_run or 0:.0f} s)"
            if e.seconds is not None else "unknown")
    lines = [f"runs:   {e.runs}", f"waves:  {e.waves}", f"peak:   {e.peak} agents at once",
             f"tokens: {tokens}", f"cost:   {cost}", f"time:   {time}"]
    if e.budget_left_usd is not None or e.budget_left_tokens is not None:
        parts = ([cost_text(max(0.0, e.budget_left_usd))] if e.budget_left_usd is not None else []) + \
            ([f"{max(0, e.budget_left_tokens):,} tokens"] if e.budget_left_tokens is not None else [])
        lines.append(f"budget: {' and '.join(parts)} left")
    if e.over_budget:
        lines.append(f"        OVER: {e.over_budget}")
    if e.cluster is not None:
        c = e.cluster
        lines.append(f"on:     {c.address}: {len([n for n in c.nodes if n.alive])} nodes, {c.free_cpus:g} of "
                     f"{c.cpus:g} CPUs free, takes {c.takes} runs at once")
    return "\n".join(lines)


def _budget(usd: float | None, tokens: int | None) -> Budget | None:
    for value, name in ((usd, "--budget"), (tokens, "--budget-tokens")):
        if value is not None and value <= 0:
            raise CliError(f"{name} must be more than 0, not {value}", kind=ErrorKind.BAD_REQUEST)
    return Budget(usd=usd, tokens=tokens) if usd is not None or tokens is not None else None


def cmd_cost(args: argparse.Namespace) -> int:
    engine = open_engine()
    if args.target and args.target.startswith("plan_"):
        targets = [(project_of(engine, "plan", args.target), args.target)]
    else:
        targets = [(p, None) for p in ([engine.project(args.target)] if args.target else engine.projects())]

    async def main() -> list[CostReport]:
        return [await engine.cost(p, plan_id, args.since) for p, plan_id in targets]

    reports = asyncio.run(main())
    if args.json:
        print_json(reports[0] if args.target else reports)
        return EXIT_OK
    for found in reports:
        print(cost_report_text(found))
        print()
    return EXIT_OK


def cost_report_text(r: CostReport) -> str:
    head = f"{r.project_name}" + (f" · plan {r.plan_id}" if r.plan_id else "") + (f" · since {r.since}" if r.since else "")
    lines = [head, f"  total:      {r.total.text()}  ({r.total.tokens:,} tokens)",
             f"  today:      {r.today.text()}", f"  this month: {r.this_month.text()}"]
    if r.budget is not None and r.spent is not None:
        left = ([cost_text(max(0.0, r.left_usd))] if r.left_usd is not None else []) + \
            ([f"{max(0, r.left_tokens):,} tokens"] if r.left_tokens is not None else [])
        what = "plan budget" if r.plan_id else "monthly budget"
        lines.append(f"  {what}: {budget_text(r.budget)}, {' and '.join(left)} left")
    if r.days:
        lines.append(table([[d.day, d.totals.text(), f"{d.totals.tokens:,}", str(d.totals.runs)] for d in r.days],
                           ["day", "cost", "tokens", "runs"]))
    items = r.tasks if r.plan_id else r.plans
    if items:
        lines.append(table([[short(i.label, 50), i.totals.text(), f"{i.totals.tokens:,}", str(i.totals.runs)]
                            for i in items], ["task" if r.plan_id else "plan", "cost", "tokens", "runs"]))
    return "\n".join(lines)


def cmd_budget(args: argparse.Namespace) -> int:
    engine = open_engine()
    plan_id = args.target if args.target.startswith("plan_") else None
    project = project_of(engine, "plan", plan_id) if plan_id else engine.project(args.target)
    if not args.clear and args.usd is None and args.tokens is None:
        raise CliError("give --usd and/or --tokens, or --clear", kind=ErrorKind.BAD_REQUEST)
    budget = None if args.clear else _budget(args.usd, args.tokens)
    done = asyncio.run(engine.set_budget(project, budget, plan_id, go_on=False))  # this process is gone soon
    if args.json:
        print_json(done)
        return EXIT_OK
    what = f"plan {plan_id}" if plan_id else f"{project.name} (per month)"
    print(f"budget of {what}: {budget_text(done.budget) if done.budget else 'none'}")
    for held in done.held:
        print(f"plan {held} was held at its budget: go on with 'pmdesk dispatch {held}' (or Continue in the window)",
              file=sys.stderr)
    return EXIT_OK


def cmd_dispatch(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    if args.estimate:
        plan = engine.store(project).get_plan(args.plan)
        limit = args.max_parallel or engine.project_settings(project).settings.concurrency
        found = engine.plans.estimate(project, plan.plan_id, not args.sequential, limit,
                                      ExecutorKind(args.executor) if args.executor else None, args.model,
                                      _budget(args.budget, args.budget_tokens), args.on)
        print_json(found) if args.json else print(estimate_text(found))
        return EXIT_OK

    async def main() -> int:
        engine.recover()
        plan = engine.store(project).get_plan(args.plan)
        unsubscribe = print_output(engine, None, args.json or args.quiet)
        try:
            if plan.status == PlanStatus.RUNNING:
                found = verdict(plan, PlanAction.CONTINUE, engine.plans.is_live(args.plan))
                if not found.allowed:
                    raise CliError(found.reason or "", kind=ErrorKind.WRONG_STATE)
                engine.plans.continue_plan(project, args.plan, args.max_parallel)
                if not args.json:
                    print(f"continuing plan {args.plan}", file=sys.stderr)
            else:
                response = await engine.dispatch(
                    project, args.plan, parallel=not args.sequential, max_parallel=args.max_parallel,
                    executor=ExecutorKind(args.executor) if args.executor else None, command=args.command,
                    in_place=args.in_place, model=args.model, budget=_budget(args.budget, args.budget_tokens),
                    on=args.on)
                elsewhere = not engine.plans.is_live(args.plan)  # the project's owner (the window) runs it
                if args.json and (args.no_wait or elsewhere):
                    print_json(response)
                if not args.json:
                    print(f"dispatched {len(response.runs)} runs of plan {args.plan}"
                          + (" in the pmdesk process that owns the project; follow it there or with "
                             f"'pmdesk show {args.plan}'" if elsewhere else ""), file=sys.stderr)
                if elsewhere:
                    return EXIT_OK
            if args.no_wait:
                return EXIT_OK
            await follow_plan(engine, project, args.plan)
        finally:
            unsubscribe()
        final = engine.store(project).get_plan(args.plan)
        await detach(engine)
        if args.json:
            print_json(final)
        else:
            print()
            print_plan(final)
            if final.budget_stop:
                print(f"\nheld: {final.budget_stop}; raise it with 'pmdesk budget' and the plan goes on",
                      file=sys.stderr)
            for t in final.tasks:
                if t.status == TaskState.AWAITING_RESPONSE:
                    print(f"\n{t.run_id} NEEDS RESPONSE — answer with: pmdesk respond {t.run_id} \"...\"",
                          file=sys.stderr)
        return plan_exit(final)

    return asyncio.run(main())


def cmd_verify(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)

    async def main() -> int:
        unsubscribe = print_output(engine, None, args.json or args.quiet)
        try:
            plan = await engine.plans.verify(project, args.plan, force=args.force, rebase=args.rebase, on=args.on)
        except ProjectBusyError:  # the window owns the project: it verifies, this command waits for the verdict
            plan = await engine.start_verify(project, args.plan, force=args.force, rebase=args.rebase, on=args.on)
            if not args.json:
                print(f"plan {args.plan} is verified by the pmdesk process that owns {project.name}…", file=sys.stderr)
            while plan.status == PlanStatus.VERIFYING:
                await asyncio.sleep(0.2)
                plan = engine.store(project).get_plan(args.plan)
        finally:
            unsubscribe()
        if args.json:
            print_json(plan)
        else:
            print()
            print_plan(plan)
        return plan_exit(plan)

    return asyncio.run(main())


def cmd_retry(args: argparse.Namespace) -> int:
    """A task of a plan again, in a fresh worktree; the earlier run is kept."""
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)

    async def main() -> int:
        engine.recover()
        unsubscribe = print_output(engine, None, args.json or args.quiet)
        try:
            plan = await engine.plans.retry(project, args.plan, args.task, prompt_extra=args.prompt_extra,
                                            with_dependents=args.with_dependents, on=args.on)
            if not args.json:
                task = engine.plans.task_of(plan, args.task)
                print(f"retrying task {args.task} of plan {args.plan} as run {task.run_id} "
                      f"(earlier: {', '.join(task.run_ids or [])})", file=sys.stderr)
            if not args.no_wait:
                await follow_plan(engine, project, args.plan)
        finally:
            unsubscribe()
        final = engine.store(project).get_plan(args.plan)
        await detach(engine)
        print_json(final) if args.json else print_plan(final)
        return plan_exit(final)

    return asyncio.run(main())
