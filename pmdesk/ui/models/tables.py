"""The columns of pmdesk's tables, and the text the user reads in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QCoreApplication

from pmdesk.engine.overview import ProjectOverview
from pmdesk.models import ActivityEvent, PlanTask, TaskState, cost_text, parse_ts
from pmdesk.models import executor_name as models_executor_name
from pmdesk.models import short as shorten
from pmdesk.store import PlanSummary, RunSummary
from pmdesk.ui.models.record_model import Column, PagedRecordModel, RecordTableModel


def tr(text: str) -> str:
    return QCoreApplication.translate("pmdesk", text)


def ago(value: str | None) -> str:
    when = parse_ts(value)
    if when is None:
        return "—"
    seconds = int((datetime.now(UTC) - when).total_seconds())
    if seconds < 60:
        return tr("just now")
    if seconds < 3600:
        return tr("%n min ago").replace("%n", str(seconds // 60))
    if seconds < 86400:
        return tr("%n h ago").replace("%n", str(seconds // 3600))
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def duration(start: str | None, end: str | None) -> str:
    a, b = parse_ts(start), parse_ts(end)
    if a is None:
        return "—"
    b = b or datetime.now(UTC)
    seconds = max(0.0, (b - a).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def cost(value: float | None) -> str:
    return tr("unknown") if value is None else cost_text(value)


def short(text: str | None, n: int = 90) -> str:
    return shorten(text, n)


def executor_name(kind: Any) -> str:
    """What the user reads for an executor: "Claude Code", not ``claude_code`` (translated)."""
    return tr(models_executor_name(kind))


def status_text(status: Any) -> str:
    value = getattr(status, "value", str(status))
    return {"AWAITING_RESPONSE": tr("NEEDS RESPONSE"), "needs_response": tr("NEEDS RESPONSE")}.get(
        value, value.replace("_", " ").lower() if value.islower() else value)


def projects_model(parent: Any = None) -> RecordTableModel:
    return RecordTableModel([
        Column(tr("Name"), lambda o: o.name),
        Column(tr("Status"), lambda o: status_text(o.status), badge=lambda o: o.awaiting > 0, look=lambda o: o.status,
               sort=lambda o: ["needs_response", "error", "running", "idle", "missing"].index(o.status.value)),
        Column(tr("Running"), lambda o: str(o.running), sort=lambda o: o.running, align_right=True),
        Column(tr("Awaiting"), lambda o: str(o.awaiting), sort=lambda o: o.awaiting, align_right=True),
        Column(tr("Failed"), lambda o: str(o.failed), sort=lambda o: o.failed, align_right=True),
        Column(tr("Runs"), lambda o: str(o.total), sort=lambda o: o.total, align_right=True),
        Column(tr("Today"), lambda o: o.cost_today.text(), sort=lambda o: o.cost_today.cost_usd or 0.0, align_right=True,
               tooltip=lambda o: tr("Today: %1, %2 tokens").replace("%1", o.cost_today.text())
               .replace("%2", f"{o.cost_today.tokens:,}")),
        Column(tr("This month"), lambda o: o.cost_month.text(), sort=lambda o: o.cost_month.cost_usd or 0.0,
               align_right=True, tooltip=lambda o: tr("This month: %1, %2 tokens").replace("%1", o.cost_month.text())
               .replace("%2", f"{o.cost_month.tokens:,}")),
        Column(tr("Last activity"), lambda o: ago(o.last_activity), sort=lambda o: o.last_activity or ""),
        Column(tr("Path"), lambda o: o.path, tooltip=lambda o: o.path),
    ], key=lambda o: o.project_id, parent=parent)


def runs_model(parent: Any = None) -> PagedRecordModel:
    """A project's runs: a page at a time (a year of them is tens of thousands)."""
    return PagedRecordModel([
        Column(tr("Status"), lambda r: status_text(r.status), badge=lambda r: r.status == TaskState.AWAITING_RESPONSE,
               look=lambda r: r.status),
        Column(tr("Prompt"), lambda r: short(r.prompt), tooltip=lambda r: r.prompt),
        Column(tr("Executor"), lambda r: executor_name(r.executor) + (f" · {r.node.split(' (')[0]}" if r.node else ""),
               tooltip=lambda r: "\n".join(x for x in (r.model, r.node and tr("on the cluster node %1").replace(
                   "%1", r.node)) if x)),
        Column(tr("Started"), lambda r: ago(r.started_at), sort=lambda r: r.started_at or r.created_at),
        Column(tr("Duration"), lambda r: duration(r.started_at, r.ended_at) if r.started_at else "—",
               align_right=True),
        Column(tr("Cost"), lambda r: "—" if r.executor.value == "gate" or not (r.status.is_terminal or r.cost_usd is not None)
               else cost(r.cost_usd),
               sort=lambda r: r.cost_usd or 0.0, align_right=True),
    ], key=lambda r: r.run_id, parent=parent)


def plans_model(parent: Any = None) -> PagedRecordModel:
    """Plans, a page at a time as the view scrolls (a year of plans is thousands)."""
    return PagedRecordModel([
        Column(tr("Status"), lambda p: p.status.value, look=lambda p: p.status),
        Column(tr("Tasks"), lambda p: f"{p.tasks_complete}/{p.task_count}", align_right=True),
        Column(tr("Summary"), lambda p: ("⤷ " if p.parent_plan_id else "") + short(p.summary or p.plan_id, 70),
               tooltip=lambda p: p.plan_id + (f" — fix of {p.parent_plan_id}" if p.parent_plan_id else "")),
        Column(tr("Created"), lambda p: ago(p.created_at), sort=lambda p: p.created_at),
    ], key=lambda p: p.plan_id, parent=parent)


@dataclass(frozen=True)
class TaskRow:
    """A plan task as the table shows it: numbered, with its dependencies as numbers."""

    task: PlanTask
    number: int
    dep_numbers: tuple[int, ...]


def task_rows(tasks: list[PlanTask]) -> list[TaskRow]:
    numbers = {t.task_id: i + 1 for i, t in enumerate(tasks)}
    return [TaskRow(t, numbers[t.task_id], tuple(numbers.get(d, 0) for d in t.dependencies)) for t in tasks]


def tasks_model(parent: Any = None) -> RecordTableModel:
    return RecordTableModel([
        Column("#", lambda r: str(r.number), sort=lambda r: r.number, align_right=True),
        Column(tr("Description"), lambda r: short(r.task.description), tooltip=lambda r: r.task.description),
        Column(tr("Priority"), lambda r: str(r.task.priority), sort=lambda r: r.task.priority, align_right=True),
        Column(tr("Depends on"), lambda r: ", ".join(f"#{n}" for n in r.dep_numbers) or "—"),
        Column(tr("Status"), lambda r: status_text(r.task.status), look=lambda r: r.task.status,
               badge=lambda r: r.task.status == TaskState.AWAITING_RESPONSE, tooltip=lambda r: r.task.error or ""),
        Column(tr("Changes"), lambda r: change_cell(r.task), tooltip=lambda r: r.task.branch or ""),
        Column(tr("Run"), lambda r: (r.task.run_id or "—")[:12], tooltip=lambda r: r.task.run_id or ""),
    ], key=lambda r: r.task.task_id, parent=parent)


def change_cell(task: PlanTask) -> str:
    """What a task's run changed, in a few characters: "3 files +40 −2", "no changes", or "—"."""
    if task.no_changes:
        return tr("no changes")
    if task.changes is None:
        return "—"
    files = task.changes.files_changed
    return (tr("1 file") if files == 1 else tr("%1 files").replace("%1", str(files))) + \
        f" +{task.changes.lines_added} −{task.changes.lines_removed}"


def packets_model(parent: Any = None) -> PagedRecordModel:
    """Packets, a page at a time as the view scrolls."""
    return PagedRecordModel([
        Column(tr("Packet"), lambda p: p["packetId"][:16], tooltip=lambda p: p["packetId"]),
        Column(tr("Run prompt"), lambda p: short(p.get("prompt"), 60)),
        Column(tr("Run status"), lambda p: status_text(p.get("status") or "—"), look=lambda p: p.get("status")),
        Column(tr("Created"), lambda p: ago(p.get("createdAt")), sort=lambda p: p.get("createdAt") or ""),
    ], key=lambda p: p["packetId"], parent=parent)


def activity_text(event: ActivityEvent, project_names: dict[str, str]) -> str:
    name = project_names.get(event.project_id, event.project_id)
    return f"{ago(event.ts):>10}  {name}: {short(event.message, 110)}"


__all__ = ["PlanSummary", "ProjectOverview", "RunSummary", "activity_text", "ago", "cost", "duration",
           "packets_model", "plans_model", "projects_model", "runs_model", "short", "status_text",
           "task_rows", "tasks_model"]
