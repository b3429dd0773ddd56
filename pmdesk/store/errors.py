"""Typed store errors with messages written for the user."""

from __future__ import annotations


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class NotFoundError(StoreError, KeyError):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"no {kind} {item_id!r} in this project")
        self.kind = kind
        self.item_id = item_id

    def __str__(self) -> str:
        return str(self.args[0])


class CrossProjectError(StoreError, ValueError):
    """A record names something that belongs to another project (or to none)."""


class CorruptStateError(StoreError):
    """A state file did not parse; it has been moved aside (see ``quarantined_to``)."""

    def __init__(self, message: str, quarantined_to: str | None) -> None:
        super().__init__(message)
        self.quarantined_to = quarantined_to
