"""A run's event trail: batched JSONL appends and one coalesced notification per batch.

This is the hot path of a chatty agent (100,000 lines is an ordinary build log). Lines
that arrive together are kept as one segment (one timestamp, one kind, one ``data``) and
a segment is formatted in a handful of C-level calls: its lines' parts (number, shared
middle, text, shared end) are laid out in one list by slice assignment and joined once.
Text that needs no escaping (``Lines.json_safe``, checked on the raw bytes) goes in as
it is; escaping every line used to be a third of the work.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pmdesk.engine.notifications import ChangeBus, EventsAppended
from pmdesk.engine.redact import Redactor
from pmdesk.executors.lines import Lines
from pmdesk.models import event_ids
from pmdesk.store import StateStore

FLUSH_SECONDS = 0.05
MAX_BATCH = 4000
MAX_HELD = 4 * MAX_BATCH  # a caller that emits this much without letting the loop run is written to at once
_encode = json.encoder.encode_basestring


@dataclass(slots=True)
class _Segment:
    """Lines read together: consecutive sequence numbers from ``first``."""

    first: int
    ts: str
    kind: str
    texts: list[str]
    data: dict[str, Any] | None
    json_safe: bool  # no text needs escaping (see Lines): written between quotes as it is


class EventRecorder:
    def __init__(self, store: StateStore, run_id: str, bus: ChangeBus, redactor: Redactor,
                 start_seq: int = 0) -> None:
        self.store = store
        self.run_id = run_id
        self.bus = bus
        self.redactor = redactor
        self.seq = start_seq
        self._directory = store.state_dir / "events" / run_id
        self._pending: list[_Segment] = []
        self._pending_lines = 0
        self._timer: asyncio.Handle | None = None
        self._event_id = event_ids(run_id)
        self._ts_millis = -1
        self._ts_text = ""

    def _now(self) -> str:
        millis = int(time.time() * 1000)
        if millis != self._ts_millis:
            self._ts_millis = millis
            self._ts_text = datetime.fromtimestamp(millis / 1000, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return self._ts_text

    def emit(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        self.emit_many(kind, [text], data)

    def emit_many(self, kind: str, texts: list[str], data: dict[str, Any] | None = None) -> None:
        """Record lines that arrived together: one timestamp, one redaction of ``data``."""
        if not texts:
            return
        safe = type(texts) is Lines and texts.json_safe  # masking a secret cannot make a line unsafe
        texts = self.redactor.lines(texts)
        ts = self._now()
        shared = self.redactor.any(data) if data else None
        last = self._pending[-1] if self._pending else None
        if last is not None and last.ts == ts and last.kind == kind and last.data == shared and last.json_safe == safe:
            last.texts.extend(texts)  # one line at a time (an agent's messages) still makes big segments
        else:
            self._pending.append(_Segment(self.seq + 1, ts, kind, list(texts), shared, safe))
        self.seq += len(texts)
        self._pending_lines += len(texts)
        if self._pending_lines >= MAX_HELD:
            self.flush()
        elif self._pending_lines >= MAX_BATCH:
            self._flush_after(0)  # a step of its own: reading and writing a flood take turns on the loop
        elif self._timer is None:
            self._flush_after(FLUSH_SECONDS)

    def _flush_after(self, seconds: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._timer is not None:
            if not seconds and isinstance(self._timer, asyncio.TimerHandle):
                self._timer.cancel()  # due now, not at the end of the batch's 50 ms
            else:
                return
        self._timer = loop.call_soon(self.flush) if not seconds else loop.call_later(seconds, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending, self._pending_lines = self._pending, [], 0
        # "replace": a lone surrogate (an agent's odd tool input) becomes "?", never an error that
        # would leave the run without an outcome.
        self.store.append_event_payload(self.run_id, "".join(map(self._format, batch)).encode("utf-8", "replace"))
        if self.bus.wants(EventsAppended):
            self.bus.publish(EventsAppended(self.store.project_id, self.run_id, self._dicts(batch)))

    def _format(self, segment: _Segment) -> str:
        """The segment's JSON lines, each ending in a newline.

        A line leaves out its event id and run id: the store derives both from the folder
        and the number (``event_ids``), which halves the bytes written per line.
        """
        data = f',"data":{json.dumps(segment.data, ensure_ascii=False)}' if segment.data else ""
        quote = '"' if segment.json_safe else ""
        middle = f',"ts":"{segment.ts}","kind":{_encode(segment.kind)},"text":{quote}'
        between = f'{quote}{data}}}\n{{"seq":'
        count = len(segment.texts)
        parts: list[str] = [middle] * (4 * count)
        parts[0::4] = map(str, range(segment.first, segment.first + count))
        parts[2::4] = segment.texts if segment.json_safe else map(_encode, segment.texts)
        parts[3::4] = [between] * count
        parts[-1] = f"{quote}{data}}}\n"
        parts.insert(0, '{"seq":')
        return "".join(parts)

    def _dicts(self, batch: list[_Segment]) -> list[dict[str, Any]]:
        event_id, run_id = self._event_id, self.run_id
        events = []
        for segment in batch:
            extra = {"data": segment.data} if segment.data else {}
            for seq, text in enumerate(segment.texts, segment.first):
                events.append({"eventId": event_id(seq), "runId": run_id, "seq": seq,
                               "ts": segment.ts, "kind": segment.kind, "text": text, **extra})
        return events
