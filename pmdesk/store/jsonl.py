"""Append-only JSON Lines, one file per day, written in batches and read from the tail."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pmdesk.store.safe_files import DamagedFileError, open_for_append, open_for_reading

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
    fd = open_for_append(path)  # never through a link, never into a FIFO
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
    """The day files, oldest first: regular files only (a link or a FIFO among them is left out)."""
    try:
        with os.scandir(directory) as entries:
            return sorted(Path(e.path) for e in entries
                          if e.name.endswith(".jsonl") and e.is_file(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
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


def iter_records(directory: Path, name: str | None = None) -> Iterator[dict[str, Any]]:
    """Every parseable record, oldest first; fragments of a crashed write are skipped.

    ``name``: only that one file of the directory (not the day files)."""
    for path in day_files(directory) if name is None else [directory / name]:
        try:
            handle = os.fdopen(open_for_reading(path), "rb")
        except (FileNotFoundError, DamagedFileError):
            continue  # replaced by something else since it was listed
        with handle:
            for line in handle:
                record = _parse(line)
                if record is not None:
                    yield record


def _tail_lines(path: Path, wanted: int) -> list[bytes]:
    try:
        handle = os.fdopen(open_for_reading(path), "rb")
    except (FileNotFoundError, DamagedFileError):
        return []
    with handle:
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
