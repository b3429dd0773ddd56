"""One search over everything: every kind of text is found and names its event, phrases and
prefixes, newest first; the index rebuilt from the JSONL equals the one built as lines came;
a damaged or deleted index is built again with nothing lost; a removed project leaves the
results; a live run's lines are found while it works; the command line and its refusals."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from pmdesk.engine.engine import Engine
from pmdesk.engine.recorder import EventRecorder
from pmdesk.engine.search import SearchIndex, parse_query
from pmdesk.errors import BadQueryError
from pmdesk.models import ExecutorKind, Project, TaskState
from pmdesk.store.jsonl import append_payload, day_file
from tests.conftest import run_cli
from tests.engine.helpers import add_project, until

LINES = [("assistant", "the quokka agrees with the plan"), ("tool_use", "Bash: ls marmoset/"),
         ("tool_result", "wombat.txt"), ("question", "should I rename the pangolin module?"),
         ("answer", "yes rename pangolin"), ("gate", "npm test: 3 ibis tests failing"),
         ("stdout", "narwhal build ok"), ("system", "status noise kiwi")]
KIND_OF = {"assistant": "assistant", "tool_use": "tool", "tool_result": "output", "question": "question",
           "answer": "answer", "gate": "gate", "stdout": "output"}


def record(engine: Engine, project: Project, run_id: str, lines: list[tuple[str, str]]) -> None:
    """Lines through the run's recorder, as an agent's would be written."""
    store = engine.store(project)
    recorder = EventRecorder(store, run_id, engine.bus, engine.redactor, start_seq=store.last_event_seq(run_id))
    for kind, text in lines:
        recorder.emit(kind, text)
    recorder.flush()


def a_run(engine: Engine, project: Project, prompt: str, lines: list[tuple[str, str]]) -> str:
    run = engine.runs.create(project, prompt, executor=ExecutorKind.COMMAND, command="true")
    record(engine, project, run.run_id, lines)
    return run.run_id


def rows(index: SearchIndex) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(index.path)
    try:
        return sorted(conn.execute("SELECT n.run_id, h.seq, h.ts, h.kind, h.day, h.offset FROM hits h "
                                   "JOIN runs n ON n.id = h.run").fetchall())
    finally:
        conn.close()


async def test_every_kind_is_found_and_names_its_event(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run_id = a_run(engine, project, "teach the zebra parser", LINES)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "migrate the axolotl schema"}]})
    store = engine.store(project)
    by_text = {e.text: e.seq for e in store.read_events(run_id)}

    found = await engine.search("zebra")
    assert [(h.kind, h.run_id, h.seq) for h in found.hits] == [("prompt", run_id, None)]
    for (kind, text), word in zip(LINES[:-1], ["quokka", "marmoset", "wombat", "pangolin module", "rename pangolin",
                                               "ibis", "narwhal"], strict=True):
        hits = (await engine.search(word, kinds=[KIND_OF[kind]])).hits
        assert [(h.kind, h.run_id, h.seq, h.text) for h in hits] == [(KIND_OF[kind], run_id, by_text[text], text)]
        first = hits[0]
        assert all(first.text[a:b].lower() in word.lower() for a, b in first.spans) and first.spans  # marked
    task = (await engine.search("axolotl")).hits
    assert [(h.kind, h.plan_id, h.task_id) for h in task] == [("task", plan.plan_id, plan.tasks[0].task_id)]
    assert (await engine.search("kiwi")).hits == []  # status and system lines are not searched

    # Phrases keep their order, words all must match, a prefix matches word starts.
    assert [h.kind for h in (await engine.search('"rename the pangolin"')).hits] == ["question"]
    assert (await engine.search('"pangolin rename"')).hits == []
    assert [h.kind for h in (await engine.search("pangolin yes")).hits] == ["answer"]
    assert [h.text for h in (await engine.search("narw*")).hits] == ["narwhal build ok"]
    assert {h.kind for h in (await engine.search("pangolin")).hits} == {"question", "answer"}
    assert [h.kind for h in (await engine.search("pangolin", kinds=["question"])).hits] == ["question"]

    # Newest first, and --since.
    time.sleep(0.01)
    later = a_run(engine, project, "again", [("assistant", "a second quokka")])
    assert [h.run_id for h in (await engine.search("quokka")).hits] == [later, run_id]
    assert (await engine.search("quokka", since="2999-01-01")).hits == []
    assert len((await engine.search("quokka", since="2000-01-01")).hits) == 2


async def test_the_rebuilt_index_equals_the_incremental_one(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    index = engine.searching.index(project)
    run_id = a_run(engine, project, "first prompt", LINES[:3])
    index.catch_up()
    record(engine, project, run_id, LINES[3:])
    # A line still being written (no newline yet) is not indexed in part, and is indexed once it ends.
    path = day_file(engine.store(project).state_dir / "events" / run_id)
    line = json.dumps({"seq": 99, "ts": "2026-12-01T10:00:00.000Z", "kind": "stdout", "text": "half written heron"})
    append_payload(path, b"")  # nothing: no newline is added for an empty write
    with path.open("ab") as handle:
        handle.write(line[:30].encode())
    index.catch_up([run_id])
    assert (await engine.search("heron")).hits == []
    with path.open("ab") as handle:
        handle.write(line[30:].encode() + b"\n")
    index.catch_up([run_id])
    other = a_run(engine, project, "second prompt", [("assistant", "more heron text")])
    index.catch_up([other])
    assert len((await engine.search("heron")).hits) == 2
    incremental = rows(index)
    assert len(incremental) == 2 + 7 + 1 + 1  # two prompts, seven searchable lines, the heron, the other run's

    done = await engine.reindex(project)
    assert done[0].rows == len(incremental) and done[0].runs == 2
    assert rows(index) == incremental
    jsonl = sum(p.stat().st_size for p in (engine.store(project).state_dir / "events").rglob("*.jsonl"))
    assert done[0].bytes > 0 and jsonl > 0


async def test_a_damaged_or_deleted_index_is_built_again_with_nothing_lost(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    a_run(engine, project, "find the otter", [("assistant", "the otter swims")])
    before = [(h.kind, h.seq) for h in (await engine.search("otter")).hits]
    assert len(before) == 2
    index = engine.searching.index(project)
    index.close()
    index.path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{index.path}{suffix}").unlink(missing_ok=True)
    again = await engine.search("otter")
    assert [(h.kind, h.seq) for h in again.hits] == before
    assert any("damaged" in note and "built again" in note for note in again.notes)
    index.drop()  # deleted: the next search (with no indexer in this process) catches up from nothing
    assert [(h.kind, h.seq) for h in (await engine.search("otter")).hits] == before
    assert engine.store(project).read_events(engine.store(project).list_runs()[0].run_id)  # the record is whole


async def test_a_project_removed_from_the_registry_leaves_the_results(engine: Engine, tmp_path: Path) -> None:
    one = add_project(engine, tmp_path / "one")
    two = add_project(engine, tmp_path / "two")
    a_run(engine, one, "lynx in one", [])
    a_run(engine, two, "lynx in two", [])
    assert {h.project_name for h in (await engine.search("lynx")).hits} == {"one", "two"}
    assert {h.project_name for h in (await engine.search("lynx", project=two)).hits} == {"two"}
    engine.remove_project(two.project_id)
    assert {h.project_name for h in (await engine.search("lynx")).hits} == {"one"}


async def test_a_live_run_is_found_while_it_works(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    engine.index_in_background()
    run = engine.runs.create(project, "stream", executor=ExecutorKind.COMMAND,
                             command=f"{sys.executable} -u -c \"import time; print('cassowary here'); time.sleep(60)\"")
    await engine.runs.start(project, run.run_id)
    hits: list[object] = []

    def found() -> bool:
        hits[:] = engine.searching.search([project], "cassowary").hits
        return bool(hits)

    await until(found, timeout=10, interval=0.2)
    assert engine.store(project).get_run(run.run_id).status == TaskState.RUNNING  # found while it works
    await engine.runs.cancel(project, run.run_id)
    await engine.shutdown()


async def test_bad_queries_are_refused_with_what_a_query_is(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    a_run(engine, project, "NEAR the colon: a-b (c) OR d", [])
    for bad in ("", "   ", '"', "*", "!!"):
        with pytest.raises(BadQueryError, match="nothing to search for"):
            await engine.search(bad)
    for odd in ("NEAR(a b)", "-colon", "colon:", "(c) OR", 'a-b "OR d'):
        await engine.search(odd)  # FTS5 syntax is the user's text, never an error
    assert len((await engine.search("a-b")).hits) == 1
    with pytest.raises(BadQueryError, match="choose from prompt"):
        await engine.search("x", kinds=["nonsense"])
    with pytest.raises(BadQueryError, match="not a date"):
        await engine.search("x", since="yesterday-ish")


def test_search_from_the_command_line(engine: Engine, tmp_path: Path) -> None:
    project = add_project(engine, tmp_path / "p")
    run_id = a_run(engine, project, "the gecko task", [("assistant", "a gecko line")])
    out = run_cli("search", "gecko")
    assert out.returncode == 0, out.stderr
    assert run_id in out.stdout and "[gecko]" in out.stdout and "2 hits" in out.stderr
    answer = json.loads(run_cli("search", "gecko", "--kind", "assistant", "--json").stdout)
    assert [h["kind"] for h in answer["hits"]] == ["assistant"] and answer["hits"][0]["seq"] == 1
    rebuilt = run_cli("search", "--reindex")
    assert rebuilt.returncode == 0 and "2 lines of 1 runs" in rebuilt.stdout
    refused = run_cli("search", "x", "--kind", "bogus")
    assert refused.returncode == 2 and "choose from" in refused.stderr
    assert run_cli("search").returncode == 2


def test_two_catching_up_at_once_index_each_line_once(engine: Engine, tmp_path: Path) -> None:
    """The window's indexer and a search (or another process) catching up the same run take turns."""
    import threading

    project = add_project(engine, tmp_path / "p")
    run_id = a_run(engine, project, "many lines", [("stdout", f"line {i} of the flood") for i in range(12_000)])
    store = engine.store(project)
    indexes = [SearchIndex(store), SearchIndex(store)]  # a connection each, as two processes have
    threads = [threading.Thread(target=index.catch_up) for index in indexes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert indexes[0].counts() == (12_001, 1)  # the prompt and every line, once
    assert [h.seq for h in indexes[1].search(parse_query('"line 11999"'), None, 0, 5)] == [12_000]
    assert run_id


def test_a_flood_is_indexed_a_bounded_step_at_a_time_and_wholly_after(engine: Engine, tmp_path: Path) -> None:
    """The indexer takes at most LIVE_LINES a pass, so a streaming run is not slowed; a run
    that ended with lines left is kept until every line is in."""
    from pmdesk.engine.notifications import RunChanged
    from pmdesk.engine.search.indexer import BackgroundIndexer

    project = add_project(engine, tmp_path / "p")
    run_id = a_run(engine, project, "flood", [("stdout", f"flood line {i}") for i in range(5_000)])
    indexer = BackgroundIndexer(engine.ctx, engine.searching, engine.projects)  # its steps, without its thread
    indexer._unsubscribe = engine.bus.subscribe(indexer._note, only=(RunChanged,))
    store = engine.store(project)
    store.update_run(run_id, lambda r: setattr(r, "status", TaskState.COMPLETE))
    engine.bus.publish(RunChanged(project.project_id, store.get_run(run_id)))
    index = engine.searching.index(project)
    seen = []
    for _ in range(4):
        indexer.catch_up_now(2000)
        seen.append(index.counts()[0])
    # A pass takes 2,000: the run's record counts as one, so 1,999 lines (and, first, the prompt); then nothing.
    assert seen == [2000, 3999, 5001, 5001]
    assert indexer._runs[project.project_id] == {}  # caught up wholly: no longer followed


async def test_quiet_projects_hold_no_index_connection_once_caught_up(engine: Engine, tmp_path: Path) -> None:
    """With 50 projects, each one's SQLite connection (schema, pages) was held for good after the
    first catch-up, and each thread of a pool that searched held one more. A quiet project's is
    closed once caught up; a live run's project keeps the indexer's until the run ended and is
    indexed to its end; searches hold one a project, on their one thread, and find everything."""
    quiet = [add_project(engine, tmp_path / f"q{i}") for i in range(3)]
    for i, project in enumerate(quiet):
        a_run(engine, project, f"okapi {i}", [("stdout", f"okapi line {i}")])
    live = add_project(engine, tmp_path / "live")
    indexer = engine.index_in_background()
    assert await asyncio.to_thread(indexer.ready.wait, 30)
    indexes = {p.project_id: engine.searching.index(p) for p in [*quiet, live]}
    await until(lambda: not any(index._connections for index in indexes.values()), timeout=10, interval=0.1)
    run = engine.runs.create(live, "stream", executor=ExecutorKind.COMMAND,
                             command=f"{sys.executable} -u -c \"import time; print('tapir here'); time.sleep(60)\"")
    await engine.runs.start(live, run.run_id)
    for _ in range(3):  # searches while it works: one thread, so one connection a project for them all
        await until(lambda: bool(indexes[live.project_id]._connections), timeout=10, interval=0.1)
        assert (await engine.search("tapir", project=live)).hits
    assert len(indexes[live.project_id]._connections) == 2  # the indexer's, following the run, and the searches'
    await engine.runs.cancel(live, run.run_id)
    await until(lambda: len(indexes[live.project_id]._connections) == 1, timeout=10, interval=0.1)
    for _ in range(3):
        assert {h.project_name for h in (await engine.search("okapi")).hits} == {"q0", "q1", "q2"}
    assert [len(indexes[p.project_id]._connections) for p in quiet] == [1, 1, 1]
    await engine.shutdown()


async def test_pages_of_hits_are_complete_when_many_share_a_millisecond(engine: Engine, tmp_path: Path) -> None:
    """130 lines written in a few milliseconds, and an older run caught up after a newer one: the
    pages were taken by index row and a cursor compared seq as text, so 63 of 130 hits were never
    shown. Every hit now comes once, newest first, whatever the page size."""
    project = add_project(engine, tmp_path / "p")
    newer = a_run(engine, project, "newer", [("stdout", f"ibex sighting {i}") for i in range(130)])
    index = engine.searching.index(project)
    index.catch_up([newer])  # the newer run is indexed first: its rows come before the older run's
    older = engine.runs.create(project, "older", executor=ExecutorKind.COMMAND, command="true")
    store = engine.store(project)
    lines = [json.dumps({"eventId": f"evt_old{i}", "runId": older.run_id, "seq": i + 1, "ts": "2026-01-02T03:04:05Z",
                         "kind": "stdout", "text": f"ibex of old {i}"}) for i in range(40)]
    append_payload(day_file(store.state_dir / "events" / older.run_id), ("\n".join(lines) + "\n").encode())
    index.catch_up([older.run_id])
    for size in (7, 50):
        seen: list[tuple[str | None, int | None]] = []
        stamps: list[str] = []
        after = None
        while True:
            page = await engine.search("ibex", after=after, limit=size)
            seen += [(h.run_id, h.seq) for h in page.hits]
            stamps += [h.ts for h in page.hits]
            after = page.next
            if after is None:
                break
        assert len(seen) == len(set(seen)) == 170, (size, len(seen), len(set(seen)))
        assert stamps == sorted(stamps, reverse=True)
        assert seen[-40:] == [(older.run_id, i) for i in range(40, 0, -1)]  # the old run's, oldest last


async def test_a_flood_stamped_in_one_millisecond_pages_whole(engine: Engine, tmp_path: Path) -> None:
    """More lines in one millisecond than it has places for (a flood's batch shares one stamp):
    the rest go into the next milliseconds, and every one still comes exactly once."""
    from pmdesk.engine.search.index import SLOTS

    project = add_project(engine, tmp_path / "p")
    flood = engine.runs.create(project, "flood", executor=ExecutorKind.COMMAND, command="true")
    store = engine.store(project)
    lines = [json.dumps({"eventId": f"evt_f{i}", "runId": flood.run_id, "seq": i + 1, "ts": "2026-03-04T05:06:07Z",
                         "kind": "stdout", "text": f"gnu number {i}"}) for i in range(SLOTS + 300)]
    append_payload(day_file(store.state_dir / "events" / flood.run_id), ("\n".join(lines) + "\n").encode())
    seen: list[int | None] = []
    after = None
    while True:
        page = await engine.search("gnu", after=after, limit=500)
        seen += [h.seq for h in page.hits]
        after = page.next
        if after is None:
            break
    assert sorted(s for s in seen if s is not None) == list(range(1, SLOTS + 301)) and len(seen) == SLOTS + 300
