"""The executor protocol: start a run, hear its events, answer it, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.models import TaskState, ToolRequest, Usage

EmitFn = Callable[[str, str, "dict[str, Any] | None"], None]
EmitManyFn = Callable[[str, "list[str]", "dict[str, Any] | None"], None]


class ExecutorError(PmdeskError, RuntimeError):
    """A run could not be started; the message says what to install or configure."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "not_configured"


@dataclass
class Outcome:
    """How one turn of a run ended, or what stopped it mid-turn.

    AWAITING_RESPONSE with a ``request``: the agent waits, in the same turn, for the user to
    allow a tool, answer a question or approve a plan (``Execution.decide`` answers it).
    RUNNING with ``withdrawn``: the agent took such a request back; the turn goes on.
    """

    status: TaskState  # COMPLETE | ERROR | AWAITING_RESPONSE | CANCELLED | RUNNING (withdrawn)
    summary: str | None = None
    error: str | None = None
    question: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    exit_code: int | None = None
    agent_session_id: str | None = None
    request: ToolRequest | None = None
    withdrawn: str | None = None  # the request_id the agent took back
    agent_version: str | None = None


@dataclass
class Verdict:
    """The user's decision on a request, in the terms every executor can act on."""

    allow: bool
    message: str | None = None  # the denial's reason, or feedback, told to the model
    updated_input: dict[str, Any] | None = None  # the tool's input as it should run (a question's answers)
    keep_rule: str | None = None  # allow this rule for the rest of the run, e.g. "Bash(npm test:*)"
    accept_edits: bool = False  # switch to accepting edits from now on (a plan's approval)


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
    on_usage: Callable[[Usage, float | None], None] | None = None  # the turn's usage so far, and its cost if known
    node: str | None = None  # where the run works when not on this machine (set by the executor that placed it)

    def report_usage(self, usage: Usage, cost_usd: float | None) -> None:
        if self.on_usage is not None:
            self.on_usage(usage, cost_usd)

    def emit_lines(self, kind: str, lines: list[str]) -> None:
        if self.emit_many is not None:
            self.emit_many(kind, lines, None)
        else:
            for line in lines:
                self.emit(kind, line, None)


class Execution(Protocol):
    """A started run. ``next_outcome`` returns when a turn ends (done, error, or a question),
    or when the agent stops mid-turn to wait for a decision."""

    @property
    def pid(self) -> int | None: ...

    @property
    def alive(self) -> bool: ...

    async def next_outcome(self) -> Outcome: ...

    async def send(self, text: str) -> None: ...

    async def cancel(self) -> None: ...

    @property
    def steerable(self) -> bool:
        """Whether ``send`` may be called while a turn is under way."""
        ...

    async def decide(self, request_id: str, verdict: Verdict) -> None: ...

    async def interrupt(self) -> None:
        """End the current turn; the run then waits for the user's next message."""
        ...


class Uncontrolled:
    """For executors without a control protocol: nothing asks mid-turn, nothing interrupts."""

    @property
    def steerable(self) -> bool:
        return False

    async def decide(self, request_id: str, verdict: Verdict) -> None:
        raise ExecutorError("this agent does not ask for permissions")

    async def interrupt(self) -> None:
        raise ExecutorError("this agent cannot be interrupted; cancel the run instead")


class Executor(Protocol):
    name: str

    async def start(self, ctx: RunContext) -> Execution: ...

    async def resume(self, ctx: RunContext, answer: str) -> Execution:
        """Continue a run whose process is gone (after a restart) with the user's answer."""
        ...


def looks_like_question(text: str | None) -> bool:
    """A turn that ends on a question to the user, with nothing else to do. A heuristic, for
    executors with no protocol to ask through (a plain command's output)."""
    if not text:
        return False
    tail = text.strip().rstrip("*_`\"' )").strip()
    return tail.endswith("?")
