"""How the CLI prints: JSON like the API, plain tables, a plan, the end of a run."""

from __future__ import annotations

import json
import sys
from typing import Any

from pmdesk.cli.errors import EXIT_FAILED, EXIT_OK
from pmdesk.models import Plan, PlanStatus, RequestKind, Run, TaskState, Worktree, cost_text, jsonable, short

# How each kind of event starts its line in a followed log.
KIND_PREFIX = {"stderr": "! ", "system": "· ", "assistant": "» ", "tool_use": "→ ", "tool_result": "← ",
               "question": "? ", "answer": "> ", "result": "= ", "gate": "  "}


def print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))  # read from the store: scrubbed there


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def event_line(kind: str, text: str) -> str:
    return KIND_PREFIX.get(kind, "") + text


def print_waiting(run: Run) -> None:
    """What a run waits on, and the commands that decide it."""
    request = run.pending_request
    assert request is not None
    what = run.pending_question.question if run.pending_question else request.tool_name
    print(f"\nrun {run.run_id} NEEDS RESPONSE: {what}", file=sys.stderr)
    if request.preview:
        print("  " + short(request.preview, 1200).replace("\n", "\n  "), file=sys.stderr)
    if request.kind == RequestKind.QUESTION:
        print(f"answer with: pmdesk approve {run.run_id} --answer 'QUESTION=LABEL' | --text '...'   "
              f"(pmdesk pending {run.run_id} lists the options)", file=sys.stderr)
    elif request.kind == RequestKind.PLAN_APPROVAL:
        print(f"approve with: pmdesk approve {run.run_id} [--accept-edits]; keep planning with: "
              f"pmdesk deny {run.run_id} FEEDBACK", file=sys.stderr)
    else:
        print(f"allow with: pmdesk approve {run.run_id} [--always run|project]   deny with: "
              f"pmdesk deny {run.run_id} [MESSAGE]   stop the turn: pmdesk interrupt {run.run_id}", file=sys.stderr)


def print_run_end(run: Run) -> None:
    if run.status == TaskState.AWAITING_RESPONSE and run.pending_request is not None:
        print_waiting(run)
    elif run.status == TaskState.AWAITING_RESPONSE and run.pending_question:
        print(f"\nrun {run.run_id} NEEDS RESPONSE: {run.pending_question.question}\n"
              f"answer with: pmdesk respond {run.run_id} \"...\"", file=sys.stderr)
    else:
        detail = run.error if run.status != TaskState.COMPLETE else (run.summary or "")
        print(f"\nrun {run.run_id} {run.status.value} · cost {cost_text(run.cost_usd)}"
              + (f" · {change_text(run)}" if run.branch else "")
              + (f"\n{short(detail, 400)}" if detail else ""), file=sys.stderr)


def print_plan(plan: Plan) -> None:
    print(f"plan {plan.plan_id}  {plan.status.value}  ({len(plan.tasks)} tasks)")
    if plan.summary:
        print(f"  {plan.summary}")
    if plan.base_commit:
        print(f"  base: {plan.base_branch} at {plan.base_commit[:10]} (each task in its own worktree)")
    elif plan.in_place:
        print("  in place: the tasks ran one at a time in the project folder")
    index = {t.task_id: i + 1 for i, t in enumerate(plan.tasks)}
    for i, t in enumerate(plan.tasks, 1):
        deps = ",".join(f"#{index.get(d, '?')}" for d in t.dependencies) or "-"
        print(f"  #{i:<2} p{t.priority:<3} {t.status.value:<18} deps {deps:<8} {short(t.description, 70)}"
              + (f"\n       {t.run_id}" if t.run_id else "") + (f"  {change_text(t)}" if t.branch else "")
              + (f"\n       ! {t.error}" if t.error else ""))
    found = plan.integration
    if found is not None:
        merged = ", ".join(f"#{index.get(t, '?')}" for t in found.merged_task_ids) or "none"
        left = ", ".join(f"#{index.get(t, '?')}" for t in found.left_out_task_ids)
        print(f"  integration: {found.branch} (merged {merged}" + (f"; left out {left}" if left else "") + ")"
              + (f"  {found.changes.files_changed} files +{found.changes.lines_added} -{found.changes.lines_removed}"
                 if found.changes else ""))
        if found.conflict is not None:
            clash = found.conflict
            others = ", ".join(f"#{index.get(t, '?')}" for t in clash.with_task_ids)
            print(f"  CONFLICT: task #{index.get(clash.task_id, '?')}" + (f" with {others}" if others else "")
                  + f" in {', '.join(clash.files)}\n    ways on: pmdesk resolve {plan.plan_id} --agent | --by-hand "
                  f"(in {found.worktree_path}) | --leave-out")
    if plan.merge is not None:
        print(f"  merged into {plan.merge.into_branch}: {plan.merge.mode} {plan.merge.commit[:10]}"
              + (" (forced)" if plan.merge.forced else ""))
    if plan.gate_result:
        print(f"  gates: {'PASSED' if plan.gate_result.passed else 'FAILED'}")
        for c in plan.gate_result.checks:
            mark = "SKIP" if c.skipped else ("PASS" if c.passed else "FAIL")
            dur = f" {c.duration} ms" if c.duration is not None else ""
            print(f"    [{mark}] {c.name}{dur}: {short(c.message, 100)}")


def change_text(item: Worktree) -> str:
    """A task's or run's branch and what it changed: "pmdesk/ab12/1: 2 files +10 -3" or "no changes"."""
    if item.no_changes:
        return f"{item.branch}: no changes"
    if item.changes is not None:
        return f"{item.branch}: {item.changes.files_changed} files +{item.changes.lines_added} -{item.changes.lines_removed}"
    return item.branch or ""


def run_exit(run: Run) -> int:
    return EXIT_FAILED if run.status in (TaskState.ERROR, TaskState.CANCELLED) else EXIT_OK


def plan_exit(plan: Plan) -> int:
    return EXIT_FAILED if plan.status in (PlanStatus.FAILED, PlanStatus.CANCELLED) else EXIT_OK


def next_page(command: str, cursor: str | int | None, limit: int, default: int, shown: int,
              total: int | None = None) -> None:
    """Where a page ends and the next begins, on stderr (stdout stays the page itself)."""
    if cursor is None:
        return
    counted = f"{shown} of {total}" if total is not None else f"{shown} shown"
    print(f"{counted}; next page: pmdesk {command} --after {cursor}" + (f" --limit {limit}" if limit != default else ""),
          file=sys.stderr)
