"""Small listing rows kept in the index, so a listing never parses every record.

Summaries are slotted dataclasses stored positionally in the index: a 10,000-run listing
is one ``json.loads`` and 10,000 cheap constructions, instead of 10,000 validations. The
index only ever holds rows built from records that were validated when they were read.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, TypedDict

from pydantic.alias_generators import to_camel

from pmdesk.models import ExecutorKind, InspectionPacket, Plan, PlanStatus, Run, TaskState

PROMPT_PREVIEW = 160


class Summary:
    """Positional rows in the index, camelCase JSON outside, like the models."""

    _converters: ClassVar[tuple[Any, ...]] = ()
    _names: ClassVar[tuple[str, ...]] = ()
    _camel: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[tuple[Any, ...]] = ()

    @classmethod
    def _setup(cls) -> None:
        found = fields(cls)  # type: ignore[arg-type]
        cls._names = tuple(f.name for f in found)
        cls._camel = tuple(to_camel(f.name) for f in found)
        cls._defaults = tuple(None if f.default is MISSING else f.default for f in found)

    @classmethod
    def from_row(cls, row: list[Any]) -> Any:
        conv = cls._converters
        return cls(*[c(v) if c is not None and v is not None else v for c, v in zip(conv, row, strict=False)])

    def to_row(self) -> list[Any]:
        return [getattr(v, "value", v) for v in (getattr(self, n) for n in self._names)]

    def to_json_dict(self) -> dict[str, Any]:
        out = {}
        for name, camel in zip(self._names, self._camel, strict=True):
            value = getattr(self, name)
            if value is not None:
                out[camel] = getattr(value, "value", value)
        return out

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> Any:
        """From camelCase JSON (the API and the tests speak it)."""
        return cls.from_row([data.get(camel, default) for camel, default in zip(cls._camel, cls._defaults, strict=True)])


@dataclass(slots=True)
class RunSummary(Summary):
    run_id: str
    status: TaskState
    prompt: str
    executor: ExecutorKind
    created_at: str
    model: str | None = None
    plan_id: str | None = None
    plan_task_id: str | None = None
    task_run_id: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    cost_usd: float | None = None
    total_tokens: int = 0
    question: str | None = None
    error: str | None = None
    waited_ms: int = 0
    node: str | None = None  # the cluster node it works on


RunSummary._converters = (None, TaskState, None, ExecutorKind) + (None,) * 14
RunSummary._setup()
_TASK_STATES = {m.value: m for m in TaskState}
_EXECUTORS = {m.value: m for m in ExecutorKind}
_PLAN_STATES = {m.value: m for m in PlanStatus}


def run_from_row(r: list[Any]) -> RunSummary:
    """The hot path of a listing: no generic conversion, enum members by dict lookup."""
    return RunSummary(r[0], _TASK_STATES[r[1]], r[2], _EXECUTORS[r[3]], *r[4:])


@dataclass(slots=True)
class PlanSummary(Summary):
    plan_id: str
    status: PlanStatus
    created_at: str
    updated_at: str | None = None
    packet_id: str | None = None
    run_id: str | None = None
    task_count: int = 0
    tasks_complete: int = 0
    tasks_failed: int = 0
    summary: str | None = None
    archived_at: str | None = None
    parent_plan_id: str | None = None


PlanSummary._converters = (None, PlanStatus) + (None,) * 10
PlanSummary._setup()


def plan_from_row(r: list[Any]) -> PlanSummary:
    return PlanSummary(r[0], _PLAN_STATES[r[1]], *r[2:])


def run_summary(run: Run) -> RunSummary:
    return RunSummary(
        run_id=run.run_id, status=run.status, prompt=run.prompt[:PROMPT_PREVIEW], executor=run.executor,
        created_at=run.created_at, model=run.model, plan_id=run.plan_id, plan_task_id=run.plan_task_id,
        task_run_id=run.task_run_id, updated_at=run.updated_at, started_at=run.started_at,
        ended_at=run.ended_at, cost_usd=run.cost_usd, total_tokens=run.usage.total,
        question=run.pending_question.question if run.pending_question else None,
        error=(run.error or "")[:300] or None, waited_ms=run.waited_ms, node=run.node,
    )


def plan_summary(plan: Plan) -> PlanSummary:
    return PlanSummary(
        plan_id=plan.plan_id, status=plan.status, created_at=plan.created_at, updated_at=plan.updated_at,
        packet_id=plan.packet_id, run_id=plan.run_id, task_count=len(plan.tasks),
        tasks_complete=sum(t.status == TaskState.COMPLETE for t in plan.tasks),
        tasks_failed=sum(t.status in (TaskState.ERROR, TaskState.CANCELLED) for t in plan.tasks),
        summary=plan.summary, archived_at=plan.archived_at, parent_plan_id=plan.parent_plan_id,
    )


def summarize_run(run: Run) -> list[Any]:
    return run_summary(run).to_row()


def summarize_plan(plan: Plan) -> list[Any]:
    return plan_summary(plan).to_row()


class PacketSummary(TypedDict):
    """A packet as listings show it (and the API answers it): camelCase keys, as the record's."""

    packetId: str
    runId: str | None
    createdAt: str
    prompt: str
    status: str | None


def summarize_packet(packet: InspectionPacket) -> PacketSummary:
    return {
        "packetId": packet.packet_id,
        "runId": packet.run_id,
        "createdAt": packet.created_at,
        "prompt": str(packet.task.get("prompt", ""))[:200],
        "status": packet.task.get("status"),
    }
