"""kill -9 of an engine at random moments of its work, then a restart: what is left is counted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pmdesk.engine.engine import Engine
from pmdesk.models import PlanStatus, TaskState

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("run", "dispatch", "respond", "verify", "serve")
RECORD_DIRS = ("runs", "plans", "sessions", "inspection-packets")


def _processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/environ", "rb") as handle:  # every descendant inherits it
                    if marker.encode() in handle.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


def check(state: Path, engine: Engine, marker: str, problems_before: int) -> Counter[str]:
    """After recovery: torn or quarantined records, stuck plans, orphan runs, lost events, leftovers."""
    counts: Counter[str] = Counter()
    project = engine.projects()[0]
    store = engine.store(project)
    counts["corrupt files"] += len(store.problems()) - problems_before
    for folder in RECORD_DIRS:
        for path in (state / folder).glob("*.json"):
            try:
                json.loads(path.read_bytes())
            except ValueError:
                counts["corrupt files"] += 1
    named: dict[str, set[str]] = {}
    for summary in store.list_plans():
        plan = store.get_plan(summary.plan_id)
        named[plan.plan_id] = {t.run_id for t in plan.tasks if t.run_id}
        if plan.status in (PlanStatus.DISPATCHING, PlanStatus.VERIFYING) or (
                plan.status == PlanStatus.RUNNING and any(not t.run_id and not t.status.is_terminal for t in plan.tasks)):
            counts["stuck plans"] += 1
    for summary in store.list_runs():
        run = store.get_run(summary.run_id)
        if run.status == TaskState.RUNNING:
            counts["orphan records"] += 1  # nobody follows it, and recovery did not end it
        if run.status == TaskState.QUEUED and (not run.plan_id or run.run_id not in named.get(run.plan_id, set())):
            counts["orphan records"] += 1
        if run.status.is_terminal and run.event_count:
            seen = sum(1 for _ in store.read_events(run.run_id))
            counts["lost events"] += max(0, run.event_count - seen)
    deadline = time.time() + 5
    while _processes_with(marker) and time.time() < deadline:
        time.sleep(0.05)
    counts["leftover processes"] += len(_processes_with(marker))
    return counts


def run_trials(trials: int, home: Path, seed: int = 7) -> tuple[int, Counter[str]]:
    rng = random.Random(seed)
    totals: Counter[str] = Counter()
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "PMDESK_NO_KEYRING": "1", "PMDESK_CLAUDE_BIN": str(ROOT / "tests" / "fakes" / "fake_claude.py")}
    os.environ.update({k: env[k] for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "PMDESK_NO_KEYRING",
                                           "PMDESK_CLAUDE_BIN")})
    folder = home / "project"
    folder.mkdir(parents=True, exist_ok=True)
    setup = Engine()
    project = setup.add_project(str(folder), "rel")
    project.settings.gates = [f"{sys.executable} -c \"print('[PASS] fine')\""]
    setup.save_project(project)
    state = setup.store(project).state_dir
    setup.ctx.close()
    for trial in range(trials):
        kind = KINDS[trial % len(KINDS)]
        marker = f"pmdesk-kill9-{trial}-{rng.random()}"
        worker = subprocess.Popen([sys.executable, "-m", "tests.reliability.worker", kind, str(folder), str(trial)],
                                  cwd=ROOT, env={**env, "PMDESK_KILL9_MARKER": marker}, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        assert worker.stdout is not None
        worker.stdout.readline()  # "ready"
        time.sleep(rng.uniform(0.05, 1.2))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        engine = Engine()
        problems_before = len(engine.store(engine.projects()[0]).problems())
        engine.recover()
        totals += check(state, engine, marker, problems_before)
        engine.ctx.close()
    return trials, totals
