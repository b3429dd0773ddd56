"""Real processes: kill -9 writers at random moments; four writers on one plan."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmdesk.models import Plan, new_id, project_id_for_path
from pmdesk.store import StateStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys, itertools
from pmdesk.models import Event, Plan, PlanTask, Run, new_id
from pmdesk.store import StateStore
store = StateStore(__import__("pathlib").Path(sys.argv[1]), sys.argv[2])
plan_id, run_id = sys.argv[3], sys.argv[4]
print("ready", flush=True)
for i in itertools.count():
    store.update_plan(plan_id, lambda p: p.tasks.append(PlanTask(task_id=new_id("ptask"), description="t" * (i % 500))))
    store.update_run(run_id, lambda r: setattr(r, "summary", "s" * (i * 37 % 20000)))
    store.append_events(run_id, [Event(event_id=new_id("evt"), run_id=run_id, seq=i * 50 + k, kind="stdout",
                                       text="x" * (k * 13)) for k in range(50)])
    if i % 10 == 0:
        store.put_run(Run(run_id=new_id("run"), project_id=store.project_id, prompt="p" * i))
"""

UPDATER = r"""
import sys
from pmdesk.store import StateStore
store = StateStore(__import__("pathlib").Path(sys.argv[1]), sys.argv[2])
plan_id, who = sys.argv[3], sys.argv[4]
for i in range(250):
    def change(plan, i=i):
        marks = list(getattr(plan, "marks", None) or [])
        marks.append(f"{who}-{i}")
        plan.marks = marks
    store.update_plan(plan_id, change)
"""


def _store(tmp_path: Path) -> StateStore:
    project = tmp_path / "proj"
    project.mkdir()
    store = StateStore.for_project(project, project_id_for_path(project))
    store.ensure_layout()
    return store


@pytest.mark.slow
def test_kill_minus_9_at_random_moments_leaves_every_file_whole(tmp_path: Path) -> None:
    store = _store(tmp_path)
    plan = store.put_plan(Plan(plan_id=new_id("plan"), project_id=store.project_id))
    from pmdesk.models import Run

    run = store.put_run(Run(run_id=new_id("run"), project_id=store.project_id, prompt="x"))
    rng = random.Random(1234)
    for _ in range(50):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store.state_dir), store.project_id,
                                 plan.plan_id, run.run_id], stdout=subprocess.PIPE, cwd=ROOT)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.12))
        proc.kill()
        proc.wait()
        # Every visible record parses and validates; temp files are hidden and never listed.
        for path in store.state_dir.rglob("*.json"):
            if path.name.startswith(".") or path.parent.name in ("index", "locks", "quarantine"):
                continue
            json.loads(path.read_bytes())
        assert store.get_plan(plan.plan_id).plan_id == plan.plan_id
        assert store.get_run(run.run_id).run_id == run.run_id
        store.list_runs()
        store.tail_events(run.run_id, 100)
        assert store.problems() == []


@pytest.mark.slow
def test_four_processes_updating_one_plan_lose_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    plan = store.put_plan(Plan(plan_id=new_id("plan"), project_id=store.project_id))
    procs = [subprocess.Popen([sys.executable, "-c", UPDATER, str(store.state_dir), store.project_id,
                               plan.plan_id, f"w{n}"], cwd=ROOT) for n in range(4)]
    for proc in procs:
        assert proc.wait(timeout=240) == 0
    marks = store.get_plan(plan.plan_id).marks  # type: ignore[attr-defined]
    assert len(marks) == 1000
    assert set(marks) == {f"w{n}-{i}" for n in range(4) for i in range(250)}
