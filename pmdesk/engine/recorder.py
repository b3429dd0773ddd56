"""A run's event trail: batched JSONL appends and one coalesced notification per batch."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from pmdesk.engine.notifications import ChangeBus, EventsAppended
from pmdesk.engine.redact import Redactor
from pmdesk.models import utc_now
from pmdesk.store import StateStore
from pmdesk.store.jsonl import append_records, day_file

FLUSH_SECONDS = 0.05
MAX_BATCH = 4000


class EventRecorder:
    def __init__(self, store: StateStore, run_id: str, bus: ChangeBus, redactor: Redactor,
                 start_seq: int = 0) -> None:
        self.store = store
        self.run_id = run_id
        self.bus = bus
        self.redactor = redactor
        self.seq = start_seq
        self._directory = store.state_dir / "events" / run_id
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.listeners: list[Any] = []  # callables(kind, text) for the CLI's live output

    def emit(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        self.seq += 1
        text = self.redactor.text(text)
        event: dict[str, Any] = {
            "eventId": f"evt_{uuid.uuid4()}", "runId": self.run_id, "seq": self.seq,
            "ts": utc_now(), "kind": kind, "text": text,
        }
        if data:
            event["data"] = self.redactor.any(data)
        self._pending.append(event)
        for listener in self.listeners:
            listener(kind, text)
        if len(self._pending) >= MAX_BATCH:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        append_records(day_file(self._directory), [json.dumps(e, ensure_ascii=False) for e in batch])
        self.bus.publish(EventsAppended(self.store.project_id, self.run_id, batch))
