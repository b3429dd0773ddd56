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


class _Chunks:
    """An output stream that hands over the given chunks, then the end."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def read(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None: ...


async def test_a_big_chunk_is_handed_over_in_slices_with_every_line_whole() -> None:
    import asyncio

    from pmdesk.executors.process import SLICE, pump_lines

    sent = [f"line {i}" + "x" * (i % 300) for i in range(4000)]
    sent[1000:1000] = ["", "", "y" * (SLICE + 10), ""]  # empty lines and one line longer than a slice
    raw = ("\n".join(sent) + "\n").encode()
    assert len(raw) > 4 * SLICE
    handed: list[list[str]] = []
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.ensure_future(count_turns())
    await pump_lines(_Chunks([raw[:7], raw[7:]]), handed.append)  # the first cut mid-line
    counter.cancel()
    assert [line for batch in handed for line in batch] == sent
    assert len(handed) > 4 and all(len(joined(b).encode()) <= SLICE for b in handed if len(b) > 1)
    # the loop ran between the slices (not before the first one, nor the counter's first turn)
    assert turns >= len(handed) - 3


async def test_a_writer_that_trickles_lines_is_read_in_gathered_batches() -> None:
    """50 runs printing a line every 5 ms woke the window's loop 10,000 times a second, each wake a
    watch set up and taken down again. A trickle is read at most every GATHER: the lines written
    meanwhile come in one read, each whole and in order."""
    import os
    import threading
    import time

    from pmdesk.executors.process import _PipeReader, pump_lines

    read_end, write_end = os.pipe()
    sent = [f"step {i}: agent output" for i in range(200)]

    def write() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as out:
            for line in sent:
                out.write(line.encode() + b"\n")
                time.sleep(0.001)

    writer = threading.Thread(target=write)
    writer.start()
    handed: list[list[str]] = []
    await pump_lines(_PipeReader(read_end), handed.append)
    writer.join()
    assert [line for batch in handed for line in batch] == sent
    assert len(handed) < len(sent) // 2, len(handed)  # about one read per GATHER, not one per line
