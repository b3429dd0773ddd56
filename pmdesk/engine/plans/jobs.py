"""The plans this process is working on: one job per plan, scheduling its tasks or verifying it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from pmdesk.engine.context import Lease
from pmdesk.models import Plan, Project, Run, TaskState


class Stoppable(Protocol):
    """What cancelling a verify stops: a gate process here, or the gates on a cluster's worker."""

    async def cancel(self) -> None: ...


class JobKind(StrEnum):
    SCHEDULE = "schedule"
    VERIFY = "verify"


@dataclass
class PlanJob:
    """The live scheduler (or verifier) of one plan in this process.

    ``changed`` is notified after every scheduling pass and when the job ends, so a follower
    waits on it (``Scheduler.follow``) instead of polling the store.
    """

    project: Project
    plan_id: str
    kind: JobKind
    lease: Lease
    limit: int = 1
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    cancelled: bool = False
    plan: Plan | None = None  # the latest this job has written or read
    signed: tuple[int, int, int] | None = None  # the plan file's signature when its mirror wrote or read ``plan``
    gates: list[Stoppable] = field(default_factory=list)  # verify's running gate and the next, or a cluster's
    runs: dict[str, Run] = field(default_factory=dict)  # the latest of its runs, as published
    reread: bool = True  # read every task's run from disk on the next pass, not only those published
    ahead: bool = False  # ``plan`` (mirrored in memory) holds task changes not yet written
    written_at: float = 0.0  # the loop's time of its last plan write
    seen: dict[str, TaskState] = field(default_factory=dict)  # run id → its status as the scheduler last took it
    starting: set[str] = field(default_factory=set)  # run ids this pass starts (and then writes)
    per_run: tuple[float | None, int | None] | None = None  # a run's estimate (cost, tokens), for its budgets
    placing: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # task id → its run being placed on a cluster

    async def tell_followers(self) -> None:
        async with self.changed:
            self.changed.notify_all()


PlanJobs = dict[str, PlanJob]
"""Plan id → its job. A plan has at most one: dispatching and verifying exclude each other."""
