"""Typed store errors with messages written for the user."""

from __future__ import annotations

from pmdesk.errors import ErrorKind, PmdeskError


class StoreError(PmdeskError):
    """Base of everything the store raises on purpose."""

    kind = ErrorKind.FAILED
    code = "store_error"


class NotFoundError(StoreError, KeyError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"

    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"no {kind} {item_id!r} in this project")
        self.item_kind = kind
        self.item_id = item_id


class CrossProjectError(StoreError, ValueError):
    """A record names something that belongs to another project (or to none)."""

    kind = ErrorKind.BAD_INPUT
    code = "cross_project"


class CorruptStateError(StoreError):
    """A state file did not parse; it has been moved aside (see ``quarantined_to``)."""

    kind = ErrorKind.DAMAGED
    code = "corrupt_state"

    def __init__(self, message: str, quarantined_to: str | None) -> None:
        super().__init__(message)
        self.quarantined_to = quarantined_to
