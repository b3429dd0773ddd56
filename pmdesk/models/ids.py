"""Identifiers: generation and validation before an id becomes part of a path."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import uuid
from collections.abc import Callable

from pmdesk.errors import ErrorKind, PmdeskError

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The spec's own examples use short ids such as ``plan_xxx`` and ``ptask_001``; files
# written by the original tool may carry them, so any short [A-Za-z0-9_-] suffix is
# accepted on read. Nothing else (no dots, no slashes) can ever reach a path.
_SUFFIX = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"

PREFIXES = ("plan", "ptask", "run", "pkt", "evt", "act", "sess", "pidx", "verify", "letter")


class InvalidIdError(PmdeskError, ValueError):
    """An id that does not match its pattern; the message names the id and the kind."""

    kind = ErrorKind.BAD_REQUEST
    code = "invalid_id"


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{uuid.uuid4()}"


def event_ids(run_id: str) -> Callable[[int], str]:
    """The event id of each number in a run; the run's UUID work is done once.

    An event's id is its run's UUID with the node field XORed with the event's number:
    unique within the run, the same on every read, still a valid UUID. So a stored line
    need not carry its id (nor its run's, which its folder names), and is half as long.
    """
    try:
        base = str(uuid.UUID(run_id.partition("_")[2]))
    except ValueError:  # a short id from the spec's examples
        base = str(uuid.uuid5(uuid.NAMESPACE_URL, run_id))
    prefix, node = f"evt_{base[:24]}", int(base[24:], 16)

    def event_id(seq: int) -> str:
        return f"{prefix}{node ^ seq:012x}"

    return event_id


def event_id(run_id: str, seq: int) -> str:
    return event_ids(run_id)(seq)


def id_pattern(prefix: str) -> str:
    """The anchored pattern of an id (for the OpenAPI document)."""
    return rf"^{prefix}_{_SUFFIX}$"


_PATTERNS = {prefix: re.compile(rf"{prefix}_{_SUFFIX}") for prefix in PREFIXES}


def is_valid_id(value: object, prefix: str) -> bool:
    return type(value) is str and _matches(value, prefix)


@functools.lru_cache(maxsize=8192)
def _matches(value: str, prefix: str) -> bool:
    """Remembered: a plan of 50 tasks names ~50 ids, and the scheduler reads it a few times a task."""
    pattern = _PATTERNS.get(prefix) or re.compile(rf"{prefix}_{_SUFFIX}")
    return pattern.fullmatch(value) is not None


def validate_id(value: object, prefix: str) -> str:
    """Return ``value`` if it is a well-formed ``<prefix>_…`` id, else raise InvalidIdError."""
    if not is_valid_id(value, prefix):
        shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
        raise InvalidIdError(f"invalid {prefix} id {shown}: expected {prefix}_<uuid>")
    assert isinstance(value, str)
    return value


def project_id_for_path(path: str | os.PathLike[str]) -> str:
    real = os.path.realpath(os.fspath(path))
    return "pidx_" + hashlib.sha256(real.encode("utf-8")).hexdigest()[:12]


UUID_PATTERN = _UUID
