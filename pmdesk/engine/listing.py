"""Pages of a project's runs, never the whole list: filtered, sorted, and continued by a cursor.

The cursor names the last run a page showed (its creation time and id), so the next page
starts right after it whatever was written meanwhile: every run that existed when paging
began is seen exactly once, and a run made since is never seen twice. The CLI, the API and
the window page through this one function, so their filters and orders agree.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from pmdesk.errors import BadQueryError
from pmdesk.models import ActivityEvent, ExecutorKind, TaskState
from pmdesk.store import RunSummary, StateStore

T = TypeVar("T")
Order = Literal["newest", "oldest"]
ORDERS: tuple[Order, ...] = ("newest", "oldest")
DEFAULT_PAGE = 200
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: TaskState | None = None
    executor: ExecutorKind | None = None
    plan_id: str | None = None
    text: str | None = None  # in the prompt (or the question, or the error), any case

    def accepts(self) -> Callable[[RunSummary], bool]:
        needle = (self.text or "").casefold()

        def accepted(run: RunSummary) -> bool:
            return ((self.status is None or run.status == self.status)
                    and (self.executor is None or run.executor == self.executor)
                    and (self.plan_id is None or run.plan_id == self.plan_id)
                    and (not needle or needle in run.prompt.casefold()
                         or needle in (run.question or "").casefold() or needle in (run.error or "").casefold()))
        return accepted


@dataclass(slots=True)
class RunPage:
    items: list[RunSummary] = field(default_factory=list)
    next: str | None = None  # the cursor of the page after this one (None: this is the last)
    total: int = 0  # runs that pass the filter, on every page


def parse_filter(status: str | None = None, executor: str | None = None, plan_id: str | None = None,
                 text: str | None = None) -> RunFilter:
    """A filter from words a user typed; a value pmdesk does not know is refused with what it knows."""
    try:
        wanted = TaskState(status.upper()) if status else None
    except ValueError:
        raise BadQueryError(f"unknown status {status!r}: choose from {', '.join(s.value for s in TaskState)}") from None
    try:
        kind = ExecutorKind(executor) if executor else None
    except ValueError:
        raise BadQueryError(f"unknown executor {executor!r}: choose from "
                            f"{', '.join(k.value for k in ExecutorKind)}") from None
    return RunFilter(wanted, kind, plan_id or None, text or None)


def encode_cursor(run: RunSummary) -> str:
    return encode_mark((run.created_at, run.run_id))


def encode_mark(mark: tuple[str, str]) -> str:
    """A cursor: the (time, id) of the last item a page showed, as URL-safe text."""
    raw = json.dumps(list(mark), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, run_id = json.loads(raw)
        if isinstance(created, str) and isinstance(run_id, str):
            return created, run_id
    except (binascii.Error, ValueError, TypeError):
        pass
    raise BadQueryError(f"{cursor[:40]!r} is not a cursor pmdesk gave: start again without 'after'")


class _Ordered:
    """A listing sorted once: the runs ascending by (created, id), their keys for bisecting, and
    the totals of the filters asked of it."""

    def __init__(self, runs: list[RunSummary]) -> None:
        self.source = list(runs)  # as listed: the next listing is compared with it
        self.runs = sorted(runs, key=_key)
        self.keys = [_key(r) for r in self.runs]
        self.totals: dict[RunFilter, int] = {}


_ORDERED: list[_Ordered] = []  # a few listings, newest last
_KEEP = 8


def _ordered(runs: list[RunSummary]) -> _Ordered:
    """The same listing (the same summaries: a changed run is a new one) is sorted once, however
    many pages are asked of it. Comparing two listings of the same summaries is a pass of identity
    checks in C (a millisecond for 100,000)."""
    for i, found in enumerate(_ORDERED):
        if len(found.source) == len(runs) and found.source == runs:
            _ORDERED.append(_ORDERED.pop(i))
            return found
    found = _Ordered(runs)
    _ORDERED.append(found)
    del _ORDERED[:-_KEEP]
    return found


def page_runs(runs: list[RunSummary], wanted: RunFilter = RunFilter(), order: Order = "newest",
              after: str | None = None, limit: int = DEFAULT_PAGE) -> RunPage:
    """One page: the ``limit`` runs after the cursor in ``order``. The listing is sorted once and
    paged by bisection, so a page of 100,000 runs costs what reading the listing costs."""
    if order not in ORDERS:
        raise BadQueryError(f"unknown order {order!r}: choose from {', '.join(ORDERS)}")
    limit = max(1, min(limit, MAX_PAGE))
    newest = order == "newest"
    ordered = _ordered(runs)
    if after is not None:
        created, run_id = decode_cursor(after)
        mark = created + "\x00" + run_id
        positions: Iterable[int] = range(bisect.bisect_left(ordered.keys, mark) - 1, -1, -1) if newest \
            else range(bisect.bisect_right(ordered.keys, mark), len(ordered.runs))
    else:
        positions = range(len(ordered.runs) - 1, -1, -1) if newest else range(len(ordered.runs))
    everything = wanted == RunFilter()
    accepted = wanted.accepts()
    items: list[RunSummary] = []
    for i in positions:
        run = ordered.runs[i]
        if everything or accepted(run):
            items.append(run)
            if len(items) > limit:
                break
    total = ordered.totals.get(wanted)
    if total is None:
        total = ordered.totals[wanted] = len(runs) if everything else sum(1 for r in runs if accepted(r))
    more = len(items) > limit
    items = items[:limit]
    return RunPage(items, encode_cursor(items[-1]) if more else None, total)


def _key(run: RunSummary) -> str:
    return run.created_at + "\x00" + run.run_id  # ISO times of one width: the text orders as the time


@dataclass(slots=True)
class Page(Generic[T]):
    """A page of plans, packets or activity: the same cursors as runs, by (time, id)."""

    items: list[T] = field(default_factory=list)
    next: str | None = None
    total: int | None = None  # None where counting would read everything (the activity trail)


def page_of(items: Iterable[T], mark: Callable[[T], tuple[str, str]], order: Order = "newest",
            after: str | None = None, limit: int = DEFAULT_PAGE) -> Page[T]:
    """A page of a short listing (a project's plans or packets: hundreds, not 100,000), sorted here."""
    if order not in ORDERS:
        raise BadQueryError(f"unknown order {order!r}: choose from {', '.join(ORDERS)}")
    limit = max(1, min(limit, MAX_PAGE))
    newest = order == "newest"
    listed = sorted(items, key=mark, reverse=newest)
    if after is not None:
        at = decode_cursor(after)
        listed = [i for i in listed if (mark(i) < at if newest else mark(i) > at)]
    chosen = listed[:limit]
    more = len(listed) > limit
    return Page(chosen, encode_mark(mark(chosen[-1])) if more else None, None)


def page_activity(store: StateStore, after: str | None = None, limit: int = DEFAULT_PAGE) -> Page[ActivityEvent]:
    """The evidence trail newest first, a page at a time, read from the day files the page reaches."""
    limit = max(1, min(limit, MAX_PAGE))
    items, more = store.activity_before(decode_cursor(after) if after else None, limit)
    return Page(items, encode_mark((items[-1].ts, items[-1].activity_id)) if more and items else None, None)
