"""A project's derived status and counts, from the kept tallies of its listings (DESIGN §3)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, ValidationError

from pmdesk.engine.costs import CostTotals, kept_at_a_glance
from pmdesk.models import Model, Project, ProjectStatus, TaskState
from pmdesk.store import StateStore
from pmdesk.store.tally import RunTally


class ProjectOverview(Model):
    project_id: str
    name: str
    path: str
    status: ProjectStatus
    total: int = 0
    completed: int = 0
    failed: int = 0
    running: int = 0
    awaiting: int = 0
    plans: int = 0
    last_activity: str | None = None
    problems: int = 0
    cost_today: CostTotals = Field(default_factory=CostTotals)
    cost_month: CostTotals = Field(default_factory=CostTotals)
    cost_total: CostTotals = Field(default_factory=CostTotals)


def kept_status(tally: RunTally) -> ProjectStatus:
    """"error" means the last run to finish failed; an old failure fixed since is history."""
    if tally.count(TaskState.AWAITING_RESPONSE):
        return ProjectStatus.NEEDS_RESPONSE
    if tally.count(TaskState.ERROR) and tally.last_ended is not None and tally.last_ended[1] == TaskState.ERROR.value:
        return ProjectStatus.ERROR
    if tally.count(TaskState.RUNNING) or tally.count(TaskState.QUEUED):
        return ProjectStatus.RUNNING
    return ProjectStatus.IDLE


def overview(project: Project, store: StateStore | None = None) -> ProjectOverview:
    """From the kept tallies of runs and plans: a few stats and two small files when the project
    is at rest; one listing (which keeps them again) when files changed since."""
    base = {"project_id": project.project_id, "name": project.name, "path": project.path}
    if store is None:
        if not os.path.isdir(project.path):
            return ProjectOverview(**base, status=ProjectStatus.MISSING)
        store = StateStore.for_project(project.path, project.project_id)
    runs = store.run_tally()
    plans = store.plan_tally()
    today, month, total = kept_at_a_glance(runs)
    return ProjectOverview(
        **base,
        status=kept_status(runs),
        total=runs.total,
        completed=runs.count(TaskState.COMPLETE),
        failed=runs.count(TaskState.ERROR),
        running=runs.count(TaskState.RUNNING) + runs.count(TaskState.QUEUED),
        awaiting=runs.count(TaskState.AWAITING_RESPONSE),
        plans=plans.total,
        last_activity=max(runs.last_activity, plans.last_activity) or None,
        problems=store.problem_count(),
        cost_today=today,
        cost_month=month,
        cost_total=total,
    )


@dataclass(slots=True)
class _Kept:
    identity: tuple[str, str, str]  # name, path, day (today's cost changes with the day)
    at_rest: tuple[object, ...] | None  # the stats that stay equal while nothing changed
    tallies: tuple[object, ...]
    overview: ProjectOverview
    json: bytes


class Overviews:
    """Each project's overview, made again only when its tallies, problems, name or day changed,
    with its JSON for the API. While a project is at rest, asking costs a few stats."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}

    def of(self, project: Project, store: StateStore, is_there: Callable[[Project], bool],
           today: str | None = None) -> ProjectOverview:
        return self._entry(project, store, is_there, today).overview

    def json(self, project: Project, store: StateStore, is_there: Callable[[Project], bool],
             today: str | None = None) -> bytes:
        return self._entry(project, store, is_there, today).json

    def _entry(self, project: Project, store: StateStore, is_there: Callable[[Project], bool],
               today: str | None) -> _Kept:
        """``is_there``: whether the project's folder is (asked only when its tallies may have changed:
        a folder at rest inside it says so already)."""
        identity = (project.name, project.path, today or datetime.now(UTC).strftime("%Y-%m-%d"))
        kept = self._kept.get(project.project_id)
        at_rest = store.tallies_unchanged() if kept is not None else None
        if kept is not None and at_rest is not None and kept.at_rest == at_rest and kept.identity == identity:
            return kept
        if not is_there(project):
            made = overview(project, None)
            self._kept.pop(project.project_id, None)
            return _Kept(identity, None, (), made, made.to_json().encode())
        tallies = (store.run_tally(), store.plan_tally(), store.problem_count())
        if kept is not None and kept.identity == identity and \
                all(a is b or a == b for a, b in zip(kept.tallies, tallies, strict=True)):
            made, text = kept.overview, kept.json
        else:
            made = overview(project, store)
            text = made.to_json().encode()
        kept = self._kept[project.project_id] = _Kept(identity, store.tallies_unchanged(), tallies, made, text)
        return kept


CACHE_LIMIT = 4 * 1024 * 1024  # the dashboard of thousands of projects; anything bigger is no cache


def read_cached(path: Path) -> list[ProjectOverview]:
    """The overviews as the dashboard last showed them, to show before the engine has loaded;
    anything unreadable is no cache at all (the real ones come a moment later)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(CACHE_LIMIT + 1)
        if len(raw) > CACHE_LIMIT:
            return []
        items = json.loads(raw)
        return [ProjectOverview.model_validate(item) for item in items] if isinstance(items, list) else []
    except (OSError, ValueError, RecursionError, ValidationError):  # RecursionError: hostile nesting
        return []


def write_cached(path: Path, overviews: list[ProjectOverview]) -> None:
    """Blocking (off the Qt thread); a cache that cannot be written is left out."""
    from pmdesk.store.atomic import atomic_write_bytes

    body = ("[" + ",".join(o.to_json() for o in overviews) + "]").encode()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, body, durable=False)
