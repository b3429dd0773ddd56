"""Append-only JSON Lines, one file per day, written in batches and read from the tail."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_BLOCK = 64 * 1024


def day_file(directory: Path, when: datetime | None = None) -> Path:
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return directory / f"{day}.jsonl"


def append_records(path: Path, records: Iterable[str | dict[str, Any]]) -> int:
    """Append a batch with a single write. Returns the number of records written."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    if lines:
        append_payload(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)


def append_payload(path: Path, payload: bytes) -> None:
    """Append complete lines (``payload`` ends in a newline) with a single write.

    A writer killed mid-line leaves a fragment without a newline; the next batch starts on
    a fresh line so the fragment stays one skippable bad line and never corrupts the next.
    """
    if not payload:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            payload = b"\n" + payload
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def day_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".jsonl" and p.is_file())
    except FileNotFoundError:
        return []


def _parse(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def iter_records(directory: Path) -> Iterator[dict[str, Any]]:
    """Every parseable record, oldest first; fragments of a crashed write are skipped."""
    for path in day_files(directory):
        with open(path, "rb") as handle:
            for line in handle:
                record = _parse(line)
                if record is not None:
                    yield record


def _tail_lines(path: Path, wanted: int) -> list[bytes]:
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        pos = end
        chunks: list[bytes] = []
        newlines = 0
        while pos > 0 and newlines <= wanted:
            step = min(_BLOCK, pos)
            pos -= step
            handle.seek(pos)
            chunk = handle.read(step)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # first piece may be a partial line
    return lines


def tail_records(directory: Path, count: int) -> list[dict[str, Any]]:
    """The last ``count`` parseable records, oldest first, reading only the file ends."""
    if count <= 0:
        return []
    found: list[dict[str, Any]] = []
    for path in reversed(day_files(directory)):
        need = count - len(found)
        records = [r for r in (_parse(raw) for raw in _tail_lines(path, need)) if r is not None]
        found = records[-need:] + found
        if len(found) >= count:
            break
    return found[-count:]
