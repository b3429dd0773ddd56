"""One project's search index: SQLite FTS5 beside the JSONL, which stays the record.

The index keeps no event's text. A contentless FTS5 table maps words to row numbers, and a
row says where its event is: the run, its number, its day file and the byte offset of its
line. A hit's text is read back from the JSONL, so the index is a fraction of the JSONL's
size and cannot disagree with it. Plan task descriptions (small, and edited) sit in a table
of their own with their text.

Catching up is the one way in: from each run's day files, from the offset indexed last, to
the last complete line. Built from nothing, caught up after a crash, or kept current while a
run streams, it is the same code, so a rebuilt index equals an incremental one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmdesk.engine.search.query import Query
from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import Plan, parse_ts
from pmdesk.store import StateStore
from pmdesk.store.jsonl import day_files
from pmdesk.store.safe_files import DamagedFileError, open_for_reading

VERSION = "4"  # 4: a line's row is its time (ms << SLOTS_BITS) and its place in that millisecond
KINDS = ("prompt", "question", "answer", "assistant", "tool", "output", "gate", "task")
_CODE = {kind: code for code, kind in enumerate(KINDS)}
EVENT_KINDS = {  # an event's kind → what the user searches it as (status and system lines are not searched, nor
    # Claude Code's result line, which repeats the turn's last agent text)
    "question": "question", "permission": "question", "answer": "answer", "decision": "answer",
    "assistant": "assistant", "tool_use": "tool", "tool_result": "output",
    "stdout": "output", "stderr": "output", "gate": "gate",
}
_EVENT_CODES = {name: _CODE[kind] for name, kind in EVENT_KINDS.items()}
_BATCH = 2000  # lines a write transaction takes at most: a reader (or the recorder's disk) waits no longer
_READ = 1024 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, run_id TEXT UNIQUE NOT NULL, plan_id TEXT,
                                done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS files(run INTEGER NOT NULL, day INTEGER NOT NULL, offset INTEGER NOT NULL,
                                 PRIMARY KEY(run, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hits(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, seq INTEGER NOT NULL,
                                ts INTEGER NOT NULL, kind INTEGER NOT NULL, day INTEGER, offset INTEGER);
CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(text, content='', columnsize=0, tokenize='unicode61');
CREATE TABLE IF NOT EXISTS plans(plan_id TEXT PRIMARY KEY, stamp TEXT) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS tasks USING fts5(text, plan_id UNINDEXED, task_id UNINDEXED,
                                                    ts UNINDEXED, tokenize='unicode61');
"""


SLOTS_BITS = 12
SLOTS = 1 << SLOTS_BITS  # lines of one project in one millisecond (a flood writes ~100)
NEVER_MS = 1 << 42  # later than any line (the year 2109): with SLOTS_BITS, rows stay below 2**63


def row_of(ms: int, place: int) -> int:
    """A line's row: its millisecond, then its place among that millisecond's lines."""
    return (ms << SLOTS_BITS) | place


class IndexBusyError(PmdeskError):
    kind = ErrorKind.BUSY
    code = "search.index_busy"


class IndexDamagedError(PmdeskError):
    kind = ErrorKind.DAMAGED
    code = "search.index_damaged"


@dataclass(slots=True)
class Found:
    """A hit as the index has it; ``text`` is filled from the record."""

    kind: str
    ts_ms: int
    run_id: str | None = None
    plan_id: str | None = None
    task_id: str | None = None
    seq: int | None = None
    text: str = ""
    day: int | None = None
    offset: int | None = None
    row: int = 0  # its row in the index: with ts_ms and the project, its place among hits (see ``tie``)

    @property
    def at_ms(self) -> int:
        """The millisecond it is ordered by: a line's row's (its own, unless a flood filled that
        millisecond and it went into a later one); a task's time."""
        return self.row >> SLOTS_BITS if self.kind != "task" else self.ts_ms

    def tie(self, project_id: str) -> str:
        """What orders the hits of one millisecond, the same way on every page and in the SQL:
        by project, then lines before plan tasks, then the row, newest last."""
        return f"{project_id}/{'T' if self.kind == 'task' else 'L'}{self.row:019d}"


Below = tuple[int, str]  # a page's cursor: (at_ms, tie) of the last hit it showed


def _ms(ts: Any) -> int:
    when = parse_ts(ts) if isinstance(ts, str) else None
    return int(when.timestamp() * 1000) if when else 0


def _day(path: Path) -> int | None:
    """A day file's name as a number (2026-12-01.jsonl → 20261201), or None for another file."""
    stem = path.name.removesuffix(".jsonl")
    digits = stem.replace("-", "")
    return int(digits) if len(stem) == 10 and digits.isdigit() else None


def _day_name(day: int) -> str:
    text = f"{day:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}.jsonl"


class SearchIndex:
    """The index of one project's state directory; safe to use from several threads (a
    connection each) and several processes (SQLite's locks, a writer at a time)."""

    def __init__(self, store: StateStore, stopping: threading.Event | None = None) -> None:
        self.store = store
        self.stopping = stopping or threading.Event()  # set when pmdesk quits: a long catch-up ends early
        self.path = store.state_dir / "index" / "search.sqlite"
        self._events = store.state_dir / "events"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self.rebuilt: str | None = None  # why the index was last built again (told once with the next results)

    # -- the database --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    _retrying(lambda: conn.execute("PRAGMA journal_mode=WAL"))  # asks no busy handler
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA journal_size_limit={1 << 20}")  # the WAL shrinks back after a checkpoint
                conn.executescript(_SCHEMA)
                row = conn.execute("SELECT value FROM info WHERE key='version'").fetchone()
                if row is None:
                    conn.execute("INSERT OR IGNORE INTO info VALUES('version', ?)", (VERSION,))
                elif row[0] != VERSION:
                    raise sqlite3.DatabaseError(f"index version {row[0]}, this pmdesk writes {VERSION}")
            except sqlite3.DatabaseError:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def release(self) -> None:
        """Close the calling thread's connection: a quiet project's schema and pages (~150 KiB)
        are not held for the next search or run; the next use opens another."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock, contextlib.suppress(ValueError):
            self._connections.remove(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def drop(self) -> None:
        """Remove the index (it is derived: everything in it comes back from the JSONL)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def guarded(self, work: Any) -> Any:
        """``work(conn)``; an index that is damaged, foreign or of another version is dropped and
        built again from the JSONL, once, and the work done on the new one."""
        try:
            return work(self._conn())
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise IndexBusyError(f"the search index of {self.store.state_dir.parent.parent.name} is busy "
                                     "(another pmdesk is writing it); try again in a moment") from exc
            self.drop()
            what = "of another version" if str(exc).startswith("index version") else "damaged"
            self.rebuilt = f"the search index was {what} ({exc}) and was built again from the records"
            try:
                self._catch_up(None)
                return work(self._conn())
            except sqlite3.DatabaseError as again:
                raise IndexDamagedError(f"the search index {self.path} cannot be built: {again}") from again

    # -- catching up with the record -----------------------------------------------------------

    def catch_up(self, run_ids: Iterable[str] | None = None) -> int:
        """Index what the record has that the index has not; returns the rows added. ``run_ids``:
        only these runs (the ones at work); otherwise every run not yet indexed to its end, and the plans."""
        added: int = self.guarded(lambda _conn: self._catch_up(run_ids)[0])
        return added

    def catch_up_some(self, run_ids: list[str] | None, max_lines: int) -> list[str]:
        """At most ``max_lines`` lines of these runs (None: of every run, and the plans) now;
        returns the runs with lines left."""
        behind: list[str] = self.guarded(lambda _conn: self._catch_up(run_ids, max_lines)[1])
        return behind

    def _catch_up(self, run_ids: Iterable[str] | None, max_lines: int | None = None) -> tuple[int, list[str]]:
        conn = self._conn()
        known = {run_id: (row_id, done) for row_id, run_id, done in conn.execute("SELECT id, run_id, done FROM runs")}
        if run_ids is None:
            summaries = sorted(self.store.list_runs(keep=False), key=lambda s: s.created_at)  # rowids in time order
            todo = [s.run_id for s in summaries if not known.get(s.run_id, (0, 0))[1]]
            self._plans(conn)
        else:
            todo = list(run_ids)
        added = 0
        budget = [max_lines] if max_lines is not None else None
        behind: list[str] = []
        for run_id in todo:
            if self.stopping.is_set() or (budget is not None and budget[0] <= 0):
                behind.append(run_id)
                continue
            added += self._run(conn, run_id, known.get(run_id), budget)
            if budget is not None and budget[0] <= 0:
                behind.append(run_id)  # it may have more
        return added, behind

    def _run(self, conn: sqlite3.Connection, run_id: str, known: tuple[int, int] | None,
             budget: list[int] | None = None) -> int:
        if budget is not None:
            budget[0] -= 1  # reading the run's record counts as a line: a step over 100,000 quiet runs is bounded too
        try:
            run = self.store.get_run(run_id)
        except PmdeskError:
            return 0  # gone or damaged: the store reports it where it is read
        added = 0
        if known is None:
            with _writing(conn):
                cur = conn.execute("INSERT OR IGNORE INTO runs(run_id, plan_id) VALUES(?, ?)", (run_id, run.plan_id))
                row_id = int(cur.lastrowid if cur.rowcount and cur.lastrowid else conn.execute(
                    "SELECT id FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])
                if cur.rowcount and run.prompt.strip():  # a run's prompt, once (another process may have been first)
                    self._insert(conn, [(row_id, 0, _ms(run.created_at), _CODE["prompt"], None, None, run.prompt)])
                    added = 1
        else:
            row_id = known[0]
        offsets = dict(conn.execute("SELECT day, offset FROM files WHERE run=?", (row_id,)).fetchall())
        for path in day_files(self._events / run_id):
            day = _day(path)
            if day is not None:
                added += self._file(conn, row_id, path, day, offsets.get(day, 0), budget)
        done = 1 if run.status.is_terminal and not (budget is not None and budget[0] <= 0) else 0
        if known is None or known[1] != done:
            with _writing(conn):
                conn.execute("UPDATE runs SET done=? WHERE id=?", (done, row_id))
        return added

    def _file(self, conn: sqlite3.Connection, row_id: int, path: Path, day: int, start: int,
              budget: list[int] | None = None) -> int:
        try:
            fd = open_for_reading(path)
        except (FileNotFoundError, DamagedFileError):
            return 0
        added = 0
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            while start < size and not self.stopping.is_set() and not (budget is not None and budget[0] <= 0):
                handle.seek(start)
                chunk = handle.read(min(_READ, size - start))
                end = chunk.rfind(b"\n") + 1
                if not end:
                    if len(chunk) < _READ:
                        break  # a line still being written: the next catch-up takes it
                    end = len(chunk)  # one line longer than a read: skipped, never indexed in part
                if budget is None:
                    rows = list(_rows(row_id, day, start, chunk[:end]))
                else:  # as many lines as the budget allows; the offset moves just past the last one
                    rows = list(itertools.islice(_rows(row_id, day, start, chunk[:end]), budget[0]))
                    if len(rows) == budget[0]:
                        end = rows[-1][5] + rows[-1][7] - start
                    budget[0] -= len(rows)
                ends = [row[5] + row[7] for row in rows]  # where each searchable line ends
                at = start
                for i in range(0, max(len(rows), 1), _BATCH):
                    batch = rows[i:i + _BATCH]
                    upto = start + end if i + _BATCH >= len(rows) else ends[i + _BATCH - 1]
                    with _writing(conn):
                        # Read again under the write lock: another thread or process catching up the
                        # same file went first if the offset moved, and its lines are not indexed twice.
                        found = conn.execute("SELECT offset FROM files WHERE run=? AND day=?", (row_id, day)).fetchone()
                        current = found[0] if found else 0
                        if current != at:
                            break
                        self._insert(conn, batch)
                        conn.execute("INSERT OR REPLACE INTO files VALUES(?, ?, ?)", (row_id, day, upto))
                    added += len(batch)
                    at = upto
                else:
                    start += end
                    continue
                start = current  # on from where the other one got to
        return added

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Each line's row is its millisecond and its place in it (``row_of``), so the index's
        own order is time order: the newest hits are the highest rows, found without a sort,
        however the runs were caught up (together, late, by another process)."""
        if not rows:
            return
        taken: dict[int, int] = {}  # a millisecond → the next free place in it
        ids = []
        for row in rows:
            ms = max(0, row[2])
            while True:
                place = taken.get(ms)
                if place is None:
                    last = conn.execute("SELECT max(id) FROM hits WHERE id >= ? AND id < ?",
                                        (row_of(ms, 0), row_of(ms + 1, 0))).fetchone()[0]
                    place = 0 if last is None else last - row_of(ms, 0) + 1
                if place < SLOTS:
                    break
                taken[ms] = SLOTS
                ms += 1  # a millisecond that is full: the line goes into the next
            taken[ms] = place + 1
            ids.append(row_of(ms, place))
        conn.executemany("INSERT INTO hits VALUES(?, ?, ?, ?, ?, ?, ?)", [(i, *row[:6]) for i, row in zip(ids, rows, strict=True)])
        conn.executemany("INSERT INTO words(rowid, text) VALUES(?, ?)", [(i, row[6]) for i, row in zip(ids, rows, strict=True)])

    def _plans(self, conn: sqlite3.Connection) -> None:
        """Plan task descriptions: a plan written since it was indexed is indexed again; one that
        is gone (deleted to the trash) leaves the index."""
        stamps = dict(conn.execute("SELECT plan_id, stamp FROM plans").fetchall())
        current = {p.plan_id: p.updated_at or p.created_at for p in self.store.list_plans()}
        for plan_id in set(stamps) - set(current):
            with _writing(conn):
                conn.execute("DELETE FROM tasks WHERE plan_id=?", (plan_id,))
                conn.execute("DELETE FROM plans WHERE plan_id=?", (plan_id,))
        for plan_id, stamp in current.items():
            if stamps.get(plan_id) != stamp:
                try:
                    self.index_plan(self.store.get_plan(plan_id), conn)
                except PmdeskError:
                    continue

    def index_plan(self, plan: Plan, conn: sqlite3.Connection | None = None) -> None:
        conn = conn or self._conn()
        ts = str(_ms(plan.created_at))
        with _writing(conn):
            conn.execute("DELETE FROM tasks WHERE plan_id=?", (plan.plan_id,))
            conn.executemany("INSERT INTO tasks(text, plan_id, task_id, ts) VALUES(?, ?, ?, ?)",
                             [(t.description, plan.plan_id, t.task_id, ts) for t in plan.tasks])
            conn.execute("INSERT OR REPLACE INTO plans VALUES(?, ?)", (plan.plan_id, plan.updated_at or plan.created_at))

    # -- reading -------------------------------------------------------------------------------

    def search(self, query: Query, kinds: set[str] | None = None, since_ms: int = 0, limit: int = 50,
               below: Below | None = None, project_id: str = "") -> list[Found]:
        """The ``limit`` newest hits, without their text (``fill`` reads it for the hits that are
        shown), in the order of (``Found.at_ms``, ``Found.tie``); ``below``: only those after a page's last
        hit in that order (the next page). A line's row is its time (``_insert``), so the newest
        are read in the index's own order and no further; rows numbered as lines were caught up
        were not in time order, and a page taken by row skipped newer hits."""
        def order(mark: str) -> tuple[int, int]:
            """Where this project's hits of a kind (lines L, tasks T) stand to the cursor within its
            millisecond: (-1 all come after it | 1 none does | 0 the row decides, row)."""
            assert below is not None
            tie0 = below[1]
            mine = f"{project_id}/{mark}"
            if mine != tie0[:len(mine)]:
                return (-1 if mine < tie0[:len(mine)] else 1), 0
            return 0, int(tie0[len(mine):] or 0)

        def work(conn: sqlite3.Connection) -> list[Found]:
            found: list[Found] = []
            codes = sorted(_CODE[k] for k in (kinds or set(KINDS)) if k != "task")
            ts0 = below[0] if below is not None else NEVER_MS
            if codes:
                where = f" AND r.kind IN ({','.join(map(str, codes))})" if len(codes) < len(KINDS) - 1 else ""
                # A line's row is its time: the index's own order, read from the newest and no further.
                top = row_of(ts0, 0) - 1
                if below is not None:
                    side, row0 = order("L")
                    top = row_of(ts0 + 1, 0) - 1 if side < 0 else row0 - 1 if side == 0 else top
                sql = ("SELECT r.kind, r.ts, n.run_id, n.plan_id, r.seq, r.day, r.offset, r.id FROM words "
                       "CROSS JOIN hits r ON r.id = words.rowid JOIN runs n ON n.id = r.run "
                       f"WHERE words MATCH ? AND words.rowid <= ? AND r.ts >= ?{where} "
                       "ORDER BY words.rowid DESC LIMIT ?")
                for kind, ts, run_id, plan_id, seq, day, offset, row in conn.execute(
                        sql, (query.match, top, since_ms, limit)):
                    found.append(Found(KINDS[kind], ts, run_id, plan_id, None, seq if day is not None else None,
                                       day=day, offset=offset, row=row))
            if kinds is None or "task" in kinds:
                side, row0 = order("T") if below is not None else (1, 0)
                row0 = 1 << 62 if side < 0 else row0 if side == 0 else 0
                sql = ("SELECT plan_id, task_id, ts, text, rowid FROM tasks WHERE tasks MATCH ? "
                       "AND CAST(ts AS INTEGER) >= ? AND (CAST(ts AS INTEGER) < ? OR (CAST(ts AS INTEGER) = ? "
                       "AND rowid < ?)) ORDER BY CAST(ts AS INTEGER) DESC, rowid DESC LIMIT ?")
                for plan_id, task_id, ts, text, row in conn.execute(sql, (query.match, since_ms, ts0, ts0, row0,
                                                                          limit)):
                    found.append(Found("task", int(ts), None, plan_id, task_id, None, text, row=row))
            return found

        found: list[Found] = self.guarded(work)
        found.sort(key=lambda h: (h.at_ms, h.tie(project_id)), reverse=True)
        return found[:limit]

    def fill(self, hit: Found) -> None:
        """The hit's text, read back from the record (only for the hits that are shown)."""
        if hit.kind == "prompt" and hit.run_id:
            with contextlib.suppress(PmdeskError):
                hit.text = self.store.get_run(hit.run_id).prompt
        elif hit.run_id and hit.day is not None and hit.offset is not None:
            hit.text = self._line_text(hit.run_id, hit.day, hit.offset)

    def _line_text(self, run_id: str, day: int, offset: int) -> str:
        try:
            fd = open_for_reading(self._events / run_id / _day_name(day))
        except (FileNotFoundError, DamagedFileError, OSError):
            return ""
        with os.fdopen(fd, "rb") as handle:
            handle.seek(offset)
            line = handle.readline(_READ)
        try:
            record = json.loads(line)
        except ValueError:
            return ""
        return str(record.get("text", "")) if isinstance(record, dict) else ""

    def compact(self) -> None:
        """Merge the index's segments, give back the pages they freed and shrink the WAL (after a
        build from nothing, when nobody else writes it yet)."""
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO words(words) VALUES('optimize')")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.guarded(work)

    def size(self) -> int:
        return sum(Path(f"{self.path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{self.path}{s}").exists())

    def counts(self) -> tuple[int, int]:
        """(rows, runs) indexed: for tests and the benchmark."""
        conn = self._conn()
        return (conn.execute("SELECT count(*) FROM hits").fetchone()[0],
                conn.execute("SELECT count(*) FROM runs").fetchone()[0])


def _retrying(work: Any, attempts: int = 50) -> Any:
    """``work()``, again after a moment while another connection holds the lock it needs."""
    for attempt in range(attempts):
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)
    return None


@contextlib.contextmanager
def _writing(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (BEGIN IMMEDIATE): two processes catching up the same
    run take turns, and the second starts from the offset the first wrote."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _rows(run: int, day: int, base: int, chunk: bytes) -> Iterator[tuple[Any, ...]]:
    """The searchable lines of a chunk of a day file: the row, with the byte offset and length of its line."""
    offset = 0
    loads = json.loads
    codes = _EVENT_CODES
    last_ts, last_ms = None, 0  # the lines of a segment share one timestamp
    for line in chunk.splitlines(keepends=True):
        at, offset = offset, offset + len(line)
        if b'"text":""' in line:
            continue
        try:
            record = loads(line)
        except ValueError:
            continue  # a fragment of a crashed write
        if not isinstance(record, dict):
            continue
        code = codes.get(record.get("kind"))  # type: ignore[arg-type]
        text = record.get("text")
        seq = record.get("seq")
        if code is None or not isinstance(text, str) or not text.strip() or type(seq) is not int:
            continue
        ts = record.get("ts")
        if ts != last_ts:
            last_ts, last_ms = ts, _ms(ts)
        yield (run, seq, last_ms, code, day, base + at, text, offset - at)
