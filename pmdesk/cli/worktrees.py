"""`pmdesk diff`, `merge`, `resolve`, `worktrees` and `clean`: review and tidy isolated work."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pmdesk.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from pmdesk.cli.output import print_json, print_plan, table
from pmdesk.cli.session import open_engine, project_of
from pmdesk.engine.plans import Resolution
from pmdesk.engine.worktrees.diff import stat_text
from pmdesk.engine.worktrees.git import is_repository
from pmdesk.engine.worktrees.inventory import WorktreeInfo, backups
from pmdesk.errors import ErrorKind
from pmdesk.models import Plan, Project, Run, size_text


def cmd_diff(args: argparse.Namespace) -> int:
    engine = open_engine()
    found = asyncio.run(engine.diff(args.target, stat_only=args.stat))
    if args.json:
        print_json(found)
        return EXIT_OK
    if found.note and not found.sections:
        print(found.note, file=sys.stderr)
    for section in found.sections:
        if args.stat or len(found.sections) > 1:
            print(f"# {section.label}")
        if args.stat:
            print("\n".join(stat_text(section.stat)) if section.stat.files else " no changes")
        else:
            sys.stdout.write(section.patch)
            if section.truncated:
                print(f"# … cut here: the whole diff is 'git diff {section.start} {section.end}'", file=sys.stderr)
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    plan = asyncio.run(engine.plans.merge(project, args.plan, squash=args.squash, force=args.force))
    if args.json:
        print_json(plan)
    elif plan.merge is not None:
        print(f"plan {plan.plan_id} merged into {plan.merge.into_branch}: {plan.merge.mode}, {plan.merge.commit[:10]}")
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    engine = open_engine()
    project = project_of(engine, "plan", args.plan)
    way = Resolution.AGENT if args.agent else Resolution.LEAVE_OUT if args.leave_out else Resolution.BY_HAND

    async def main() -> Plan | Run:
        done = await engine.plans.resolve(project, args.plan, way, args.task)
        if isinstance(done, Run):
            await engine.follow_run(project, done.run_id)
            return engine.store(project).get_run(done.run_id)
        return done

    done = asyncio.run(main())
    if args.json:
        print_json(done)
        return EXIT_OK
    if isinstance(done, Run):
        print(f"run {done.run_id} {done.status.value} in the integration worktree"
              + (f": {done.error}" if done.error else "") + f"\nverify again with: pmdesk verify {args.plan}")
        return EXIT_OK if done.status.value == "COMPLETE" else EXIT_FAILED
    if way == Resolution.BY_HAND and done.integration is not None:
        conflict = done.integration.conflict
        print(f"resolve it in {done.integration.worktree_path}"
              + (f" (files: {', '.join(conflict.files)})" if conflict else "")
              + f"; then: pmdesk verify {args.plan}")
    else:
        print_plan(done)
        print(f"\nverify again with: pmdesk verify {args.plan}")
    return EXIT_OK


def cmd_worktrees(args: argparse.Namespace) -> int:
    engine = open_engine()
    projects = [engine.project(args.project)] if args.project else engine.projects()

    async def main() -> list[tuple[Project, list[WorktreeInfo]]]:
        return [(p, await engine.isolation.listing(p)) for p in projects]

    found = asyncio.run(main())
    saved = {p.project_id: backups(Path(p.path)) if is_repository(Path(p.path)) else [] for p in projects}
    if args.json:
        print_json([{"project": p.name, "projectId": p.project_id, "worktrees": [w.to_json_dict() for w in items],
                     "backups": [{"ref": ref, "commit": commit} for ref, commit in saved[p.project_id]]}
                    for p, items in found])
        return EXIT_OK
    rows = []
    for project, items in found:
        for w in items:
            owner = "integration" if w.integration else f"task #{w.task_number}" if w.task_number else f"run {w.run_short}"
            rows.append([project.name, w.plan_short or "—", owner, w.branch or "—", size_text(w.size_bytes),
                         w.state.value, w.path])
    print(table(rows, ["PROJECT", "PLAN", "FOR", "BRANCH", "SIZE", "STATE", "PATH"]) if rows
          else "no worktrees of pmdesk's")
    for project in projects:
        for ref, commit in saved[project.project_id]:
            print(f"backup {ref} {commit[:10]}  (restore: git -C {project.path} branch NAME {ref})")
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    engine = open_engine()
    if args.target and args.merged:
        raise CliError("give a plan or --merged, not both")
    if args.target:
        projects = [project_of(engine, "plan", args.target)]
    elif args.merged:
        projects = [engine.project(args.project)] if args.project else engine.projects()
    else:
        raise CliError("say what to clean: a plan id, or --merged", kind=ErrorKind.BAD_INPUT)

    async def main() -> int:
        refused = 0
        for project in projects:
            done = await engine.clean(project, args.target, args.merged, args.force)
            for path in done.removed:
                print(f"removed {path}")
            for branch in done.branches_deleted:
                print(f"deleted branch {branch}")
            for path in done.pruned:
                print(f"forgot vanished {path}")
            for ref in done.backups:
                print(f"saved to {ref}  (restore: git -C {project.path} branch NAME {ref})")
            for why in done.refused:
                print(f"refused {why}", file=sys.stderr)
            refused += len(done.refused)
        return EXIT_FAILED if refused else EXIT_OK

    return asyncio.run(main())

