"""The kept tally (issue 20): an overview from a summary kept as runs change, equal to one
rebuilt from the files, whoever wrote them."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from pmdesk.engine.overview import overview
from pmdesk.models import ExecutorKind, Plan, Project, ProjectStatus, Run, TaskState, Usage, new_id, project_id_for_path
from pmdesk.store import StateStore, listing_index
from pmdesk.store.tally import RunTally

STATES = [TaskState.COMPLETE, TaskState.ERROR, TaskState.CANCELLED, TaskState.RUNNING, TaskState.QUEUED,
          TaskState.AWAITING_RESPONSE]


@pytest.fixture
def soon_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder is at rest 50 ms after its last change (not two seconds), more than the file
    system's clock tick, so a kept tally is trusted as it would be."""
    monkeypatch.setattr(listing_index, "QUIET_NS", 50_000_000)


def _run(store: StateStore, i: int, rng: random.Random) -> Run:
    day = f"2026-{rng.randint(10, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
    executor = rng.choice([ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT, ExecutorKind.COMMAND])
    status = rng.choice(STATES)
    return Run(run_id=new_id("run"), project_id=store.project_id, prompt=f"task {i}", executor=executor, status=status,
               created_at=day, started_at=day, ended_at=day if status.is_terminal else None,
               cost_usd=rng.choice([None, 0.0123, 1.5, 0.000417]), usage=Usage(input_tokens=rng.randint(0, 9000)))


def _written_by_another_tool(store: StateStore, runs: list[Run]) -> None:
    for run in runs:
        (store.state_dir / "runs" / f"{run.run_id}.json").write_text(run.to_json())


def _project(tmp_path: Path) -> tuple[Project, StateStore]:
    folder = tmp_path / "proj"
    folder.mkdir()
    project = Project(project_id=project_id_for_path(folder), name="proj", path=str(folder))
    store = StateStore.for_project(folder, project.project_id)
    store.ensure_layout()
    return project, store


def test_overview_of_files_written_by_another_tool_counts_every_run(tmp_path: Path) -> None:
    project, store = _project(tmp_path)
    rng = random.Random(7)
    runs = [_run(store, i, rng) for i in range(600)]
    _written_by_another_tool(store, runs)
    seen = overview(project, StateStore.for_project(project.path, project.project_id))
    states = Counter(r.status for r in runs)
    assert seen.total == 600
    assert (seen.completed, seen.failed, seen.awaiting) == \
        (states[TaskState.COMPLETE], states[TaskState.ERROR], states[TaskState.AWAITING_RESPONSE])
    assert seen.running == states[TaskState.RUNNING] + states[TaskState.QUEUED]
    assert seen.status == ProjectStatus.NEEDS_RESPONSE
    metered = [r for r in runs if r.executor != ExecutorKind.COMMAND]
    assert seen.cost_total.runs == len(metered)
    assert seen.cost_total.tokens == sum(r.usage.total for r in metered)
    assert seen.cost_total.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in metered))
    assert seen.cost_total.unpriced == sum(r.cost_usd is None for r in metered)


def test_the_kept_tally_equals_one_rebuilt_from_the_files(tmp_path: Path, soon_quiet: None) -> None:
    project, store = _project(tmp_path)
    rng = random.Random(11)
    _written_by_another_tool(store, [_run(store, i, rng) for i in range(300)])
    store.put_plan(Plan(plan_id=new_id("plan"), project_id=store.project_id))
    overview(project, store)
    for step in range(40):  # runs change, arrive, vanish and are damaged, each seen by a listing in between
        rows = store.list_runs()
        for row in rng.sample(rows, 5):
            store.update_run(row.run_id, lambda r: setattr(r, "status", rng.choice(STATES)))
        _written_by_another_tool(store, [_run(store, 1000 + step * 3 + k, rng) for k in range(3)])
        victim = rng.choice(rows)
        (store.state_dir / "runs" / f"{victim.run_id}.json").unlink(missing_ok=True)
        if step % 10 == 3:
            (store.state_dir / "runs" / f"{rng.choice(rows).run_id}.json").write_text("{ damaged")
        kept = overview(project, store)
    fresh_store = StateStore.for_project(project.path, project.project_id)
    assert store.run_tally() == RunTally.build(fresh_store.list_runs(full=True))
    time.sleep(0.1)
    assert overview(project, StateStore.for_project(project.path, project.project_id)) == kept  # read as kept
    shutil.rmtree(store.state_dir / "index")  # the files alone, as another tool would leave them
    rebuilt = overview(project, StateStore.for_project(project.path, project.project_id))
    assert rebuilt == kept
    assert rebuilt.total == len(list((store.state_dir / "runs").glob("*.json")))
    assert rebuilt.plans == 1


def test_a_damaged_or_hostile_tally_file_is_rebuilt_not_believed(tmp_path: Path, soon_quiet: None) -> None:
    project, store = _project(tmp_path)
    _written_by_another_tool(store, [_run(store, i, random.Random(i)) for i in range(20)])
    time.sleep(0.1)
    honest = overview(project, store)
    path = store.state_dir / "index" / "runs.tally.json"
    kept = json.loads(path.read_text())
    for bad in ("{ not json", json.dumps({**kept, "tally": {"total": "many"}}),
                json.dumps({**kept, "tally": {**kept["tally"], "days": {"2026-12-01": [1]}}}), "[]"):
        path.write_text(bad)
        time.sleep(0.1)
        assert overview(project, StateStore.for_project(project.path, project.project_id)) == honest
    tampered = {**kept, "tally": {**kept["tally"], "total": 99999}, "dirMtimeNs": 1}  # stale: the folder moved on
    path.write_text(json.dumps(tampered))
    assert overview(project, StateStore.for_project(project.path, project.project_id)).total == 20


def test_the_last_run_to_end_decides_error_as_the_files_do(tmp_path: Path) -> None:
    project, store = _project(tmp_path)
    failed = Run(run_id=new_id("run"), project_id=store.project_id, prompt="p", status=TaskState.ERROR,
                 created_at="2026-12-01T10:00:00Z", ended_at="2026-12-01T10:00:00Z")
    store.put_run(failed)
    assert overview(project, store).status == ProjectStatus.ERROR
    fixed = Run(run_id=new_id("run"), project_id=store.project_id, prompt="p", status=TaskState.COMPLETE,
                created_at="2026-12-01T11:00:00Z", ended_at="2026-12-01T11:00:00Z")
    store.put_run(fixed)
    assert overview(project, store).status == ProjectStatus.IDLE
    (store.state_dir / "runs" / f"{fixed.run_id}.json").unlink()  # the maximum leaves: only a recount knows
    assert overview(project, store).status == ProjectStatus.ERROR
