"""State writes off the event loop: in the order asked, published in that order, nothing lost."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pmdesk.engine import runs as runs_module
from pmdesk.engine.engine import Engine
from pmdesk.engine.notifications import Change, PlanChanged, RunChanged
from pmdesk.engine.plans.changes import mirror_onto, mirror_runs
from pmdesk.engine.store_worker import StoreWorker
from pmdesk.models import ActivityType, ExecutorKind, Plan, PlanStatus, Run, TaskState
from pmdesk.store import StateStore
from tests.engine.helpers import add_project, until

LIFECYCLE = [TaskState.CREATED, TaskState.QUEUED, TaskState.RUNNING, TaskState.COMPLETE]


async def test_work_is_done_and_answered_in_the_order_asked() -> None:
    worker = StoreWorker()
    done: list[int] = []
    answered: list[int] = []
    threads: set[str] = set()

    def write(i: int) -> int:
        time.sleep(random.uniform(0, 0.004))  # a pool would finish these out of order
        threads.add(threading.current_thread().name)
        done.append(i)
        return i

    async def ask(i: int) -> None:
        answered.append(await worker(write, i))

    await asyncio.gather(*(ask(i) for i in range(40)))
    worker.close()
    assert done == list(range(40)) and answered == list(range(40))
    assert len(threads) == 1 and threading.current_thread().name not in threads


async def test_an_error_reaches_its_caller_and_the_worker_goes_on() -> None:
    worker = StoreWorker()

    def fail() -> None:
        raise ValueError("disk says no")

    with pytest.raises(ValueError, match="disk says no"):
        await worker(fail)
    assert await worker(lambda a, b=0: a + b, 2, b=3) == 5
    worker.close()


async def test_close_finishes_what_was_asked_and_a_later_call_starts_again() -> None:
    worker = StoreWorker()
    done: list[str] = []
    pending = asyncio.ensure_future(worker(lambda: (time.sleep(0.05), done.append("slow"))))
    await asyncio.sleep(0.01)
    worker.close()  # waits for the write in progress
    assert done == ["slow"]
    await pending
    assert await worker(lambda: "again") == "again"
    worker.close()


async def test_plan_snapshots_are_published_in_the_order_they_were_written(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    tasks = [{"id": f"t{i}", "description": f"task {i}", "dependencies": [f"t{i - 3}"] if i >= 3 else []}
             for i in range(9)]
    plan = engine.plans.plan_from_answer(project, {"tasks": tasks})
    published: list[Plan] = []

    def listen(change: Change) -> None:
        if isinstance(change, PlanChanged) and change.plan.plan_id == plan.plan_id:
            published.append(change.plan)

    engine.bus.subscribe(listen)
    await engine.plans.dispatch(project, plan.plan_id, max_parallel=4, executor=ExecutorKind.COMMAND, command="true")
    await engine.plans.wait(plan.plan_id)

    on_disk = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in on_disk.tasks] == [TaskState.COMPLETE] * 9 and on_disk.completed_at
    assert published[-1] == on_disk  # the last word a listener heard is what is saved
    stamps = [p.updated_at for p in published]
    assert stamps == sorted(stamps)
    for before, after in itertools.pairwise(published):  # no task ever seen going back
        for a, b in zip(before.tasks, after.tasks, strict=True):
            assert LIFECYCLE.index(a.status) <= LIFECYCLE.index(b.status), (a.task_id, a.status, b.status)


async def test_a_task_in_place_costs_one_plan_write(
        engine: Engine, tmp_path: Path) -> None:
    """Tasks in place run one after another. What may start next is decided on the plan as it is
    on disk with its runs mirrored in memory, and one write carries the task that ended and the
    one that started: about a plan write a task (two before)."""
    project = add_project(engine, tmp_path / "p")
    tasks = [{"id": f"t{i}", "description": f"task {i}", "dependencies": [f"t{i - 1}"] if i else []} for i in range(12)]
    plan = engine.plans.plan_from_answer(project, {"tasks": tasks})
    store = engine.store(project)
    writes: list[Plan] = []
    real_put = store.put_plan

    def counted(written: Plan, checked: frozenset[tuple[str, str]] = frozenset()) -> Plan:
        writes.append(real_put(written, checked))
        return writes[-1]

    store.put_plan = counted  # type: ignore[method-assign]
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="true", in_place=True)
    await engine.plans.wait(plan.plan_id)
    on_disk = store.get_plan(plan.plan_id)
    assert [t.status for t in on_disk.tasks] == [TaskState.COMPLETE] * 12 and on_disk.completed_at
    assert len(writes) <= 12 + 4, len(writes)  # dispatching, queueing, a write a task, the plan's completion
    assert writes[-1] == on_disk


async def test_mirroring_reads_the_disk_only_when_asked(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    store = engine.store(project)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "a"}]})
    task_id = plan.tasks[0].task_id
    run = engine.runs.create(project, "a", executor=ExecutorKind.COMMAND, command="true",
                             plan_id=plan.plan_id, plan_task_id=task_id)

    def queue(p: Plan) -> None:
        p.tasks[0].status, p.tasks[0].run_id = TaskState.QUEUED, run.run_id

    engine.plans.update_now(project, plan.plan_id, queue)
    store.update_run(run.run_id, lambda r: setattr(r, "status", TaskState.COMPLETE))  # changed by someone else

    unchanged, written, _, _ = mirror_runs(store, plan.plan_id, {})  # nothing was published: nothing to look at
    assert not written and unchanged.tasks[0].status == TaskState.QUEUED
    mirrored, written, completed, _ = mirror_runs(store, plan.plan_id, None)  # a look at the disk
    assert written and mirrored.tasks[0].status == TaskState.COMPLETE
    assert store.get_plan(plan.plan_id).tasks[0].status == TaskState.COMPLETE
    assert completed is None and not mirrored.completed_at  # a DRAFT plan is not "completed" by its runs


def test_the_last_task_ending_completes_its_running_plan_in_the_same_write(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    store = engine.store(project)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "a"}]})
    run = engine.runs.create(project, "a", executor=ExecutorKind.COMMAND, command="true",
                             plan_id=plan.plan_id, plan_task_id=plan.tasks[0].task_id)

    def running(p: Plan) -> None:
        p.status, p.tasks[0].status, p.tasks[0].run_id = PlanStatus.RUNNING, TaskState.RUNNING, run.run_id

    engine.plans.update_now(project, plan.plan_id, running)
    store.update_run(run.run_id, lambda r: setattr(r, "status", TaskState.COMPLETE))
    writes: list[Plan] = []
    real_update = store.update_plan_signed

    def counted(plan_id: str, change: Any) -> tuple[Plan, bool, Any]:
        written, changed, signed = real_update(plan_id, change)
        if changed:
            writes.append(written)
        return written, changed, signed

    store.update_plan_signed = counted  # type: ignore[method-assign]
    mirrored, _, completed, _ = mirror_runs(store, plan.plan_id, None)
    assert len(writes) == 1 and writes[0].tasks[0].status == TaskState.COMPLETE and writes[0].completed_at
    assert completed is not None and completed[0] == ActivityType.PLAN_COMPLETED and "1 of 1" in completed[1]
    assert mirrored.status == PlanStatus.RUNNING  # completed, awaiting verification, as the spec says
    _, _, cancelling, _ = mirror_runs(store, plan.plan_id, None, complete=False)
    assert cancelling is None


async def test_the_plan_never_says_a_dependency_ended_while_it_shows_it_at_work(engine: Engine, tmp_path: Path) -> None:
    """What may start is decided on the runs mirrored in memory; a write of the plan for another
    reason (a task not started, a budget's hold) carries those first."""
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [
        {"id": "a", "description": "fails"}, {"id": "b", "description": "after it", "dependencies": ["a"]}]})
    published: list[Plan] = []
    engine.bus.subscribe(lambda c: published.append(c.plan) if isinstance(c, PlanChanged) else None)
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="false")
    await engine.plans.wait(plan.plan_id)

    final = engine.store(project).get_plan(plan.plan_id)
    assert [t.status for t in final.tasks] == [TaskState.ERROR, TaskState.CANCELLED]
    assert f"dependency {final.tasks[0].task_id} ended ERROR" in (final.tasks[1].error or "")
    seen = [(p.tasks[0].status, p.tasks[1].status) for p in published]
    assert all(a == TaskState.ERROR for a, b in seen if b == TaskState.CANCELLED), seen


async def test_the_process_id_is_written_while_the_run_works_and_before_its_end(engine: Engine, tmp_path: Path) -> None:
    """The process id is written without holding the run up; it is on disk (what recovery and a
    cancel from another process go by) while the run works, and its end is written after it."""
    project = add_project(engine, tmp_path / "p")
    store = engine.store(project)
    heard: list[Run] = []
    engine.bus.subscribe(lambda c: heard.append(c.run) if isinstance(c, RunChanged) else None)
    run = engine.runs.create(project, "0.1", executor=ExecutorKind.COMMAND, command="sleep 0.4")
    started = await engine.runs.start(project, run.run_id)
    assert started.status == TaskState.RUNNING and started.pid
    await until(lambda: store.get_run(run.run_id).pid == started.pid)
    assert Path(f"/proc/{started.pid}").exists()
    await engine.runs.wait(run.run_id)
    final = store.get_run(run.run_id)
    assert final.status == TaskState.COMPLETE and final.pid is None
    mine = [r for r in heard if r.run_id == run.run_id]
    said_pid = [i for i, r in enumerate(mine) if r.pid == started.pid]
    assert said_pid and mine[-1].status == TaskState.COMPLETE and said_pid[-1] < len(mine) - 1


async def test_a_process_id_that_cannot_be_written_is_said_and_the_run_goes_on(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(pid: int) -> Callable[[Run], None]:
        def change(run: Run) -> None:
            raise OSError(28, "No space left on device")

        return change

    monkeypatch.setattr(runs_module, "_set_pid", disk_full)
    project = add_project(engine, tmp_path / "p")
    run = engine.runs.create(project, "0.3", executor=ExecutorKind.COMMAND, command="sleep")  # alive at its turn
    await engine.runs.start(project, run.run_id)
    await engine.runs.wait(run.run_id)
    store = engine.store(project)
    final = store.get_run(run.run_id)
    assert final.status == TaskState.COMPLETE
    said = [e.text for e in store.read_events(run.run_id) if "process id" in e.text]
    assert said and "No space left on device" in said[0]


async def test_the_process_id_of_a_process_that_ended_before_its_turn_is_not_written(
        engine: Engine, tmp_path: Path) -> None:
    """An instant command often ends before the store worker reaches its process id: that write
    is left out (the end, written next, says all), and no snapshot names a process already gone."""
    project = add_project(engine, tmp_path / "p")
    run = engine.runs.create(project, "instant", executor=ExecutorKind.COMMAND, command="true")
    release = threading.Event()
    heard: list[Run] = []

    def hold_the_worker(change: Change) -> None:  # queued between the RUNNING write and the pid's
        if isinstance(change, RunChanged) and change.run.run_id == run.run_id:
            heard.append(change.run)
            if change.run.status == TaskState.RUNNING and len(heard) == 1:
                engine.ctx.disk.submit(release.wait, 10)

    engine.bus.subscribe(hold_the_worker)
    started = await engine.runs.start(project, run.run_id)
    assert started.pid
    await until(lambda: engine.runs.live[run.run_id].exited)
    release.set()
    await engine.runs.wait(run.run_id)
    final = engine.store(project).get_run(run.run_id)
    assert final.status == TaskState.COMPLETE and final.pid is None
    assert [r.status for r in heard] == [TaskState.RUNNING, TaskState.COMPLETE]
    assert all(r.pid is None for r in heard), heard


async def test_a_start_that_fails_after_its_running_write_ends_the_run_error(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a start needs is made while its RUNNING write is under way. A failure there, even one
    nobody foresaw (made here), ends the run ERROR and says why: never RUNNING with nothing at work."""
    def broken(*_args: object) -> None:
        raise ValueError("an unforeseen failure")

    monkeypatch.setattr(runs_module, "executor_for", broken)
    project = add_project(engine, tmp_path / "p")
    run = engine.runs.create(project, "x", executor=ExecutorKind.COMMAND, command="true")
    ended = await engine.runs.start(project, run.run_id)
    on_disk = engine.store(project).get_run(run.run_id)
    assert ended.status == on_disk.status == TaskState.ERROR and "unforeseen" in (on_disk.error or "")
    assert on_disk.started_at and run.run_id not in engine.runs.live
    said = [e.text for e in engine.store(project).read_events(run.run_id)]
    assert any("could not start" in text and "unforeseen" in text for text in said), said


def test_a_plan_mirrored_in_memory_leaves_the_plan_it_was_made_from_as_it_was(engine: Engine, tmp_path: Path) -> None:
    """The scheduler decides on the plan it last wrote, with its runs mirrored onto copies of the
    tasks that move: the plan it was made from may have been published, and stays as it was."""
    project = add_project(engine, tmp_path / "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"},
                                                             {"id": "b", "description": "two"}]})
    store = engine.store(project)
    runs = [engine.runs.create(project, t.description, executor=ExecutorKind.COMMAND, command="true")
            for t in plan.tasks]
    plan = store.update_plan(plan.plan_id, lambda p: [setattr(t, "run_id", r.run_id) for t, r in
                                                        zip(p.tasks, runs, strict=True)])
    before = plan.model_dump()
    ended = runs[0].model_copy(update={"status": TaskState.ERROR, "error": "exited with code 1"})
    mirrored = mirror_onto(plan, {ended.run_id: ended, runs[1].run_id: runs[1]})
    assert mirrored.changed and plan.model_dump() == before
    assert [t.status for t in mirrored.plan.tasks] == [TaskState.ERROR, plan.tasks[1].status]
    assert mirrored.plan.tasks[0].error == "exited with code 1" and mirrored.plan.tasks[1] is plan.tasks[1]
    assert mirror_onto(plan, {runs[1].run_id: runs[1]}) == (plan, False, None, None)  # nothing moves: the same plan


async def test_a_plan_changed_by_another_process_between_passes_is_read_again(engine: Engine, tmp_path: Path) -> None:
    """A pass decides on the plan it last wrote while the file is unchanged; a change by another
    process (here its cancel, written to the file) is seen at the next pass and nothing more starts."""
    project = add_project(engine, tmp_path / "p")
    tasks = [{"id": f"t{i}", "description": "0.05", "dependencies": [f"t{i - 1}"] if i else []} for i in range(6)]
    plan = engine.plans.plan_from_answer(project, {"tasks": tasks})  # each task: sleep 0.3 0.05
    await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command="sleep 0.3",
                                in_place=True)
    store = engine.store(project)
    await until(lambda: store.get_plan(plan.plan_id).tasks[1].status == TaskState.RUNNING)
    other = StateStore(store.state_dir, project.project_id)  # another process's view of the same files
    other.update_plan(plan.plan_id, lambda p: setattr(p, "status", PlanStatus.CANCELLED))
    await engine.plans.wait(plan.plan_id)
    final = store.get_plan(plan.plan_id)
    assert final.status == PlanStatus.CANCELLED
    started = [t for t in final.tasks if t.status != TaskState.QUEUED]
    assert len(started) == 2, [t.status for t in final.tasks]  # the one at work then, and the one before it
