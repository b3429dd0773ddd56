"""The state store: layout, atomic records, index, quarantine, isolation, JSONL trails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pmdesk.models import Event, InvalidIdError, Plan, PlanTask, Run, TaskState, new_id, project_id_for_path
from pmdesk.store import CorruptStateError, CrossProjectError, NotFoundError, StateStore, state_dir_for
from pmdesk.store.state_store import SPEC_DIRS


def make_store(path: Path) -> StateStore:
    path.mkdir(parents=True, exist_ok=True)
    store = StateStore.for_project(path, project_id_for_path(path))
    store.ensure_layout()
    return store


def new_run(store: StateStore, **kw: object) -> Run:
    run = Run(run_id=new_id("run"), project_id=store.project_id, prompt="do it", **kw)  # type: ignore[arg-type]
    return store.put_run(run)


def test_layout_is_the_specs(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    for name in SPEC_DIRS:
        assert (tmp_path / "p" / ".claude" / "state" / name).is_dir()
    assert store.state_dir == state_dir_for(tmp_path / "p")


def test_records_round_trip_and_are_camel_case_on_disk(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    raw = json.loads((store.state_dir / "runs" / f"{run.run_id}.json").read_text())
    assert raw["runId"] == run.run_id and raw["projectId"] == store.project_id
    assert store.get_run(run.run_id).prompt == "do it"


def test_listing_uses_the_index_and_notices_outside_changes(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    runs = [new_run(store) for _ in range(5)]
    assert {r.run_id for r in store.list_runs()} == {r.run_id for r in runs}
    rows = store.state_dir / "index" / "runs.rows.json"
    keys = store.state_dir / "index" / "runs.keys.json"
    assert rows.exists() and keys.exists()
    # Another tool rewrites a run behind pmdesk's back: the listing sees the new status.
    path = store.state_dir / "runs" / f"{runs[0].run_id}.json"
    data = json.loads(path.read_text())
    data["status"] = "COMPLETE"
    data["prompt"] = "changed elsewhere, longer than before"
    path.write_text(json.dumps(data))
    listed = {r.run_id: r for r in store.list_runs()}
    assert listed[runs[0].run_id].status == TaskState.COMPLETE
    # A deleted file disappears; a missing or corrupt index is rebuilt.
    (store.state_dir / "runs" / f"{runs[1].run_id}.json").unlink()
    rows.write_text("{not json")
    assert len(store.list_runs()) == 4
    keys.unlink()
    assert len(store.list_runs()) == 4
    rows.write_text(json.dumps({"version": 3, "gen": "x", "dirMtimeNs": 0, "listedAtNs": 0, "rows": [[1, 2]]}))
    assert len(store.list_runs()) == 4


def test_the_fast_path_is_trusted_only_for_a_quiet_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pmdesk.store.listing_index as listing_index

    store = make_store(tmp_path / "p")
    run = new_run(store)
    store.list_runs()  # listed while the directory was busy: not trusted
    path = store.state_dir / "runs" / f"{run.run_id}.json"
    data = json.loads(path.read_text())
    data["status"] = "ERROR"
    path.write_text(json.dumps(data))  # an in-place edit: the directory's mtime does not move
    assert store.list_runs()[0].status == TaskState.ERROR  # caught by the per-file check
    monkeypatch.setattr(listing_index, "QUIET_NS", 0)
    store.list_runs()
    data["status"] = "COMPLETE"
    path.write_text(json.dumps(data))
    assert store.list_runs()[0].status == TaskState.ERROR  # the quiet fast path cannot see it...
    assert store.list_runs(full=True)[0].status == TaskState.COMPLETE  # ...a full refresh (F5) does
    new_run(store)  # our own writes rename into the directory, which the fast path notices
    assert len(store.list_runs()) == 2


def test_listing_does_not_parse_unchanged_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path / "p")
    for _ in range(20):
        new_run(store)
    store.list_runs()
    loads: list[Path] = []
    original = StateStore._load

    def counting(self: StateStore, path: Path, kind: str, model: type) -> object:
        loads.append(path)
        return original(self, path, kind, model)

    monkeypatch.setattr(StateStore, "_load", counting)
    assert len(store.list_runs()) == 20
    assert loads == []
    new_run(store)
    assert len(store.list_runs()) == 21
    assert len(loads) == 1


@pytest.mark.parametrize(
    ("name", "content"),
    [("truncated", b'{"runId": "run_'), ("wrong types", b'{"runId": 5, "projectId": [], "prompt": {}}'),
     ("not an object", b"[1, 2, 3]"), ("empty", b"")],
)
def test_corrupt_records_are_quarantined_and_the_rest_loads(tmp_path: Path, name: str, content: bytes) -> None:
    store = make_store(tmp_path / "p")
    good = new_run(store)
    bad_id = new_id("run")
    bad = store.state_dir / "runs" / f"{bad_id}.json"
    bad.write_bytes(content)
    listed = store.list_runs()
    assert [r.run_id for r in listed] == [good.run_id]
    problems = store.problems()
    assert len(problems) == 1 and problems[0].path == str(bad)
    assert not bad.exists() and Path(problems[0].quarantined_to or "").exists()  # moved aside, not deleted
    with pytest.raises(NotFoundError):
        store.get_run(bad_id)


def test_huge_file_and_directory_are_problems_not_crashes(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    good = new_run(store)
    huge = store.state_dir / "runs" / f"{new_id('run')}.json"
    with open(huge, "wb") as handle:
        handle.write(b'{"runId": "' + b"x" * (50 * 1024 * 1024) + b'"}')
    directory = store.state_dir / "runs" / f"{new_id('run')}.json"
    directory.mkdir()
    plan_dir = store.state_dir / "plans" / f"{new_id('plan')}.json"
    plan_dir.mkdir()
    assert [r.run_id for r in store.list_runs()] == [good.run_id]
    assert store.list_plans() == []
    messages = " ".join(p.message for p in store.problems())
    assert "limit" in messages and "directory" in messages
    assert len(store.problems()) == 3


def test_get_of_a_corrupt_record_raises_a_clear_error(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run_id = new_id("run")
    (store.state_dir / "runs" / f"{run_id}.json").write_text("{")
    with pytest.raises(CorruptStateError, match="moved to"):
        store.get_run(run_id)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "plan_x/../y", "/etc/passwd", "plan_..", "plan_a/b"])
def test_bad_ids_touch_nothing(tmp_path: Path, bad: str) -> None:
    store = make_store(tmp_path / "p")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for call in (lambda: store.get_plan(bad), lambda: store.get_run(bad), lambda: store.tail_events(bad, 5),
                 lambda: store.append_events(bad, [])):
        with pytest.raises(InvalidIdError):
            call()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_plan_of_project_a_cannot_name_a_run_of_project_b(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a")
    b = make_store(tmp_path / "b")
    run_b = new_run(b)
    plan = Plan(plan_id=new_id("plan"), project_id=a.project_id,
                tasks=[PlanTask(task_id=new_id("ptask"), description="x", run_id=run_b.run_id)])
    with pytest.raises(CrossProjectError, match="not in this project"):
        a.put_plan(plan)
    foreign = Plan(plan_id=new_id("plan"), project_id=b.project_id)
    with pytest.raises(CrossProjectError):
        a.put_plan(foreign)
    with pytest.raises(CrossProjectError):
        a.put_run(Run(run_id=new_id("run"), project_id=b.project_id, prompt="x"))
    assert a.list_plans() == [] and not any((a.state_dir / "plans").iterdir())
    # A change checks what it adds (the rest was checked when it was written): a task given
    # another project's run is refused, one given this project's run is kept.
    run_a = new_run(a)
    mine = a.put_plan(Plan(plan_id=new_id("plan"), project_id=a.project_id,
                           tasks=[PlanTask(task_id=new_id("ptask"), description="x")]))
    with pytest.raises(CrossProjectError, match="not in this project"):
        a.update_plan(mine.plan_id, lambda p: setattr(p.tasks[0], "run_id", run_b.run_id))
    kept, changed, _ = a.update_plan_signed(mine.plan_id, lambda p: setattr(p.tasks[0], "run_id", run_a.run_id) is None)
    assert changed and a.get_plan(mine.plan_id).tasks[0].run_id == run_a.run_id == kept.tasks[0].run_id
    with pytest.raises(CrossProjectError):
        a.update_run(run_a.run_id, lambda r: setattr(r, "plan_id", foreign.plan_id))


def test_a_record_copied_from_another_project_is_not_listed(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a")
    b = make_store(tmp_path / "b")
    run_b = new_run(b)
    src = b.state_dir / "runs" / f"{run_b.run_id}.json"
    (a.state_dir / "runs" / src.name).write_bytes(src.read_bytes())
    assert a.list_runs() == []
    with pytest.raises(CrossProjectError):
        a.get_run(run_b.run_id)


def test_events_append_in_batches_and_tail_reads_the_end(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    for batch in range(10):
        store.append_events(run.run_id, [Event(event_id=new_id("evt"), run_id=run.run_id, seq=batch * 100 + i,
                                               kind="stdout", text=f"line {batch * 100 + i}") for i in range(100)])
    files = list((store.state_dir / "events" / run.run_id).iterdir())
    assert len(files) == 1 and files[0].name.endswith(".jsonl")
    tail = store.tail_events(run.run_id, 5)
    assert [e.seq for e in tail] == [995, 996, 997, 998, 999]
    assert store.last_event_seq(run.run_id) == 999
    assert [e.seq for e in store.read_events(run.run_id, after=997)] == [998, 999]


def test_a_torn_event_line_does_not_corrupt_the_next_batch(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    store.append_events(run.run_id, [Event(event_id=new_id("evt"), run_id=run.run_id, seq=1, kind="stdout")])
    day = next((store.state_dir / "events" / run.run_id).iterdir())
    with open(day, "ab") as handle:
        handle.write(b'{"eventId": "evt_torn", "seq": 2, "te')  # a writer died mid-line
    store.append_events(run.run_id, [Event(event_id=new_id("evt"), run_id=run.run_id, seq=3, kind="stdout")])
    assert [e.seq for e in store.read_events(run.run_id)] == [1, 3]
    assert [e.seq for e in store.tail_events(run.run_id, 10)] == [1, 3]


def test_no_temp_files_are_left_by_writes(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    for _ in range(5):
        new_run(store)
    leftovers = [p for p in store.state_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert all(os.stat(p).st_size > 0 for p in (store.state_dir / "runs").iterdir())
