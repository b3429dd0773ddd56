"""`pmdesk project add|list|show|remove|set` and `pmdesk activity`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pmdesk.cli.errors import EXIT_OK, CliError
from pmdesk.cli.output import next_page, print_json, table
from pmdesk.cli.session import open_engine
from pmdesk.engine.cluster.connection import parse_address
from pmdesk.engine.cluster.placement import LOCAL
from pmdesk.engine.listing import page_activity, page_of
from pmdesk.models import ExecutorKind, short


def cmd_project(args: argparse.Namespace) -> int:
    handler = {"add": _add, "list": _list, "show": _show, "remove": _remove, "set": _set,
               "git-init": _git_init}.get(args.project_action)
    if handler is None:
        raise CliError("unknown project action")
    return handler(args)


def _add(args: argparse.Namespace) -> int:
    project = open_engine().add_project(args.path, args.name)
    print_json(project) if args.json else print(f"added {project.name} ({project.project_id}) at {project.path}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    engine = open_engine()
    overviews = [engine.overview(p) for p in engine.projects()]
    if args.json:
        print_json(overviews)
        return EXIT_OK
    if not overviews:
        print("no projects yet: add one with 'pmdesk project add PATH'")
        return EXIT_OK
    rows = [[o.name, o.project_id, o.status.value, str(o.total), str(o.completed), str(o.failed),
             str(o.running), str(o.awaiting), short(o.path, 50)] for o in overviews]
    print(table(rows, ["NAME", "ID", "STATUS", "TOTAL", "DONE", "FAILED", "RUNNING", "AWAITING", "PATH"]))
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project_settings(engine.project(args.project))
    ov = engine.overview(project)
    if args.json:
        print_json({**ov.to_json_dict(), "settings": project.settings.to_json_dict()})
        return EXIT_OK
    print(f"{ov.name}  ({ov.project_id})\n  path:    {ov.path}\n  status:  {ov.status.value}")
    print(f"  runs:    {ov.total} total, {ov.completed} complete, {ov.failed} failed, "
          f"{ov.running} running, {ov.awaiting} awaiting a response")
    print(f"  plans:   {ov.plans}\n  last activity: {ov.last_activity or '—'}")
    s = project.settings
    print(f"  settings: concurrency {s.concurrency}, model {s.default_model or '(app default)'}, "
          f"executor {s.default_executor.value if s.default_executor else '(auto)'}, "
          f"gates {s.gates or '(from package.json)'}")
    print(f"  permissions: {s.permission_mode.value}; allow {s.allow_rules or '—'}; deny {s.deny_rules or '—'}"
          + ("; bypass confirmed" if s.bypass_confirmed else ""))
    if s.cluster:
        print(f"  runs on: {'this machine' if s.cluster == LOCAL else s.cluster}")
    if s.worktree_setup or s.worktree_copy:
        print(f"  worktree set-up: {s.worktree_setup or '—'}; copied in: {s.worktree_copy or '—'}")
    if ov.problems:
        print(f"  problems: {ov.problems} state file(s) were unreadable and moved aside "
              f"(see {Path(ov.path) / '.claude/state/quarantine'})")
    return EXIT_OK


def _git_init(args: argparse.Namespace) -> int:
    engine = open_engine()
    print(engine.git_init(engine.project(args.project)))
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    project = open_engine().remove_project(args.project)
    print_json(project) if args.json else print(f"removed {project.name} from pmdesk (its files are untouched)")
    return EXIT_OK


def _set(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project_settings(engine.project(args.project))
    s = project.settings
    if args.concurrency is not None:
        s.concurrency = args.concurrency
    if args.model is not None:
        s.default_model = args.model or None
    if args.executor is not None:
        s.default_executor = ExecutorKind(args.executor) if args.executor else None
    if args.command is not None:
        s.command_template = args.command or None
    if args.gate is not None:
        s.gates = [g for g in args.gate if g.strip()] or None
    if args.setup is not None:
        s.worktree_setup = [c for c in args.setup if c.strip()]
    if args.copy is not None:
        s.worktree_copy = [c for c in args.copy if c.strip()]
    if args.cluster is not None:
        where = args.cluster.strip()
        s.cluster = None if not where else LOCAL if where == LOCAL else parse_address(where)
    project.settings = s
    engine.save_project(project)
    if args.permission_mode is not None or args.allow is not None or args.deny is not None or args.confirm_bypass:
        project = engine.set_permissions(project, args.permission_mode, args.allow, args.deny, args.confirm_bypass)
    print_json(project) if args.json else print(f"saved settings of {project.name}")
    return EXIT_OK


def cmd_activity(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    page = page_activity(engine.store(project), args.after, args.limit)
    if args.json:
        print_json(page.items)
    else:
        for e in page.items:
            ids = " ".join(x for x in (e.plan_id, e.run_id) if x)
            print(f"{e.ts}  {e.type.value:<22} {e.actor:<8} {short(e.message, 80)}  {ids}")
        if not page.items:
            print(f"no activity in {project.name} yet" if not args.after else "no activity before that cursor")
    next_page(f"activity {args.project}", page.next, args.limit, 50, len(page.items))
    return EXIT_OK


def cmd_packets(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = engine.project(args.project)
    packets = engine.store(project).list_packets()
    page = page_of(packets, lambda p: (p["createdAt"], p["packetId"]), "newest", args.after, args.limit)
    if args.json:
        print_json(page.items)
    else:
        rows = [[p["packetId"], p["createdAt"], p["runId"] or "—", p["status"] or "—", short(p["prompt"], 50)]
                for p in page.items]
        print(table(rows, ["PACKET", "CREATED", "RUN", "STATUS", "PROMPT"]) if rows else
              f"no inspection packets in {project.name} yet" if not packets else "no packets after that cursor")
    next_page(f"packets {args.project}", page.next, args.limit, 50, len(page.items), len(packets))
    return EXIT_OK
