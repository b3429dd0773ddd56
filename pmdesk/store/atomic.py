"""Crash-safe whole-file writes: temp file in the same dir, fsync, rename, fsync the dir."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_together = threading.local()  # .dirs: the directories a ``synced_together`` block will sync at its end


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half.

    ``durable=False`` skips the fsyncs; only for derived files (indexes) that can be rebuilt.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        waiting: set[Path] | None = getattr(_together, "dirs", None)
        if waiting is not None:
            waiting.add(path.parent)
        else:
            fsync_dir(path.parent)


@contextmanager
def synced_together() -> Iterator[None]:
    """Durable writes in this block (on this thread) share their directories' fsync, done once as
    it ends: each file is whole and on disk before its rename, and every rename is on disk when the
    block returns. For a batch of new records nothing refers to yet (a plan's 50 runs as it is
    dispatched: 100 directory syncs became 2)."""
    if getattr(_together, "dirs", None) is not None:  # already in a block: its end syncs these too
        yield
        return
    _together.dirs = set()
    try:
        yield
    finally:
        directories, _together.dirs = _together.dirs, None
        for directory in sorted(directories):
            fsync_dir(directory)


def atomic_write_json(path: Path, obj: Any, *, mode: int = 0o644, durable: bool = True,
                      indent: int | None = 2) -> None:
    data = json.dumps(obj, ensure_ascii=False, indent=indent).encode("utf-8") + b"\n"
    atomic_write_bytes(path, data, mode=mode, durable=durable)


def remove_stale_temp_files(directory: Path, older_than_s: float = 60.0, depth: int = 2) -> int:
    """Delete what ``atomic_write_bytes`` leaves when it is killed mid-write: ``.<name>.<random>.tmp``
    files, never complete records (the record itself is the old or the new file, whole)."""
    removed = 0
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False) and depth > 0:
                removed += remove_stale_temp_files(Path(entry.path), older_than_s, depth - 1)
            elif entry.name.startswith(".") and entry.name.endswith(".tmp") and \
                    entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed
