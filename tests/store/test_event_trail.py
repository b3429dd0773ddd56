"""The event recorder's compact lines: what is written reads back whole, with stable ids."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from pmdesk.engine.notifications import ChangeBus, EventsAppended
from pmdesk.engine.recorder import EventRecorder
from pmdesk.engine.redact import Redactor
from pmdesk.models import event_id, new_id
from tests.store.test_store import make_store, new_run

AWKWARD = ['100% "quoted" \\ back\\slash', "tab\there", "ünïcødé ✓ 日本", "", "%d %s %%", "\x1b[31mred\x1b[0m"]


def test_awkward_lines_round_trip_and_ids_are_derived_the_same_everywhere(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    bus = ChangeBus()
    published: list[dict[str, object]] = []
    bus.subscribe(lambda change: published.extend(change.events), only=(EventsAppended,))  # type: ignore[attr-defined]
    recorder = EventRecorder(store, run.run_id, bus, Redactor([]))
    recorder.emit_many("stdout", AWKWARD)
    recorder.emit("gate", "50% done", {"gate": "gate:web", "note": "100%d \"x\""})
    recorder.flush()

    events = store.read_events(run.run_id)
    assert [e.text for e in events] == [*AWKWARD, "50% done"]
    assert [e.seq for e in events] == list(range(1, len(AWKWARD) + 2))
    assert events[-1].data == {"gate": "gate:web", "note": "100%d \"x\""}
    assert all(e.run_id == run.run_id for e in events)
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids) and all(uuid.UUID(i.removeprefix("evt_")) for i in ids)
    assert ids == [event_id(run.run_id, e.seq) for e in events]
    assert ids == [p["eventId"] for p in published]  # the live view and the file agree
    assert [e.event_id for e in store.tail_events(run.run_id, 2)] == ids[-2:]

    lines = next((store.state_dir / "events" / run.run_id).iterdir()).read_text("utf-8").splitlines()
    assert len(lines) == len(AWKWARD) + 1 and all(json.loads(line)["seq"] for line in lines)


def test_recording_continues_numbering_after_a_restart(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    first = EventRecorder(store, run.run_id, ChangeBus(), Redactor([]))
    first.emit_many("stdout", ["a", "b"])
    first.flush()
    again = EventRecorder(store, run.run_id, ChangeBus(), Redactor([]), store.last_event_seq(run.run_id))
    again.emit("answer", "c")
    again.flush()
    events = store.read_events(run.run_id)
    assert [(e.seq, e.text) for e in events] == [(1, "a"), (2, "b"), (3, "c")]
    assert len({e.event_id for e in events}) == 3


def test_lines_that_carry_their_ids_keep_them_and_non_events_are_skipped(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    folder = store.state_dir / "events" / run.run_id
    folder.mkdir(parents=True)
    own_id = new_id("evt")
    (folder / "2026-01-01.jsonl").write_text("\n".join([
        json.dumps({"eventId": own_id, "runId": run.run_id, "seq": 1, "ts": "2026-01-01T00:00:00.000Z",
                    "kind": "stdout", "text": "written by an older version"}),
        json.dumps({"seq": "two", "kind": "stdout"}),
        json.dumps({"seq": 3, "kind": "stdout", "text": "compact"}),
    ]) + "\n")
    events = store.read_events(run.run_id)
    assert [(e.seq, e.event_id) for e in events] == [(1, own_id), (3, event_id(run.run_id, 3))]
    assert [e.seq for e in store.read_events(run.run_id, after=1)] == [3]


def test_secrets_are_masked_before_a_line_is_formatted(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    recorder = EventRecorder(store, run.run_id, ChangeBus(), Redactor(["sk-ant-secretsecret"]))
    recorder.emit_many("stdout", ["key is sk-ant-secretsecret", "clean"], {"token": "sk-ant-secretsecret"})
    recorder.flush()
    raw = next((store.state_dir / "events" / run.run_id).iterdir()).read_text("utf-8")
    assert "secretsecret" not in raw and "[REDACTED]" in raw


async def test_single_lines_interleaved_keep_their_order_kind_and_data(tmp_path: Path) -> None:
    store = make_store(tmp_path / "p")
    run = new_run(store)
    recorder = EventRecorder(store, run.run_id, ChangeBus(), Redactor([]))  # a running loop: batched
    sent = [("stdout", "a", None), ("stdout", "b", None), ("stderr", "c", None), ("stdout", "d", None),
            ("gate", "e", {"gate": "x"}), ("gate", "f", {"gate": "x"}), ("gate", "g", {"gate": "y"}),
            ("gate", "h", None)]
    for kind, text, data in sent:
        recorder.emit(kind, text, data)
    lines = ["caller's list"]
    recorder.emit_many("stdout", lines)
    recorder.emit("stdout", "after")
    assert lines == ["caller's list"]  # merging never grows the caller's list
    recorder.flush()
    events = store.read_events(run.run_id)
    assert [(e.kind, e.text, e.data) for e in events] == [*sent, ("stdout", "caller's list", None),
                                                         ("stdout", "after", None)]
    assert [e.seq for e in events] == list(range(1, 11))


def test_lines_read_from_a_pipe_round_trip_whether_or_not_they_need_escaping(tmp_path: Path) -> None:
    from pmdesk.executors.lines import Lines

    store = make_store(tmp_path / "p")
    run = new_run(store)
    recorder = EventRecorder(store, run.run_id, ChangeBus(), Redactor(["sk-ant-0123456789abcdef"]))
    safe = Lines.from_bytes("plain ✓ 100%\nkey=sk-ant-0123456789abcdef\n%d %s".encode())
    unsafe = Lines.from_bytes(b'with "quotes"\n\ttabbed\nback\\slash')
    assert safe.json_safe and not unsafe.json_safe
    recorder.emit_many("stdout", safe)
    recorder.emit_many("stdout", unsafe)
    recorder.emit_many("gate", safe, {"gate": "g"})
    recorder.flush()
    texts = [e.text for e in store.read_events(run.run_id)]
    masked = ["plain ✓ 100%", "key=[REDACTED]", "%d %s"]
    assert texts == [*masked, 'with "quotes"', "\ttabbed", "back\\slash", *masked]


async def test_a_full_batch_is_written_on_the_next_turn_and_a_tight_loop_is_bounded(tmp_path: Path) -> None:
    import asyncio

    from pmdesk.engine.recorder import MAX_BATCH, MAX_HELD

    store = make_store(tmp_path / "p")
    run = new_run(store)
    recorder = EventRecorder(store, run.run_id, ChangeBus(), Redactor([]))
    recorder.emit_many("stdout", [f"line {i}" for i in range(MAX_BATCH)])
    assert store.last_event_seq(run.run_id) == 0  # not in the step that read them
    await asyncio.sleep(0)
    assert store.last_event_seq(run.run_id) == MAX_BATCH  # the next turn, not the 50 ms timer

    for i in range(MAX_HELD + 10):  # a caller that never lets the loop run
        recorder.emit("stdout", f"more {i}")
    assert store.last_event_seq(run.run_id) == MAX_BATCH + MAX_HELD
    recorder.flush()
    assert [e.seq for e in store.read_events(run.run_id)] == list(range(1, MAX_BATCH + MAX_HELD + 11))
