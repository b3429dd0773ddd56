"""The shape of a plan: the submit_plan answer, its validation, cycles and waves. Pure.

The answer's shape is a pydantic model (the planner's tool schema is generated from it),
and a plan written by hand, by a script or by the model passes the same checks before a
single task is saved.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from pmdesk.errors import PmdeskError
from pmdesk.models import PlanTask, new_id

MAX_TASKS = 50
MAX_PRIORITY = 1000


class PlanAnswerTask(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=20_000)
    priority: int = Field(default=1, ge=1, le=MAX_PRIORITY)
    dependencies: list[str] = Field(default_factory=list)


class PlanAnswer(BaseModel):
    """The input of the ``submit_plan`` tool (DESIGN, "Contracts with the model")."""

    tasks: list[PlanAnswerTask]
    summary: str | None = None


class PlanGenerationError(PmdeskError, ValueError):
    """Why there is no plan, in words the user can act on."""

    code = "invalid_plan"


def validate_answer(raw: Any) -> PlanAnswer:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PlanGenerationError(f"the plan is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(raw, dict):
        raise PlanGenerationError("the plan must be a JSON object with a 'tasks' list")
    try:
        answer = PlanAnswer.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanGenerationError(f"the plan does not have the expected shape ({where}: {first['msg']})") from None
    tasks = answer.tasks
    if not tasks:
        raise PlanGenerationError("the plan has no tasks")
    if len(tasks) > MAX_TASKS:
        raise PlanGenerationError(f"the plan has {len(tasks)} tasks; at most {MAX_TASKS} are allowed")
    ids = [t.id for t in tasks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanGenerationError(f"task ids are not unique: {', '.join(duplicates)}")
    known = set(ids)
    for task in tasks:
        if not task.description.strip():
            raise PlanGenerationError(f"task {task.id} has an empty description")
        for dep in task.dependencies:
            if dep == task.id:
                raise PlanGenerationError(f"task {task.id} depends on itself")
            if dep not in known:
                raise PlanGenerationError(f"task {task.id} depends on unknown task {dep}")
    cycle = find_cycle({t.id: list(t.dependencies) for t in tasks})
    if cycle:
        raise PlanGenerationError("the dependencies form a cycle: " + " -> ".join(cycle))
    return answer


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if state.get(dep, 0) == 0:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if state.get(node, 0) == 0:
            found = visit(node)
            if found:
                return found
    return None


def waves(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tasks grouped by the earliest wave they can run in (dependencies first)."""
    level: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in level:
            level[node] = 0
            level[node] = 1 + max((depth(d) for d in graph.get(node, []) if d in graph), default=-1)
        return level[node]

    for node in graph:
        depth(node)
    out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for node, lvl in level.items():
        out[lvl].append(node)
    return out


def tasks_from_answer(answer: PlanAnswer) -> list[PlanTask]:
    mapping = {t.id: new_id("ptask") for t in answer.tasks}
    return [
        PlanTask(task_id=mapping[t.id], description=t.description.strip(), priority=t.priority,
                 dependencies=[mapping[d] for d in t.dependencies])
        for t in answer.tasks
    ]
