"""One project's state directory: the spec's layout, atomic records, JSONL trails, an index.

A ``StateStore`` is bound to exactly one state directory, and refuses records that name
another project, so a plan of project A can never reach a run of project B.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from pmdesk.models import (
    ActivityEvent,
    Event,
    InspectionPacket,
    Model,
    Plan,
    Project,
    Run,
    Session,
    TaskState,
    event_ids,
    parse_ts,
    utc_now,
    validate_id,
)
from pmdesk.store.atomic import atomic_write_bytes
from pmdesk.store.errors import CorruptStateError, CrossProjectError, NotFoundError
from pmdesk.store.jsonl import append_payload, append_records, day_file, day_files, iter_records, tail_records
from pmdesk.store.listing_index import ListingIndex
from pmdesk.store.locks import OwnerLock, write_lock
from pmdesk.store.safe_files import DamagedFileError, read_bytes
from pmdesk.store.scrub import scrub
from pmdesk.store.summaries import (
    PacketSummary,
    PlanSummary,
    RunSummary,
    plan_from_row,
    run_from_row,
    summarize_packet,
    summarize_plan,
    summarize_run,
)
from pmdesk.store.tally import PlanTally, RunTally, Tally

SPEC_DIRS = ("projects", "sessions", "runs", "events", "plans", "inspection-packets")
EXTRA_DIRS = ("activity",)
MAX_RECORD_BYTES = 8 * 1024 * 1024


M = TypeVar("M", bound=Model)

_KINDS: dict[str, tuple[str, str]] = {
    # kind: (directory, id prefix)
    "run": ("runs", "run"),
    "plan": ("plans", "plan"),
    "session": ("sessions", "sess"),
    "packet": ("inspection-packets", "pkt"),
    "project": ("projects", "pidx"),
}


def state_dir_for(project_path: str | os.PathLike[str]) -> Path:
    return Path(project_path) / ".claude" / "state"


Signature = tuple[int, int, int]
"""A record file's identity: inode, modified (ns), size (``StateStore.signature``)."""


class StateProblem(Model):
    path: str
    kind: str
    message: str
    quarantined_to: str | None = None
    ts: str = ""


class StateStore:
    def __init__(self, state_dir: Path, project_id: str) -> None:
        self.state_dir = Path(state_dir)
        self.project_id = validate_id(project_id, "pidx")
        self.owner_lock = OwnerLock(self.state_dir)
        self._index = ListingIndex(self.state_dir)
        self._problems_seen: tuple[tuple[int, int, int] | None, int] = (None, 0)
        self._problems_path = str(self.state_dir / "quarantine" / "problems.jsonl")

    @classmethod
    def for_project(cls, project_path: str | os.PathLike[str], project_id: str) -> StateStore:
        return cls(state_dir_for(project_path), project_id)

    # -- layout -------------------------------------------------------------------

    def ensure_layout(self) -> None:
        for name in (*SPEC_DIRS, *EXTRA_DIRS, "index", "locks"):
            (self.state_dir / name).mkdir(parents=True, exist_ok=True)

    def _file(self, kind: str, item_id: str) -> Path:
        directory, prefix = _KINDS[kind]
        validate_id(item_id, prefix)
        # validate_id forbids separators and dots: the name cannot leave its folder.
        return self.state_dir / directory / f"{item_id}.json"

    def _events_dir(self, run_id: str) -> Path:
        validate_id(run_id, "run")
        return self.state_dir / "events" / run_id

    # -- problems and quarantine ----------------------------------------------------

    def _quarantine(self, path: Path, kind: str, message: str) -> CorruptStateError:
        target_dir = self.state_dir / "quarantine" / kind
        target_dir.mkdir(parents=True, exist_ok=True)
        stamp = utc_now().replace(":", "").replace("-", "")
        target = target_dir / f"{path.name}.{stamp}"
        moved: str | None = None
        try:
            shutil.move(str(path), str(target))
            moved = str(target)
        except OSError:
            moved = None
        problem = StateProblem(
            path=str(path), kind=kind, message=message, quarantined_to=moved, ts=utc_now()
        )
        problems = self.state_dir / "quarantine" / "problems.jsonl"
        try:
            append_records(problems, [problem.to_json_dict()])
        except DamagedFileError:  # the list of problems is itself damaged: set it aside too, once
            self._set_aside(problems)
            append_records(problems, [problem.to_json_dict()])
        where = f"; moved to {moved}" if moved else ""
        return CorruptStateError(f"{path.name}: {message}{where}", moved)

    def _set_aside(self, path: Path) -> None:
        """Move a damaged file out of the way, keeping it (never deleting it)."""
        stamp = utc_now().replace(":", "").replace("-", "")
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(f"{path.name}.damaged-{stamp}"))

    def tallies_unchanged(self) -> tuple[object, ...] | None:
        """A few stats that equal the last ones while neither kept tally (runs, plans) nor the
        problems changed, and the folders are at rest; None when the tallies must be asked."""
        runs = self._index.kept_unchanged("runs")
        plans = self._index.kept_unchanged("plans") if runs is not None else None
        if plans is None:
            return None
        try:
            st = os.stat(self._problems_path)
        except OSError:
            return runs, plans, None
        return runs, plans, (st.st_mtime_ns, st.st_size, st.st_ino)

    def problem_count(self) -> int:
        """How many problems are on record, counted again only when their file changes."""
        try:
            st = os.stat(self._problems_path)
        except OSError:
            return 0
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._problems_seen[0] != key:
            self._problems_seen = (key, len(self.problems()))
        return self._problems_seen[1]

    def problems(self) -> list[StateProblem]:
        out: list[StateProblem] = []
        for record in iter_records(self.state_dir / "quarantine", name="problems.jsonl"):
            try:
                out.append(StateProblem.model_validate(record))
            except ValidationError:
                continue
        return out

    def _append(self, path: Path, kind: str, lines: list[str]) -> int:
        """Append to a day file; one that is not a regular file is quarantined and a new one begun."""
        payload = (scrub("\n".join(lines)) + "\n").encode("utf-8", "replace") if lines else b""
        self._append_payload(path, kind, payload)
        return len(lines)

    def _append_payload(self, path: Path, kind: str, payload: bytes) -> None:
        try:
            append_payload(path, payload)
        except DamagedFileError as exc:
            self._quarantine(path, kind, exc.reason)
            append_payload(path, payload)

    def append_event_payload(self, run_id: str, payload: bytes) -> None:
        """Complete event lines, already encoded: the recorder's batches, each line scrubbed as it was
        recorded (``EventRecorder`` holds the same redactor). A second pass over a 100,000-line flood
        here cost 30 % of the run (``python -m benchmarks --only runs``)."""
        self._append_payload(day_file(self._events_dir(run_id)), "events", payload)

    def _load(self, path: Path, kind: str, model: type[M]) -> M:
        """Read and validate one record; anything unreadable is quarantined and raised."""
        try:
            data = read_bytes(path, MAX_RECORD_BYTES)
        except FileNotFoundError:
            raise NotFoundError(kind, path.stem) from None
        except DamagedFileError as exc:
            raise self._quarantine(path, kind, exc.reason) from None
        try:
            record = model.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "file"
            raise self._quarantine(path, kind, f"not a valid {kind} ({where}: {first['msg']})") from None
        id_field = {"run": "run_id", "plan": "plan_id", "session": "session_id",
                    "packet": "packet_id", "project": "project_id"}[kind]
        if getattr(record, id_field) != path.stem:
            raise self._quarantine(path, kind, f"file name does not match its id {getattr(record, id_field)!r}")
        if kind != "project" and getattr(record, "project_id", self.project_id) != self.project_id:
            raise CrossProjectError(f"{kind} {path.stem} belongs to another project")
        return record

    def _write(self, kind: str, item_id: str, record: M) -> M:
        """Write the record as it may be kept: with any secret in any field masked (``scrub``).
        Returns what was written, so callers publish and answer the masked record, never the raw one."""
        text = record.to_json()
        clean = scrub(text)
        atomic_write_bytes(self._file(kind, item_id), clean.encode("utf-8", "replace"))
        return record if clean is text else type(record).model_validate_json(clean)

    def contains(self, kind: str, item_id: str) -> bool:
        return self._file(kind, item_id).is_file()

    def signature(self, kind: str, item_id: str) -> Signature | None:
        """The record file's identity (inode, modified, size): every write replaces the file, so an
        unchanged signature means the record is as it was read or written then (None: no file)."""
        try:
            st = os.stat(self._file(kind, item_id))
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    # -- project record ---------------------------------------------------------------

    def get_project(self) -> Project:
        return self._load(self._file("project", self.project_id), "project", Project)

    def put_project(self, project: Project) -> None:
        if project.project_id != self.project_id:
            raise CrossProjectError("project record of another project")
        self._write("project", project.project_id, project)

    # -- runs ---------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        return self._load(self._file("run", run_id), "run", Run)

    def has_run(self, run_id: str) -> bool:
        return self.contains("run", run_id)

    def put_run(self, run: Run, checked: frozenset[tuple[str, str]] = frozenset()) -> Run:
        """``checked``: references known to be in this project (the record's as it was read)."""
        self._check_refs("run", run.run_id, run.project_id, _run_refs(run) - checked)
        run.updated_at = utc_now()
        return self._write("run", run.run_id, run)

    def update_run(self, run_id: str, change: Callable[[Run], Any]) -> Run:
        """Read-modify-write under the cross-process write lock."""
        with write_lock(self.state_dir):
            run = self.get_run(run_id)
            before, refs = run.status, _run_refs(run)
            change(run)
            _count_waiting(run, before)
            return self.put_run(run, refs)

    def _check_refs(self, kind: str, item_id: str, project_id: str, refs: Iterable[tuple[str, str]]) -> None:
        """The record is this project's and names only this project's records. A change checks only
        what it added: the references of the record it read were checked when they were written,
        and a plan of 50 tasks would otherwise stat 50 runs on every write."""
        if project_id != self.project_id:
            raise CrossProjectError(f"{kind} {item_id} names project {project_id}, not {self.project_id}")
        for ref_kind, ref in refs:
            if not self.contains(ref_kind, ref):
                raise CrossProjectError(f"{kind} {item_id} names {ref_kind} {ref}, which is not in this project")

    def list_runs(self, full: bool = False, keep: bool = True) -> list[RunSummary]:
        """Every run's summary; ``full`` re-checks every file (F5, --refresh); ``keep=False`` holds
        no copy for the next listing (a one-off reader of a project nobody has open)."""
        return self._listing("run", Run, summarize_run, run_from_row, full, RunTally, keep)

    def run_tally(self) -> RunTally:
        """The runs' kept summary (counts, last ended, cost by day) without a listing when quiet."""
        tally: RunTally = self._tally("run", Run, summarize_run, run_from_row, RunTally)
        return tally

    # -- plans --------------------------------------------------------------------------

    def get_plan(self, plan_id: str) -> Plan:
        return self._load(self._file("plan", plan_id), "plan", Plan)

    def put_plan(self, plan: Plan, checked: frozenset[tuple[str, str]] = frozenset()) -> Plan:
        """``checked``: references known to be in this project (the record's as it was read)."""
        self._check_refs("plan", plan.plan_id, plan.project_id, _plan_refs(plan) - checked)
        plan.updated_at = utc_now()
        return self._write("plan", plan.plan_id, plan)

    def update_plan(self, plan_id: str, change: Callable[[Plan], Any]) -> Plan:
        with write_lock(self.state_dir):
            plan = self.get_plan(plan_id)
            refs = _plan_refs(plan)
            change(plan)
            return self.put_plan(plan, refs)

    def update_plan_signed(self, plan_id: str, change: Callable[[Plan], bool]) -> tuple[Plan, bool, Signature | None]:
        """``update_plan`` read once, written only when ``change`` says it changed something; with
        the file's ``signature`` taken under the lock: no write by pmdesk comes between, so while the
        signature holds, the plan returned is the one on disk."""
        with write_lock(self.state_dir):
            plan = self.get_plan(plan_id)
            refs = _plan_refs(plan)
            written = change(plan)
            if written:
                plan = self.put_plan(plan, refs)
            return plan, written, self.signature("plan", plan_id)

    def discard_plan(self, plan_id: str) -> Path:
        """Move the plan's file out of the listing into ``<state>/trash/plans/`` (kept, not erased);
        returns where it went."""
        with write_lock(self.state_dir):
            source = self._file("plan", plan_id)
            if not source.exists():
                raise NotFoundError("plan", plan_id)
            target_dir = self.state_dir / "trash" / "plans"
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / f"{source.name}.{utc_now().replace(':', '').replace('-', '')}"
            os.replace(source, target)
            return target

    def list_plans(self, full: bool = False) -> list[PlanSummary]:
        return self._listing("plan", Plan, summarize_plan, plan_from_row, full, PlanTally)

    def plan_tally(self) -> PlanTally:
        tally: PlanTally = self._tally("plan", Plan, summarize_plan, plan_from_row, PlanTally)
        return tally

    # -- sessions and packets -----------------------------------------------------------------

    def get_session(self, session_id: str) -> Session:
        return self._load(self._file("session", session_id), "session", Session)

    def put_session(self, session: Session) -> Session:
        if session.project_id != self.project_id:
            raise CrossProjectError("session of another project")
        return self._write("session", session.session_id, session)

    def get_packet(self, packet_id: str) -> InspectionPacket:
        return self._load(self._file("packet", packet_id), "packet", InspectionPacket)

    def has_packet(self, packet_id: str) -> bool:
        return self.contains("packet", packet_id)

    def put_packet(self, packet: InspectionPacket) -> InspectionPacket:
        if packet.project_id != self.project_id:
            raise CrossProjectError("inspection packet of another project")
        if not self.contains("run", packet.run_id):
            raise CrossProjectError(f"packet names run {packet.run_id}, which is not in this project")
        return self._write("packet", packet.packet_id, packet)

    def list_packets(self, full: bool = False) -> list[PacketSummary]:
        return self._listing("packet", InspectionPacket, summarize_packet, None, full)

    # -- events and activity (append-only JSONL, one file per day) ------------------------------

    def append_events(self, run_id: str, events: list[Event]) -> int:
        return self._append(day_file(self._events_dir(run_id)), "events", [e.to_json() for e in events])

    def tail_events(self, run_id: str, count: int) -> list[Event]:
        return _events(run_id, tail_records(self._events_dir(run_id), count))

    def read_events(self, run_id: str, after: int | None = None, limit: int | None = None) -> list[Event]:
        records = iter_records(self._events_dir(run_id))
        if after is not None:
            records = (r for r in records if type(r.get("seq")) is int and r["seq"] > after)
        return _events(run_id, records if limit is None else itertools.islice(records, limit))

    def last_event_seq(self, run_id: str) -> int:
        tail = tail_records(self._events_dir(run_id), 1)
        return int(tail[0].get("seq", 0)) if tail else 0

    def append_activity(self, events: list[ActivityEvent]) -> int:
        for event in events:
            if event.project_id != self.project_id:
                raise CrossProjectError("activity of another project")
        return self._append(day_file(self.state_dir / "activity"), "activity", [e.to_json() for e in events])

    def list_activity(self, limit: int = 200) -> list[ActivityEvent]:
        """Newest first."""
        records = tail_records(self.state_dir / "activity", limit)
        out: list[ActivityEvent] = []
        for record in reversed(records):
            try:
                out.append(ActivityEvent.model_validate(record))
            except ValidationError:
                continue
        return out


    def activity_before(self, before: tuple[str, str] | None, limit: int) -> tuple[list[ActivityEvent], bool]:
        """Newest first, up to ``limit`` entries older than ``before`` (their time and id), and
        whether there are more; day files newer than ``before`` are not read."""
        out: list[ActivityEvent] = []
        directory = self.state_dir / "activity"
        for path in reversed(day_files(directory)):
            if before is not None and path.stem > before[0][:10]:
                continue
            records = sorted(iter_records(directory, name=path.name),
                             key=lambda r: (str(r.get("ts", "")), str(r.get("activityId", ""))), reverse=True)
            for record in records:
                if before is not None and (str(record.get("ts", "")), str(record.get("activityId", ""))) >= before:
                    continue
                try:
                    out.append(ActivityEvent.model_validate(record))
                except ValidationError:
                    continue
                if len(out) > limit:
                    return out[:limit], True
        return out, False

    def _listing(self, kind: str, model: type[M], summarize: Callable[[Any], Any],
                 decode: Callable[[Any], Any] | None, full: bool, tally: type[Tally] | None = None,
                 keep: bool = True) -> list[Any]:
        directory_name, _prefix = _KINDS[kind]
        try:
            return self._index.refresh(directory_name, lambda path: self._load(path, kind, model), summarize,
                                       decode, full, tally, keep)
        except DamagedFileError as exc:  # the folder itself: set the link or file aside, begin a real folder
            self._quarantine(exc.path, kind, exc.reason)
            exc.path.mkdir(parents=True, exist_ok=True)
            return []

    def _tally(self, kind: str, model: type[M], summarize: Callable[[Any], Any], decode: Callable[[Any], Any],
               tally: type[Tally]) -> Any:
        directory_name, _prefix = _KINDS[kind]
        try:
            return self._index.tally(directory_name, lambda path: self._load(path, kind, model), summarize, decode,
                                     tally)
        except DamagedFileError:
            self._listing(kind, model, summarize, decode, False, tally)  # sets the damage aside
            return tally.build([])

def _events(run_id: str, records: Iterable[dict[str, Any]]) -> list[Event]:
    """Events from stored lines, which leave out the ids their folder and number imply.

    Lines written before that (or by the original tool) carry them, and keep them.
    """
    event_id = event_ids(run_id)
    out = []
    for record in records:
        seq = record.get("seq")
        if type(seq) is not int:
            continue  # not an event line: skipped like a torn one
        record.setdefault("runId", run_id)
        record.setdefault("eventId", event_id(seq))
        try:
            out.append(Event.model_validate(record))
        except ValidationError:
            continue
    return out


def _count_waiting(run: Run, before: TaskState) -> None:
    """Time in NEEDS RESPONSE is the user's, not the agent's: kept apart so that estimates of
    how long a run works leave it out. Every status change of a run passes here."""
    waiting = TaskState.AWAITING_RESPONSE
    if run.status == waiting and before != waiting:
        run.awaiting_since = utc_now()
    elif before == waiting and run.status != waiting:
        since = parse_ts(run.awaiting_since)
        if since is not None:
            run.waited_ms += max(0, int((datetime.now(UTC) - since).total_seconds() * 1000))
        run.awaiting_since = None


def _run_refs(run: Run) -> frozenset[tuple[str, str]]:
    return frozenset((kind, ref) for kind, ref in (("plan", run.plan_id), ("session", run.session_id)) if ref)


def _plan_refs(plan: Plan) -> frozenset[tuple[str, str]]:
    refs = {("run", ref) for ref in (plan.run_id, plan.verify_run_id) if ref}
    if plan.packet_id:
        refs.add(("packet", plan.packet_id))
    refs.update(("run", t.run_id) for t in plan.tasks if t.run_id)
    return frozenset(refs)
