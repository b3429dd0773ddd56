"""Typed change notifications the engine publishes; the window, CLI and API listen."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pmdesk.models import ActivityEvent, Plan, Run
from pmdesk.store import PacketSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunChanged:
    project_id: str
    run: Run


@dataclass(frozen=True)
class PlanChanged:
    project_id: str
    plan: Plan


@dataclass(frozen=True)
class EventsAppended:
    project_id: str
    run_id: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ActivityRecorded:
    project_id: str
    event: ActivityEvent


@dataclass(frozen=True)
class GateProgress:
    project_id: str
    plan_id: str
    gate: str
    state: str  # waiting | running | passed | failed | skipped
    duration_ms: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class PacketAdded:
    project_id: str
    packet: PacketSummary


@dataclass(frozen=True)
class ProjectsChanged:
    pass


Change = RunChanged | PlanChanged | EventsAppended | ActivityRecorded | GateProgress | PacketAdded | ProjectsChanged
Listener = Callable[[Change], None]


class ChangeBus:
    """Synchronous fan-out. Listeners must be quick; the UI coalesces on its side."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, tuple[type, ...] | None]] = []

    def wants(self, kind: type) -> bool:
        """Whether anyone listens for ``kind``: a publisher can skip building what nobody reads."""
        return any(only is None or kind in only for _listener, only in self._listeners)

    def subscribe(self, listener: Listener, only: tuple[type, ...] | None = None) -> Callable[[], None]:
        entry = (listener, only)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def publish(self, change: Change) -> None:
        for listener, only in list(self._listeners):
            if only is not None and type(change) not in only:
                continue
            try:
                listener(change)
            except Exception:  # a broken listener must not break the engine
                log.exception("change listener failed")
