"""Lines read together: their joined text, CR handling, and whether JSON would escape them."""

from __future__ import annotations

import pytest

from pmdesk.executors.lines import Lines, joined


@pytest.mark.parametrize(("raw", "safe"), [
    (b"plain\nlines of output", True),
    ("ünïcødé ✓ 日本\nok".encode(), True),
    (b"a \"quoted\" word", False),
    (b"C:\\path\\to", False),
    (b"tab\there", False),
    (b"\x1b[31mred\x1b[0m", False),
    (b"bell\x07", False),
    (b"nul\x00byte", False),
])
def test_json_safety_is_judged_on_the_bytes(raw: bytes, safe: bool) -> None:
    lines = Lines.from_bytes(raw)
    assert lines.json_safe is safe
    assert lines == raw.decode("utf-8", "replace").split("\n")
    assert joined(lines) == lines.text == "\n".join(lines)


def test_carriage_returns_before_newlines_are_dropped() -> None:
    lines = Lines.from_bytes(b"one\r\ntwo\r\nthree")
    assert lines == ["one", "two", "three"] and lines.text == "one\ntwo\nthree"
    assert lines.json_safe is False  # judged conservatively: the raw bytes held control characters


def test_a_plain_list_is_joined_on_demand() -> None:
    assert joined(["a", "b"]) == "a\nb"
