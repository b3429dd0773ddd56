"""The executor protocol: start a run, hear its events, answer it, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import TaskState, Usage

EmitFn = Callable[[str, str, "dict[str, Any] | None"], None]
EmitManyFn = Callable[[str, "list[str]", "dict[str, Any] | None"], None]


class ExecutorError(PmdeskError, RuntimeError):
    """A run could not be started; the message says what to install or configure."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "not_configured"


@dataclass
class Outcome:
    """How one turn of a run ended."""

    status: TaskState  # COMPLETE | ERROR | AWAITING_RESPONSE | CANCELLED
    summary: str | None = None
    error: str | None = None
    question: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    exit_code: int | None = None
    agent_session_id: str | None = None


@dataclass
class RunContext:
    run_id: str
    workdir: Path
    prompt: str
    model: str | None
    emit: EmitFn
    state_dir: Path
    emit_many: EmitManyFn | None = None  # batches of lines read together (falls back to emit)
    options: dict[str, Any] = field(default_factory=dict)
    agent_session_id: str | None = None
    env: dict[str, str] | None = None

    def emit_lines(self, kind: str, lines: list[str]) -> None:
        if self.emit_many is not None:
            self.emit_many(kind, lines, None)
        else:
            for line in lines:
                self.emit(kind, line, None)


class Execution(Protocol):
    """A started run. ``next_outcome`` returns when a turn ends (done, error, or a question)."""

    @property
    def pid(self) -> int | None: ...

    @property
    def alive(self) -> bool: ...

    async def next_outcome(self) -> Outcome: ...

    async def send(self, text: str) -> None: ...

    async def cancel(self) -> None: ...


class Executor(Protocol):
    name: str

    async def start(self, ctx: RunContext) -> Execution: ...

    async def resume(self, ctx: RunContext, answer: str) -> Execution:
        """Continue a run whose process is gone (after a restart) with the user's answer."""
        ...


def looks_like_question(text: str | None) -> bool:
    """A turn that ends on a question to the user, with nothing else to do."""
    if not text:
        return False
    tail = text.strip().rstrip("*_`\"' )").strip()
    return tail.endswith("?")
