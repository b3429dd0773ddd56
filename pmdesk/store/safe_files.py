"""Every file pmdesk reads or appends to is opened here, so no file can be other than it seems.

A symbolic link is never followed (``O_NOFOLLOW``: an activity file linked to ``~/.bashrc``
does not get pmdesk's lines appended to it), a FIFO or a device never blocks the loop
(``O_NONBLOCK``, then the type is checked on the open descriptor), a directory where a file
belongs is refused, and nothing is read past a limit. Each refusal is a ``DamagedFileError``
that names the file and says what to do; the callers keep the file (quarantined or left in
place) and go on with everything else.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from pmdesk.errors import ErrorKind
from pmdesk.store.errors import StoreError

RECORD_LIMIT = 16 * 1024 * 1024  # one JSON record (a run, a plan, a packet, a setting file)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_APPEND_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class DamagedFileError(StoreError):
    """A file that is not what it should be: a link, not a regular file, too big, not JSON, unreadable."""

    kind = ErrorKind.DAMAGED
    code = "damaged_file"

    def __init__(self, path: Path, reason: str, advice: str = "") -> None:
        super().__init__(f"{path}: {reason}" + (f"; {advice}" if advice else ""))
        self.path = path
        self.reason = reason


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory stands where a file should be"
    if stat.S_ISFIFO(mode):
        return "it is a FIFO, not a file"
    if stat.S_ISSOCK(mode):
        return "it is a socket, not a file"
    return "it is a device or special file, not a regular file"


def _open(path: Path, flags: int, mode: int = 0o644) -> int:
    """An fd on a regular file at ``path``; FileNotFoundError passes through."""
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise DamagedFileError(path, _what(stat.S_IFDIR)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DamagedFileError(path, "it is a symbolic link, which pmdesk does not follow") from None
        if exc.errno in (errno.ENXIO, errno.ENODEV):  # a FIFO with no reader, opened to write
            raise DamagedFileError(path, _what(stat.S_IFIFO)) from None
        raise DamagedFileError(path, f"it cannot be opened ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise DamagedFileError(path, f"it cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DamagedFileError(path, _what(info.st_mode))
    return fd


def read_bytes(path: Path, limit: int = RECORD_LIMIT) -> bytes:
    """The whole file, if it is a regular file of at most ``limit`` bytes."""
    fd = _open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise DamagedFileError(path, f"it is {size:,} bytes, over the {limit:,} byte limit")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:  # it grew while we read
                raise DamagedFileError(path, f"it is over the {limit:,} byte limit")
        return b"".join(chunks)
    except OSError as exc:
        raise DamagedFileError(path, f"it cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def read_json(path: Path, limit: int = RECORD_LIMIT) -> Any:
    """The parsed JSON of a bounded, regular file; text that is not JSON is a DamagedFileError."""
    data = read_bytes(path, limit)
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise DamagedFileError(path, "it is not text (binary content)") from None
    except ValueError as exc:
        reason = "it is empty" if not data.strip() else f"it is not valid JSON ({exc})"
        raise DamagedFileError(path, reason) from None


def open_for_append(path: Path) -> int:
    """A descriptor to append to ``path`` (created if missing), which must be a regular file."""
    fd = _open(path, _APPEND_FLAGS)
    os.set_blocking(fd, True)
    return fd


def open_for_reading(path: Path) -> int:
    """A blocking descriptor on a regular file (for streaming a JSONL file line by line)."""
    fd = _open(path, _READ_FLAGS)
    os.set_blocking(fd, True)
    return fd


def set_private_mode(path: Path, mode: int = 0o600) -> None:
    """Tighten a file's mode through a descriptor, so a link's target is never touched."""
    fd = _open(path, _READ_FLAGS)
    try:
        if os.fstat(fd).st_mode & 0o777 != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
