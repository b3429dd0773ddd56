"""A run's event trail: batched JSONL appends and one coalesced notification per batch.

This is the hot path of a chatty agent (100,000 lines is an ordinary build log), so an
event is a tuple until it is flushed, its JSON line is formatted directly, its id is a
per-run random UUID whose node field is XORed with the sequence number (unique, still a
valid version-4 UUID), and lines read together share one timestamp.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pmdesk.engine.notifications import ChangeBus, EventsAppended
from pmdesk.engine.redact import Redactor
from pmdesk.store import StateStore
from pmdesk.store.jsonl import append_records, day_file

FLUSH_SECONDS = 0.05
MAX_BATCH = 4000
_encode = json.encoder.encode_basestring  # type: ignore[attr-defined]

Pending = tuple[int, str, str, str, "dict[str, Any] | None"]


class EventRecorder:
    def __init__(self, store: StateStore, run_id: str, bus: ChangeBus, redactor: Redactor,
                 start_seq: int = 0) -> None:
        self.store = store
        self.run_id = run_id
        self.bus = bus
        self.redactor = redactor
        self.seq = start_seq
        self._directory = store.state_dir / "events" / run_id
        self._pending: list[Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self.listeners: list[Any] = []  # callables(kind, text) for the CLI's live output
        base = uuid.uuid4().hex
        self._id_prefix = f"evt_{base[:8]}-{base[8:12]}-{base[12:16]}-{base[16:20]}-"
        self._id_node = int(base[20:], 16)
        self._ts_second = -1
        self._ts_text = ""

    def _now(self) -> str:
        now = time.time()
        millis = int(now * 1000)
        if millis != self._ts_second:
            self._ts_second = millis
            self._ts_text = datetime.fromtimestamp(millis / 1000, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return self._ts_text

    def emit(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        self.emit_many(kind, (text,), data)

    def emit_many(self, kind: str, texts: Iterable[str], data: dict[str, Any] | None = None) -> None:
        """Record lines that arrived together: one timestamp, one redaction of ``data``."""
        ts = self._now()
        shared = self.redactor.any(data) if data else None
        pending = self._pending
        seq = self.seq
        for text in self.redactor.lines(texts if isinstance(texts, list) else list(texts)):
            seq += 1
            pending.append((seq, ts, kind, text, shared))
        added = seq - self.seq
        self.seq = seq
        if self.listeners:
            for item in pending[-added:]:
                for listener in self.listeners:
                    listener(kind, item[3])
        if len(pending) >= MAX_BATCH:
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
        run_id = self.run_id
        prefix, node = self._id_prefix, self._id_node
        lines = []
        last_data: Any = None
        data_tail = "}"
        for seq, ts, kind, text, data in batch:
            if data is not last_data:  # lines read together share one data dict: encode it once
                last_data = data
                data_tail = f',"data":{json.dumps(data, ensure_ascii=False)}}}' if data else "}"
            lines.append(f'{{"eventId":"{prefix}{(node ^ seq):012x}","runId":"{run_id}","seq":{seq},"ts":"{ts}",'
                         f'"kind":{_encode(kind)},"text":{_encode(text)}{data_tail}')
        append_records(day_file(self._directory), lines)
        if self.bus.wants(EventsAppended):
            events = [{"eventId": f"{prefix}{(node ^ seq):012x}", "runId": run_id, "seq": seq, "ts": ts,
                       "kind": kind, "text": text, **({"data": data} if data else {})}
                      for seq, ts, kind, text, data in batch]
            self.bus.publish(EventsAppended(self.store.project_id, run_id, events))
