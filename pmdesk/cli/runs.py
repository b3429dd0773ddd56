"""`pmdesk run`, `runs`, `log`, `respond`, `cancel` and `inspect`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pmdesk.cli.errors import EXIT_OK
from pmdesk.cli.follow import follow_elsewhere, in_foreground
from pmdesk.cli.output import event_line, next_page, print_json, table
from pmdesk.cli.session import open_engine, project_of
from pmdesk.engine.inspect import packet_markdown
from pmdesk.engine.listing import DEFAULT_PAGE, MAX_PAGE, page_runs, parse_filter
from pmdesk.engine.permissions import parse_mode
from pmdesk.models import ExecutorKind, cost_text, duration_ms, short
from pmdesk.store.locks import ProjectBusyError


def cmd_run(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    executor = ExecutorKind(args.executor) if args.executor else None

    async def main() -> int:
        engine.recover()
        mode = parse_mode(args.permission_mode) if args.permission_mode else None
        options: dict[str, Any] = {"executor": executor, "model": args.model, "command": args.command,
                                   "in_worktree": args.worktree, "permission_mode": mode}
        try:
            run = engine.runs.create(project, args.prompt, **options)
        except ProjectBusyError:  # the window owns the project: it starts the run, its output follows here
            run = await engine.launch(project, args.prompt, **options)
            if not args.json:
                print(f"run {run.run_id} ({run.executor.value}) in {project.name}", file=sys.stderr)
            return await follow_elsewhere(engine, project, run.run_id, args.json, run.owner_pid or 0)
        if not args.json:
            print(f"run {run.run_id} ({run.executor.value}) in {project.name}", file=sys.stderr)
        return await in_foreground(engine, project, run.run_id, args.json,
                                   lambda: engine.runs.start(project, run.run_id), hold=args.hold)

    return asyncio.run(main())


def cmd_runs(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    wanted = parse_filter(args.status, args.executor, args.plan, args.text)
    page = page_runs(engine.store(project).list_runs(), wanted, args.order, args.after, args.limit)
    if args.json:  # the API's body (a list); the next page's cursor goes where the API's Link header would
        print_json(page.items)
        next_page(f"runs {args.project}", page.next, args.limit, DEFAULT_PAGE, len(page.items), page.total)
        return EXIT_OK
    rows = []
    for r in page.items:
        ms = duration_ms(r.started_at, r.ended_at)
        rows.append([r.run_id, r.status.value, r.executor.value, r.started_at or "—",
                     f"{ms / 1000:.1f}s" if ms is not None else "—", cost_text(r.cost_usd), short(r.prompt, 50)])
    print(table(rows, ["RUN", "STATUS", "EXECUTOR", "STARTED", "DURATION", "COST", "PROMPT"]) if rows
          else f"no runs in {project.name} yet" if not page.total else "no runs after that cursor")
    next_page(f"runs {args.project}", page.next, args.limit, DEFAULT_PAGE, len(page.items), page.total)
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "run", args.run)
    store = engine.store(project)
    lines = max(1, min(args.lines, MAX_PAGE))
    events = store.tail_events(args.run, lines) if args.after is None else \
        store.read_events(args.run, after=args.after, limit=lines)
    if args.json:
        print_json(events)
    else:
        for e in events:
            print(event_line(e.kind, e.text))
    if args.after is not None and len(events) == lines:
        next_page(f"log {args.run}", events[-1].seq, args.lines, 200, len(events))
    return EXIT_OK


def cmd_respond(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "run", args.run)

    async def main() -> int:
        engine.recover()
        return await in_foreground(engine, project, args.run, args.json,
                                   lambda: engine.answer(project, args.run, args.text))

    return asyncio.run(main())


def cmd_cancel(args: argparse.Namespace) -> int:
    engine = open_engine()
    target: str = args.target

    async def main() -> int:
        if target.startswith("plan_"):
            project = project_of(engine, "plan", target)
            plan = await engine.plans.cancel(project, target)
            print_json(plan) if args.json else print(f"plan {target} {plan.status.value}")
            return EXIT_OK
        project = project_of(engine, "run", target)
        run = await engine.runs.cancel(project, target)
        print_json(run) if args.json else print(f"run {target} {run.status.value}")
        return EXIT_OK

    return asyncio.run(main())


def cmd_inspect(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "run", args.run)
    packet = asyncio.run(engine.inspect(project, args.run))
    if args.json or args.format == "json":
        print_json(packet)
    else:
        print(packet_markdown(packet))
    return EXIT_OK
