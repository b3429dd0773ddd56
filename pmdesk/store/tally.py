"""Kept summaries of a listing: what an overview shows, updated as rows change.

The listing index keeps a tally beside its rows (``<dir>.tally.json``), updated from the rows
that changed since the last listing, so a dashboard of 50 projects reads 50 small files instead
of counting 50 listings. A tally is rebuilt from every row whenever it is missing, stale or
cannot be updated exactly (a row that held a maximum was taken away). Money is kept in whole
nanodollars, so a tally updated a thousand times equals one rebuilt from the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Protocol, Self

from pmdesk.models import ExecutorKind, TaskState
from pmdesk.store.summaries import PlanSummary, RunSummary

METERED = frozenset({ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT})
NANO = 1_000_000_000
_ENDED = (TaskState.COMPLETE, TaskState.ERROR)


def counts_cost(run: RunSummary) -> bool:
    """A model run with something to count: a cost or tokens reported, or an end after a start
    (then a missing cost is unknown). A run at work that has reported nothing yet is left out."""
    return run.executor in METERED and \
        (run.cost_usd is not None or run.total_tokens > 0 or (run.status.is_terminal and bool(run.started_at)))


def run_day(run: RunSummary) -> str:
    return (run.started_at or run.created_at or "")[:10]


class Tally(Protocol):
    """What the listing index needs of a kept summary."""

    VERSION: ClassVar[int]

    @classmethod
    def build(cls, rows: Iterable[Any]) -> Self: ...

    def update(self, gone: list[Any], came: list[Any]) -> bool: ...

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self: ...


class RunTally:
    """Counts by status, the newest change, the last run to end, and cost by day (UTC)."""

    VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.total = 0
        self.states: dict[str, int] = {}
        self.last_activity = ""
        self.last_ended: tuple[str, str, str] | None = None  # (when, status, run id)
        self.days: dict[str, list[int]] = {}  # day -> [runs, priced, unpriced, tokens, nanodollars]

    @classmethod
    def build(cls, rows: Iterable[RunSummary]) -> RunTally:
        tally = cls()
        for run in rows:
            tally._add(run)
        return tally

    def update(self, gone: list[RunSummary], came: list[RunSummary]) -> bool:
        """Take ``gone`` out and put ``came`` in; False when only a rebuild can be exact."""
        for run in gone:
            if not self._take(run):
                return False
        for run in came:
            self._add(run)
        return True

    def count(self, state: TaskState) -> int:
        return self.states.get(state.value, 0)

    def any_live(self) -> bool:
        """Whether any run is QUEUED, RUNNING or AWAITING_RESPONSE: what start-up recovery looks at."""
        return any(self.states.get(s.value) for s in (TaskState.QUEUED, TaskState.RUNNING, TaskState.AWAITING_RESPONSE))

    def _add(self, run: RunSummary) -> None:
        self.total += 1
        self.states[run.status.value] = self.states.get(run.status.value, 0) + 1
        self.last_activity = max(self.last_activity, run.updated_at or run.created_at or "")
        if run.status in _ENDED:
            ended = (run.ended_at or run.created_at or "", run.status.value, run.run_id)
            if self.last_ended is None or (ended[0], ended[2]) > (self.last_ended[0], self.last_ended[2]):
                self.last_ended = ended
        if counts_cost(run):
            day = self.days.setdefault(run_day(run), [0, 0, 0, 0, 0])
            day[0] += 1
            day[3] += run.total_tokens
            if run.cost_usd is None:
                day[2] += 1
            else:
                day[1] += 1
                day[4] += round(run.cost_usd * NANO)

    def _take(self, run: RunSummary) -> bool:
        if (self.last_ended is not None and self.last_ended[2] == run.run_id) or \
                (run.updated_at or run.created_at or "") == self.last_activity:
            return False  # it may have held a maximum: what is next is only known from every row
        self.total -= 1
        left = self.states.get(run.status.value, 0) - 1
        if left < 0:
            return False
        if left:
            self.states[run.status.value] = left
        else:
            self.states.pop(run.status.value, None)
        if counts_cost(run):
            day = self.days.get(run_day(run))
            if day is None:
                return False
            day[0] -= 1
            day[3] -= run.total_tokens
            if run.cost_usd is None:
                day[2] -= 1
            else:
                day[1] -= 1
                day[4] -= round(run.cost_usd * NANO)
            if not day[0]:
                del self.days[run_day(run)]
        return True

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "states": self.states, "lastActivity": self.last_activity,
                "lastEnded": list(self.last_ended) if self.last_ended else None, "days": self.days}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunTally:
        tally = cls()
        tally.total = int(data["total"])
        tally.states = {str(k): int(v) for k, v in dict(data["states"]).items()}
        tally.last_activity = str(data["lastActivity"])
        ended = data.get("lastEnded")
        tally.last_ended = (str(ended[0]), str(ended[1]), str(ended[2])) if ended else None
        tally.days = {str(k): [int(x) for x in v][:5] for k, v in dict(data["days"]).items()}
        if any(len(v) != 5 for v in tally.days.values()) or tally.total < 0:
            raise ValueError("a damaged tally")
        return tally

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunTally) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"RunTally({self.to_json()!r})"

    __hash__ = None  # type: ignore[assignment]


class PlanTally:
    """How many plans, and the newest change to one."""

    VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.total = 0
        self.last_activity = ""

    @classmethod
    def build(cls, rows: Iterable[PlanSummary]) -> PlanTally:
        tally = cls()
        for plan in rows:
            tally.total += 1
            tally.last_activity = max(tally.last_activity, plan.updated_at or plan.created_at or "")
        return tally

    def update(self, gone: list[PlanSummary], came: list[PlanSummary]) -> bool:
        if any((p.updated_at or p.created_at or "") == self.last_activity for p in gone):
            return False
        self.total -= len(gone)
        for plan in came:
            self.total += 1
            self.last_activity = max(self.last_activity, plan.updated_at or plan.created_at or "")
        return self.total >= 0

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "lastActivity": self.last_activity}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanTally:
        tally = cls()
        tally.total = int(data["total"])
        tally.last_activity = str(data["lastActivity"])
        return tally

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlanTally) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"PlanTally({self.to_json()!r})"

    __hash__ = None  # type: ignore[assignment]
