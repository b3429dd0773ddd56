"""Redaction: every shape of secret is masked, alone or in a batch; clean text is left as it is."""

from __future__ import annotations

import pytest

from pmdesk.engine.redact import MASK, Redactor

SECRETS = [
    ("sk-ant-api03-AbCdEf0123456789", "key sk-ant-api03-AbCdEf0123456789 used"),
    ("abcdefghijklmnopqrstuvwx", "Authorization: Bearer abcdefghijklmnopqrstuvwx"),
    ("hunter2hunter2", "PASSWORD=hunter2hunter2"),
    ("s3cr3tvalue", 'client_secret: "s3cr3tvalue"'),
    ("tok_9f8e7d6c5b", "AUTH_TOKEN=tok_9f8e7d6c5b"),
    ("tok_1a2b3c4d5e", "access-token = tok_1a2b3c4d5e"),
    ("k-123456789", "x-api-key: k-123456789"),
    ("zzzzzzzzzz", "ANTHROPIC_API_KEY=zzzzzzzzzz"),
]


@pytest.mark.parametrize(("secret", "line"), SECRETS)
def test_each_shape_is_masked_alone_and_in_a_batch(secret: str, line: str) -> None:
    redactor = Redactor([])
    assert secret not in redactor.text(line) and MASK in redactor.text(line)
    batch = ["plain output", line, "more output"]
    masked = redactor.lines(batch)
    assert masked[0] == "plain output" and masked[2] == "more output"
    assert secret not in masked[1] and MASK in masked[1]
    assert redactor.lines([line]) == [redactor.text(line)]


def test_the_saved_key_is_masked_wherever_it_appears() -> None:
    redactor = Redactor(["plainlookingvalue123"])
    assert redactor.lines(["echo plainlookingvalue123"]) == [f"echo {MASK}"]
    assert redactor.any({"argv": ["x", "plainlookingvalue123"]}) == {"argv": ["x", MASK]}


def test_clean_lines_come_back_untouched() -> None:
    redactor = Redactor(["sk-ant-known-0123456789"])
    lines = ["compiling module 3 of 97", "Authentication succeeded", "a: b"]
    assert redactor.lines(lines) is lines  # nothing in them even looks like a secret: no copy
    looks = ["monkey business", "the token was rotated", "password: short"]
    assert redactor.lines(looks) == looks


def _spellings(line: str) -> list[str]:
    """The line as typed in other cases, and with the four letters beyond ASCII that the pattern
    takes for ASCII ones (İ and ı for i, ſ for s, the Kelvin sign for k)."""
    folds = {"i": ("\u0130", "\u0131"), "I": ("\u0130", "\u0131"), "s": ("\u017f",), "S": ("\u017f",),
             "k": ("\u212a",), "K": ("\u212a",)}
    out = [line, line.upper(), line.lower(), line.swapcase()]
    for at, char in enumerate(line):
        out += [line[:at] + other + line[at + 1:] for other in folds.get(char, ())]
    return out


@pytest.mark.parametrize(("secret", "line"), SECRETS)
def test_the_cheap_look_lets_through_every_spelling_the_pattern_masks(secret: str, line: str) -> None:
    from pmdesk.store.patterns import _PATTERNS, may_hold_secret

    for spelling in _spellings(line):
        if _PATTERNS.search(spelling) is not None:
            assert may_hold_secret(spelling), spelling
            assert MASK in Redactor([]).text(spelling), spelling


def test_a_runs_record_is_not_taken_for_a_secret_by_its_token_counts() -> None:
    """Every run's JSON says "Tokens": the look before the regex must not stop at that word."""
    from pmdesk.models import ExecutorKind, Run
    from pmdesk.models.ids import new_id
    from pmdesk.store.patterns import may_hold_secret

    run = Run(run_id=new_id("run"), project_id=new_id("pidx"), session_id=new_id("sess"), prompt="add a cache",
              executor=ExecutorKind.COMMAND, settings={"command": "true"})
    assert "tokens" in run.to_json().lower() and not may_hold_secret(run.to_json())
    assert may_hold_secret(run.model_copy(update={"prompt": "use api_key=abcdef123"}).to_json())
