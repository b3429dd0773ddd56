"""Issue 3: a project with 10,000 runs and 1,000,000 events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

from benchmarks.common import Result, best_of, ms, python, verdict
from pmdesk.models import Run, TaskState, new_id, project_id_for_path, utc_now
from pmdesk.store import StateStore

QUIET_WAIT = 2.2


def generate(root: Path, runs: int, events_per_run: int) -> tuple[StateStore, str]:
    project = root / "big"
    project.mkdir(parents=True, exist_ok=True)
    store = StateStore.for_project(project, project_id_for_path(project))
    store.ensure_layout()
    statuses = [TaskState.COMPLETE, TaskState.ERROR, TaskState.CANCELLED, TaskState.COMPLETE]
    first = ""
    now = utc_now()
    for i in range(runs):
        run = Run(run_id=new_id("run"), project_id=store.project_id, prompt=f"task {i}: " + "refactor the module " * 8,
                  status=statuses[i % 4], created_at=now, started_at=now, ended_at=now, summary="done " * 20)
        (store.state_dir / "runs" / f"{run.run_id}.json").write_text(run.to_json())
        first = first or run.run_id
        if not events_per_run:
            continue
        events_dir = store.state_dir / "events" / run.run_id
        events_dir.mkdir()
        lines = [json.dumps({"eventId": f"evt_{uuid.uuid4()}", "runId": run.run_id, "seq": k + 1, "ts": now,
                             "kind": "stdout", "text": f"output line {k} of run {i}"}) for k in range(events_per_run)]
        (events_dir / "2026-11-25.jsonl").write_text("\n".join(lines) + "\n")
    return store, first


LIST_COLD = """
import time
from pmdesk.store import StateStore
s = StateStore({state!r}, {pid!r})
t = time.perf_counter(); rows = s.list_runs(); t = time.perf_counter() - t
assert len(rows) == {n}, len(rows)
print(t)
"""

NAIVE_COLD = """
import time
from pathlib import Path
from pmdesk.models import Run
t = time.perf_counter()
rows = [Run.model_validate_json(p.read_bytes()) for p in Path({runs!r}).glob("*.json")]
t = time.perf_counter() - t
assert len(rows) == {n}
print(t)
"""


def run(quick: bool, root: Path) -> list[Result]:
    n_runs = 2_000 if quick else 10_000
    per_run = 20 if quick else 100
    started = time.perf_counter()
    store, first = generate(root, n_runs, per_run)
    generation = time.perf_counter() - started
    store.list_runs()  # build the index
    time.sleep(QUIET_WAIT)  # a project at rest: the state a user opens
    store.list_runs()
    args = {"state": str(store.state_dir), "pid": store.project_id, "n": n_runs,
            "runs": str(store.state_dir / "runs")}
    cold = min(float(python(LIST_COLD.format(**args))) for _ in range(3))
    naive_cold = min(float(python(NAIVE_COLD.format(**args))) for _ in range(3))
    warm = best_of(5, store.list_runs)
    naive_warm = best_of(2, lambda: [Run.model_validate_json(p.read_bytes())
                                     for p in (store.state_dir / "runs").glob("*.json")])
    busy = best_of(3, lambda: store.list_runs(full=True))
    tail = best_of(20, lambda: store.tail_events(first, 1000))

    from pmdesk.engine.notifications import ChangeBus
    from pmdesk.engine.recorder import EventRecorder
    from pmdesk.engine.redact import Redactor

    target_run = store.put_run(Run(run_id=new_id("run"), project_id=store.project_id, prompt="append"))

    async def append() -> float:
        recorder = EventRecorder(store, target_run.run_id, ChangeBus(), Redactor([]))
        t = time.perf_counter()
        for i in range(100_000):
            recorder.emit("stdout", f"appended line {i} with some typical agent output text")
        recorder.flush()
        return time.perf_counter() - t

    append_s = asyncio.run(append())
    label = f"{n_runs:,} runs / {n_runs * per_run:,} events"
    return [
        Result("3", f"generate {label}", f"{generation:.1f} s"),
        Result("3", "list runs, cold process", ms(cold), "< 150 ms", verdict(cold < 0.150)),
        Result("3", "naive scan (parse every run file), cold process", ms(naive_cold)),
        Result("3", "list vs naive, cold (ratio)", f"{naive_cold / cold:.1f}x faster", ">= 10x",
               verdict(naive_cold / cold >= 10)),
        Result("3", "list runs, warm", ms(warm)),
        Result("3", "naive scan, warm", ms(naive_warm)),
        Result("3", "list vs naive, warm (ratio)", f"{naive_warm / warm:.1f}x faster", ">= 10x",
               verdict(naive_warm / warm >= 10)),
        Result("3", "list runs while the dir is busy (stat every file)", ms(busy)),
        Result("3", "last 1,000 events of one run", ms(tail), "< 20 ms", verdict(tail < 0.020)),
        Result("3", "append 100,000 events (recorder, batched)", f"{append_s:.2f} s",
               "", f"{100_000 / append_s:,.0f} events/s"),
    ]
