"""The planner: the model splits the follow-up of a run, or a written goal, into subtasks via a
forced tool call."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from pmdesk.engine.lazy_imports import load
from pmdesk.engine.plans.shape import PlanAnswer, PlanGenerationError, validate_answer
from pmdesk.models import InspectionPacket

SYSTEM = (
    "You plan follow-up work for a coding agent. Read the inspection packet of a finished run "
    "and split what remains to be done into small, independent subtasks that agents can run in "
    "parallel in the same repository. Give each task a local id (t1, t2, ...), a self-contained "
    "description an agent can act on without other context, a priority (1 = first) and the ids "
    "of the tasks it depends on. Submit the plan with the submit_plan tool."
)


GOAL_SYSTEM = (
    "You plan work for coding agents. Read the user's goal and what is known of the project (its "
    "files, the head of its README, its recent plans) and split the goal into small, independent "
    "subtasks that agents can run in parallel in the same repository. Give each task a local id "
    "(t1, t2, ...), a self-contained description an agent can act on without other context, a "
    "priority (1 = first) and the ids of the tasks it depends on. Submit the plan with the "
    "submit_plan tool."
)


FIX_SYSTEM = (
    "You plan fixes for coding agents. A plan's tasks were merged and the project's own checks "
    "(gates) then failed. Read the failed checks with their output, what the plan changed, and "
    "the plan's tasks, and split what must be fixed into small, independent subtasks; each "
    "starts from the failed plan's merged work. Give each task a local id (t1, t2, ...), a "
    "self-contained description that names the failing check and what to change, a priority "
    "(1 = first) and the ids of the tasks it depends on. Submit the plan with the submit_plan tool."
)


@functools.cache
def submit_plan_tool() -> dict[str, Any]:
    return {
        "name": "submit_plan",
        "description": "Submit the plan: the subtasks, their priorities and dependencies.",
        "input_schema": PlanAnswer.model_json_schema(),
    }


def packet_prompt(packet: InspectionPacket) -> str:
    """What the planner reads: the task, its outcome, the tail of the log, the open questions."""
    parts = [
        f"Project: {packet.project.get('name')}",
        f"Original task: {packet.task.get('prompt')}",
        f"Run status: {packet.task.get('status')}",
    ]
    if packet.result:
        parts.append(f"Result:\n{packet.result}")
    if packet.error:
        parts.append(f"Error:\n{packet.error}")
    if packet.clarifications:
        parts.append("Clarifications:\n" + "\n".join(
            f"- Q: {c.question}\n  A: {c.response or '(unanswered)'}" for c in packet.clarifications))
    if packet.failing_checks:
        parts.append("Failing checks:\n" + "\n".join(f"- {c.name}: {c.message}" for c in packet.failing_checks))
    changes = packet.meta.get("changes")
    if isinstance(changes, dict):
        stat = changes.get("stat") or {}
        files = ", ".join(f"{f.get('path')} (+{f.get('added', 0)} -{f.get('removed', 0)})"
                          for f in stat.get("files", [])[:40])
        parts.append(f"What the run changed ({stat.get('filesChanged', 0)} files): {files or 'nothing'}\n"
                     f"Patch (bounded):\n{str(changes.get('patch', ''))[:8000]}")
    if packet.logs:
        parts.append("Log tail:\n" + "\n".join(f"[{line.stream}] {line.text}" for line in packet.logs[-60:]))
    return "\n\n".join(parts)


def goal_prompt(goal: str, context: str) -> str:
    return f"Goal:\n{goal.strip()}\n\n{context}".rstrip()


async def ask_model_for_plan(packet: InspectionPacket, model: str) -> PlanAnswer:
    """The follow-up of a run, from its packet (the spec's path)."""
    return await ask_model(SYSTEM, packet_prompt(packet), model)


async def ask_model_for_goal(goal: str, context: str, model: str) -> PlanAnswer:
    """A plan from a written goal and the project's context (``plans.context``), without a run."""
    return await ask_model(GOAL_SYSTEM, goal_prompt(goal, context), model)


async def ask_model_for_fixes(packet: InspectionPacket, plan_text: str, model: str) -> PlanAnswer:
    """Fix tasks for a plan whose verify failed, from its verify run's packet and what it changed."""
    return await ask_model(FIX_SYSTEM, f"{packet_prompt(packet)}\n\n{plan_text}", model)


async def ask_model(system: str, prompt: str, model: str) -> PlanAnswer:
    """One forced-tool request. No SDK code runs on the loop (the window's): the SDK takes ~2 s to
    import and its first request builds type machinery for another ~0.2 s, so the request is made
    with its synchronous client in a worker thread."""
    clients = await load("pmdesk.executors.anthropic_client")

    def ask() -> Any:
        client = clients.make_sync_client(timeout=float(120), max_retries=2)
        try:
            return client.messages.create(
                model=model, max_tokens=8192, system=system, tools=[submit_plan_tool()],
                tool_choice={"type": "tool", "name": "submit_plan"},
                messages=[{"role": "user", "content": prompt}],
            )
        finally:
            client.close()

    try:
        response = await asyncio.to_thread(ask)
    except clients.anthropic.APIError as exc:
        raise PlanGenerationError(clients.describe_api_error(exc)) from None
    except clients.NoApiKeyError as exc:
        raise PlanGenerationError(clients.describe_api_error(exc)) from None
    except ValueError as exc:  # a body the SDK could not decode
        raise PlanGenerationError(f"the Anthropic API answered with something that is not JSON: {exc}") from None
    for block in response.content or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == "submit_plan":
            return validate_answer(getattr(block, "input", None))
    texts = [getattr(b, "text", "") for b in response.content or [] if getattr(b, "type", None) == "text"]
    said = (" ".join(texts)).strip()
    raise PlanGenerationError(
        "the model answered with text instead of calling submit_plan"
        + (f": {said[:200]}" if said else "")
    )
