"""How the CLI prints: JSON like the API, plain tables, a plan, the end of a run."""

from __future__ import annotations

import json
import sys
from typing import Any

from pmdesk.cli.errors import EXIT_FAILED, EXIT_OK
from pmdesk.models import Plan, PlanStatus, Run, TaskState, cost_text, jsonable, short

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


def print_run_end(run: Run) -> None:
    if run.status == TaskState.AWAITING_RESPONSE and run.pending_question:
        print(f"\nrun {run.run_id} NEEDS RESPONSE: {run.pending_question.question}\n"
              f"answer with: pmdesk respond {run.run_id} \"...\"", file=sys.stderr)
    else:
        detail = run.error if run.status != TaskState.COMPLETE else (run.summary or "")
        print(f"\nrun {run.run_id} {run.status.value} · cost {cost_text(run.cost_usd)}"
              + (f"\n{short(detail, 400)}" if detail else ""), file=sys.stderr)


def print_plan(plan: Plan) -> None:
    print(f"plan {plan.plan_id}  {plan.status.value}  ({len(plan.tasks)} tasks)")
    if plan.summary:
        print(f"  {plan.summary}")
    index = {t.task_id: i + 1 for i, t in enumerate(plan.tasks)}
    for i, t in enumerate(plan.tasks, 1):
        deps = ",".join(f"#{index.get(d, '?')}" for d in t.dependencies) or "-"
        print(f"  #{i:<2} p{t.priority:<3} {t.status.value:<18} deps {deps:<8} {short(t.description, 70)}"
              + (f"\n       {t.run_id}" if t.run_id else "") + (f"\n       ! {t.error}" if t.error else ""))
    if plan.gate_result:
        print(f"  gates: {'PASSED' if plan.gate_result.passed else 'FAILED'}")
        for c in plan.gate_result.checks:
            mark = "SKIP" if c.skipped else ("PASS" if c.passed else "FAIL")
            dur = f" {c.duration} ms" if c.duration is not None else ""
            print(f"    [{mark}] {c.name}{dur}: {short(c.message, 100)}")


def run_exit(run: Run) -> int:
    return EXIT_FAILED if run.status in (TaskState.ERROR, TaskState.CANCELLED) else EXIT_OK


def plan_exit(plan: Plan) -> int:
    return EXIT_FAILED if plan.status in (PlanStatus.FAILED, PlanStatus.CANCELLED) else EXIT_OK
