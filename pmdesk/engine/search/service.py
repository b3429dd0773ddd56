"""Search over every registered project: one index each, queried side by side, newest first.

A project removed from the registry is not asked, so it leaves the results at once. The
JSONL is the record; an index that is missing, damaged or stale is caught up or built again
from it (``reindex``), never the other way round.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import Field

from pmdesk.engine.context import EngineContext
from pmdesk.engine.listing import decode_cursor, encode_mark
from pmdesk.engine.search.index import KINDS, Found, SearchIndex
from pmdesk.engine.search.query import Query, parse_query
from pmdesk.errors import BadQueryError, PmdeskError
from pmdesk.models import Model, Project, parse_ts

SNIPPET = 160  # characters of context shown around the first hit in a line

T = TypeVar("T")


class SearchHit(Model):
    project_id: str
    project_name: str
    kind: str
    ts: str
    run_id: str | None = None
    plan_id: str | None = None
    task_id: str | None = None
    seq: int | None = None
    text: str = ""  # the hit's line (a snippet of it when long)
    spans: list[tuple[int, int]] = Field(default_factory=list)  # where the query's terms are in ``text``


class SearchResult(Model):
    query: str
    hits: list[SearchHit] = Field(default_factory=list)
    took_ms: float = 0.0
    notes: list[str] = Field(default_factory=list)  # e.g. a damaged index that was built again
    next: str | None = None  # the cursor of the next page of hits (None: no more)


class Reindexed(Model):
    project_id: str
    project_name: str
    rows: int
    runs: int
    bytes: int
    seconds: float


def parse_kinds(kinds: list[str] | None) -> set[str] | None:
    if not kinds:
        return None
    wanted = {k.strip().lower() for part in kinds for k in part.split(",") if k.strip()}
    unknown = wanted - set(KINDS)
    if unknown:
        raise BadQueryError(f"unknown kind {', '.join(sorted(unknown))}: choose from {', '.join(KINDS)}")
    return wanted


def parse_since(since: str | None) -> int:
    if not since:
        return 0
    when = parse_ts(since)
    if when is None:
        raise BadQueryError(f"{since!r} is not a date: give YYYY-MM-DD or an ISO 8601 time")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def snippet(text: str, query: Query) -> tuple[str, list[tuple[int, int]]]:
    """The line, or the part of it around its first hit, with the hits' places in it."""
    text = text.replace("\n", " ")
    spans = query.spans(text)
    if len(text) <= SNIPPET * 2:
        return text, spans
    centre = spans[0][0] if spans else 0
    start = max(0, centre - SNIPPET // 2)
    end = min(len(text), start + SNIPPET * 2)
    lead, tail = ("…" if start else ""), ("…" if end < len(text) else "")
    shift = len(lead) - start
    part = lead + text[start:end] + tail
    kept = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return part, kept


class SearchService:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self._indexes: dict[str, SearchIndex] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # pmdesk quits: catching up ends at the next batch
        self._thread: ThreadPoolExecutor | None = None

    async def in_thread(self, work: Callable[[], T]) -> T:
        """``work`` on the searches' one thread: each thread that reads an index holds a connection
        to it, so a pool's threads would each hold one per project (hundreds with 50 projects)."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmdesk-search")
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def index(self, project: Project) -> SearchIndex:
        with self._lock:
            found = self._indexes.get(project.project_id)
            if found is None:
                found = self._indexes[project.project_id] = SearchIndex(self.ctx.store(project), self.stopping)
            return found

    def forget(self, project_id: str) -> None:
        with self._lock:
            found = self._indexes.pop(project_id, None)
        if found is not None:
            found.close()

    def close(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None
        for project_id in list(self._indexes):
            self.forget(project_id)

    def search(self, projects: list[Project], text: str, kinds: list[str] | None = None,
               since: str | None = None, limit: int = 50, catch_up: bool = False,
               building: bool = False, after: str | None = None) -> SearchResult:
        """Blocking (call it in a thread). ``catch_up``: index what is new first (a process with
        no indexer of its own, like the command line, does). ``building``: the indexer's first pass
        is not done, which the result says."""
        began = time.perf_counter()
        query = parse_query(text)
        wanted, since_ms = parse_kinds(kinds), parse_since(since)
        limit = max(1, min(int(limit), 500))
        before = _decode_after(after) if after else None
        result = SearchResult(query=text)
        if building:
            result.notes.append("the search index is still being built: older hits may be missing for a moment")
        found: list[tuple[Project, Found]] = []
        for project in projects:
            if not Path(project.path).is_dir():
                continue
            index = self.index(project)
            try:
                if catch_up:
                    index.catch_up()
                found.extend((project, hit) for hit in index.search(query, wanted, since_ms, limit + 1, before,
                                                                     project.project_id))
            except PmdeskError as exc:
                result.notes.append(f"{project.name}: {exc}")
            if index.rebuilt:
                result.notes.append(f"{project.name}: {index.rebuilt}")
                index.rebuilt = None
        found.sort(key=lambda pair: (pair[1].at_ms, pair[1].tie(pair[0].project_id)), reverse=True)
        if len(found) > limit:
            project, last = found[limit - 1]
            result.next = _encode_after(last.at_ms, last.tie(project.project_id))
        for project, hit in found[:limit]:
            if not hit.text:
                self.index(project).fill(hit)
            part, spans = snippet(hit.text, query)
            result.hits.append(SearchHit(
                project_id=project.project_id, project_name=project.name, kind=hit.kind,
                ts=datetime.fromtimestamp(hit.ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                run_id=hit.run_id, plan_id=hit.plan_id, task_id=hit.task_id, seq=hit.seq, text=part, spans=spans))
        result.took_ms = round((time.perf_counter() - began) * 1000, 2)
        return result

    def reindex(self, projects: list[Project]) -> list[Reindexed]:
        """Build each project's index again from its JSONL (blocking)."""
        done: list[Reindexed] = []
        for project in projects:
            if not Path(project.path).is_dir():
                continue
            began = time.perf_counter()
            index = self.index(project)
            index.drop()
            index.catch_up()
            index.compact()
            rows, runs = index.counts()
            done.append(Reindexed(project_id=project.project_id, project_name=project.name, rows=rows, runs=runs,
                                  bytes=index.size(), seconds=round(time.perf_counter() - began, 3)))
        return done


def _encode_after(ts_ms: int, tie: str) -> str:
    return encode_mark((str(ts_ms), tie))


_TIE = re.compile(r"[^/]+/[LT]\d{19}")


def _decode_after(cursor: str) -> tuple[int, str]:
    ts, tie = decode_cursor(cursor)
    try:
        if not _TIE.fullmatch(tie):
            raise ValueError(tie)
        return int(ts), tie
    except ValueError:
        raise BadQueryError(f"{cursor[:40]!r} is not a cursor of a search: start again without 'after'") from None
