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
