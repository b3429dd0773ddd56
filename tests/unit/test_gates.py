"""Reading gate output: the [PASS]/[FAIL]/[SKIP] tally and the failure summary."""

from __future__ import annotations

from pmdesk.engine.gates import MAX_MARKS, Gate, GateRun


def test_gate_tally_counts_every_mark_past_the_cap_and_keeps_failures() -> None:
    seen: list[str] = []
    run = GateRun(Gate("gate:web", ["true"]), seen.extend)
    passes = [f"[PASS] check {i}" for i in range(MAX_MARKS + 300)]
    for start in range(0, len(passes), 128):  # chunks, as pump_lines hands them over
        run.feed(passes[start:start + 128])
    run.feed(["  [SKIP] optional", "noise", "[FAIL] late failure", "Error: 1 problem"])
    run.feed([f"[PASS] after {i}" for i in range(10)])
    check = run.check(1, 5)
    assert run.counts == {"PASS": MAX_MARKS + 310, "FAIL": 1, "SKIP": 1}
    assert len(seen) == MAX_MARKS + 314
    assert check.passed is False and "[FAIL] late failure" in check.message
    assert f"{MAX_MARKS + 310} passed, 1 failed, 1 skipped" in check.message
    assert [m.name for m in check.checks or [] if not m.passed] == ["late failure"]
    assert "Error: 1 problem" in run.head_errors


def test_only_marks_that_open_a_line_count_past_the_cap() -> None:
    run = GateRun(Gate("gate:web", ["true"]), lambda lines: None)
    run.feed([f"[PASS] check {i}" for i in range(MAX_MARKS)])
    run.feed(["[PASS] a", "  [PASS] indented", "quoted [PASS] is not a mark", "[SKIP] s", "\t[SKIP] t"])
    run.feed(["mentions [SKIP] only", "[PASS] b"])
    assert run.counts == {"PASS": MAX_MARKS + 3, "FAIL": 0, "SKIP": 2}
