"""Inspect: an Inspection Packet from a run — what a planner (or a person) needs to follow up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pmdesk
from pmdesk.engine.context import EngineContext
from pmdesk.engine.notifications import PacketAdded
from pmdesk.engine.worktrees.diff import PACKET_PATCH_CHARS, section
from pmdesk.errors import PmdeskError, WrongStateError
from pmdesk.models import (
    ActivityType,
    InspectionPacket,
    LogLine,
    Project,
    Run,
    TaskState,
    duration_ms,
    executor_name,
    new_id,
)
from pmdesk.store import StateStore, StoreError
from pmdesk.store.summaries import summarize_packet

MAX_EVENTS = 400
MAX_LOG_LINES = 2000
LOG_KINDS = {"stdout", "stderr", "system", "gate"}


class InspectError(WrongStateError):
    """The run has nothing to inspect yet."""


async def create_packet(ctx: EngineContext, project: Project, run_id: str) -> InspectionPacket:
    """The packet is read and written off the loop (the log tail, git's diff), then announced."""
    packet = await asyncio.to_thread(build_packet, ctx, project, run_id)
    ctx.bus.publish(PacketAdded(project.project_id, summarize_packet(packet)))
    ctx.record(project, ActivityType.PACKET_CREATED, f"inspection packet created for run {run_id}",
               run_id=run_id, packet_id=packet.packet_id, plan_id=packet.task.get("planId"))
    return packet


def build_packet(ctx: EngineContext, project: Project, run_id: str) -> InspectionPacket:
    """Files and git only: for a worker thread."""
    store = ctx.store(project)
    run = store.get_run(run_id)
    if run.status in (TaskState.CREATED, TaskState.QUEUED):
        raise InspectError(f"run {run_id} has not started yet; there is nothing to inspect")
    tail = store.tail_events(run_id, MAX_LOG_LINES)
    logs = [LogLine(ts=e.ts, stream=e.kind if e.kind in ("stdout", "stderr") else "system", text=e.text)
            for e in tail if e.kind in LOG_KINDS]
    failing: list[Any] = []
    if run.plan_id and run.task_run_id and run.task_run_id.startswith("verify_"):
        try:
            plan = store.get_plan(run.plan_id)
            if plan.gate_result:
                failing = [c for c in plan.gate_result.checks if not c.passed]
        except StoreError:
            pass
    redact = ctx.redactor
    packet = InspectionPacket(
        packet_id=new_id("pkt"),
        project_id=project.project_id,
        run_id=run.run_id,
        task={
            "runId": run.run_id, "prompt": redact.text(run.prompt), "status": run.status.value,
            "planId": run.plan_id, "planTaskId": run.plan_task_id, "taskRunId": run.task_run_id,
            "createdAt": run.created_at, "startedAt": run.started_at, "endedAt": run.ended_at,
            "durationMs": duration_ms(run.started_at, run.ended_at),
            "pendingQuestion": run.pending_question.question if run.pending_question else None,
        },
        project={"projectId": project.project_id, "name": project.name, "path": project.path},
        events=[redact.any(e.to_json_dict()) for e in tail[-MAX_EVENTS:]],
        logs=[LogLine(ts=line.ts, stream=line.stream, text=redact.text(line.text)) for line in logs],
        settings=redact.any({"executor": run.executor.value, "model": run.model, **run.settings}),
        clarifications=run.clarifications,
        result=redact.text(run.summary) if run.summary else None,
        error=redact.text(run.error) if run.error else None,
        failing_checks=failing,
        meta={
            "pmdeskVersion": pmdesk.__version__, "eventCount": store.last_event_seq(run_id),
            "costUsd": run.cost_usd, "usage": run.usage.to_json_dict(), "exitCode": run.exit_code,
        },
    )
    changes = _changes(project, run, store, redact.text)
    if changes:
        packet.meta["changes"] = changes
    return store.put_packet(packet)


def _changes(project: Project, run: Run, store: StateStore, scrub: Callable[[str], str]) -> dict[str, Any] | None:
    """What the run changed, for planning: its diff stat and a bounded patch (isolated work only).
    A verify run of an isolated plan shows the plan's integration."""
    start, end, where, branch = run.start_commit or run.base_commit, run.head_commit, run.worktree_path, run.branch
    if run.plan_id and run.task_run_id and run.task_run_id.startswith("verify_"):
        try:
            plan = store.get_plan(run.plan_id)
        except StoreError:
            return None
        if plan.integration is None or not plan.base_commit:
            return None
        start, end, where, branch = (plan.base_commit, plan.integration.head_commit, plan.integration.worktree_path,
                                     plan.integration.branch)
    if not start or not where:
        return None
    folder = Path(where) if not end else Path(project.path)
    try:
        found = section(folder, branch or "", start, end, stat_only=False, limit=PACKET_PATCH_CHARS)
    except (PmdeskError, OSError):
        return None
    return {"branch": branch, "startCommit": start, "headCommit": end, "stat": found.stat.to_json_dict(),
            "patch": scrub(found.patch), "truncated": found.truncated}


def packet_markdown(packet: InspectionPacket) -> str:
    task = packet.task
    out = [
        f"# Inspection packet {packet.packet_id}",
        "",
        f"- **Project:** {packet.project.get('name')} (`{packet.project.get('path')}`)",
        f"- **Run:** `{packet.run_id}` — {task.get('status')}",
        f"- **Executor:** {executor_name(packet.settings.get('executor'))}  **Model:** {packet.settings.get('model') or '—'}",
        f"- **Permissions:** {packet.settings.get('permission_mode') or 'ask'}; allow "
        f"{', '.join(packet.settings.get('allow_rules') or []) or '—'}; deny "
        f"{', '.join(packet.settings.get('deny_rules') or []) or '—'}",
        f"- **Created:** {packet.created_at}",
        "",
        "## Task",
        "",
        str(task.get("prompt", "")),
        "",
    ]
    if packet.result:
        out += ["## Result", "", packet.result, ""]
    if packet.error:
        out += ["## Error", "", "```", packet.error, "```", ""]
    if packet.clarifications:
        out += ["## Clarifications", ""]
        for c in packet.clarifications:
            out += [f"- **Q:** {c.question}", f"  **A:** {c.response or '(no answer yet)'}"]
        out.append("")
    if packet.failing_checks:
        out += ["## Failing checks", ""]
        out += [f"- `{c.name}`: {c.message}" for c in packet.failing_checks]
        out.append("")
    changes = packet.meta.get("changes")
    if isinstance(changes, dict):
        stat = changes.get("stat") or {}
        out += ["## Changes", "", f"{stat.get('filesChanged', 0)} files, +{stat.get('linesAdded', 0)} "
                f"-{stat.get('linesRemoved', 0)} on `{changes.get('branch')}`", ""]
        out += [f"- `{f.get('path')}` +{f.get('added', 0)} -{f.get('removed', 0)}" for f in stat.get("files", [])[:50]]
        out += ["", "```diff", str(changes.get("patch", "")).rstrip(), "```", ""]
    if packet.logs:
        out += ["## Log (tail)", "", "```"]
        out += [f"[{line.stream}] {line.text}" for line in packet.logs[-200:]]
        out += ["```", ""]
    return "\n".join(out)
