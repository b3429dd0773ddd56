"""One pmdesk run on a cluster's worker: a Ray actor around the same executor code this machine runs.

The actor clones the task's start from a bundle, starts the executor there, and keeps one ordered
stream of what happened — events, usage, outcomes — that the dispatching machine reads with
``stream``; it asks for the next outcome only when that machine does, so the executor is driven
exactly as ``RunService`` drives it locally. Nothing here imports Ray: ``connection`` makes the
class an actor, and the worker needs only pmdesk (``pip install 'pmdesk[ray]'``) and its agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmdesk.config import AppSettings
from pmdesk.engine.cluster import bundles
from pmdesk.engine.gates import Gate, GateProcess
from pmdesk.engine.isolation import run_set_up
from pmdesk.engine.worktrees.checkout import SetupError
from pmdesk.executors.base import Execution, Executor, ExecutorError, Outcome, RunContext, Verdict
from pmdesk.executors.claude_code import ClaudeCodeExecutor
from pmdesk.executors.command import CommandExecutor
from pmdesk.executors.discovery import require_claude
from pmdesk.models import ExecutorKind, GateCheck, TaskState, Usage

# What an agent needs from the dispatching machine's environment; everything else is the worker's own.
FORWARDED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")
STREAM_WAIT_S = 1.0  # how long ``stream`` holds a read that has nothing new


@dataclass
class Payload:
    """What a run takes to a worker (its secrets travel beside it, see ``RemoteRun.start``)."""

    run_id: str
    prompt: str
    executor: ExecutorKind
    model: str | None
    options: dict[str, Any]
    branch: str
    start_bundle: bytes
    commit_message: str
    agent_session_id: str | None = None
    resume_with: str | None = None  # a resumed session's answer (the run's process had ended)
    setup: list[str] = field(default_factory=list)  # the project's set-up commands, run in the clone first


def forwarded(env: dict[str, str] | None) -> dict[str, str]:
    return {name: env[name] for name in FORWARDED_ENV if env and env.get(name)}


def agent_env(extra: dict[str, str]) -> dict[str, str]:
    """The worker's environment for the agent, less the cluster's own credentials, plus what came along."""
    own = {name: value for name, value in os.environ.items() if not name.startswith("RAY_AUTH")}
    return {**own, **extra}


def worker_executor(kind: ExecutorKind) -> Executor:
    """The executor of ``kind`` as this worker has it (its own Claude Code, its own SDK)."""
    if kind == ExecutorKind.CLAUDE_CODE:
        return ClaudeCodeExecutor(require_claude(AppSettings()))
    if kind == ExecutorKind.ANTHROPIC_AGENT:
        from pmdesk.executors.anthropic_agent import AnthropicAgentExecutor

        return AnthropicAgentExecutor()
    if kind == ExecutorKind.COMMAND:
        return CommandExecutor()
    raise ExecutorError(f"runs of kind {kind.value} do not run on a cluster")


@dataclass
class GatesPayload:
    """What verify takes to a worker: the integration branch, the set-up, and the gates in order."""

    run_id: str
    branch: str
    start_bundle: bytes
    gates: list[Gate]
    setup: list[str] = field(default_factory=list)


class RemoteRun:
    """The actor. Its methods are called by ``RemoteExecution`` (or ``RemoteGates``) on the
    dispatching machine."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self.more = asyncio.Event()  # set when an item is added
        self.execution: Execution | None = None
        self.payload: Payload | None = None
        self.clone: Path | None = None
        self.start_commit: str | None = None
        self.asking: asyncio.Task[None] | None = None
        self.gate: GateProcess | None = None  # verify's gate at work
        self.gates_cancelled = False

    # -- what happened, in order -----------------------------------------------------------

    def _put(self, item: tuple[Any, ...]) -> None:
        self.items.append(item)
        self.more.set()

    def _emit(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        self._put(("event", kind, [text], data))

    def _emit_many(self, kind: str, texts: list[str], data: dict[str, Any] | None = None) -> None:
        self._put(("event", kind, list(texts), data))

    def _usage(self, usage: Usage, cost: float | None) -> None:
        self._put(("usage", usage, cost))

    async def stream(self, after: int) -> list[tuple[Any, ...]]:
        """The items after the first ``after``; waits a little when there are none yet."""
        if len(self.items) <= after:
            self.more.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.more.wait(), STREAM_WAIT_S)
        return self.items[after:]

    # -- the run ----------------------------------------------------------------------------

    async def start(self, payload: Payload, env: dict[str, str]) -> dict[str, Any]:
        """Clone the start, start the agent in it; where it runs, for the run's record. ``env`` holds
        only FORWARDED_ENV, as an argument of its own: small, it travels inline with the call, never
        through the object store (which may spill to disk) nor in a runtime environment or a log."""
        self.payload = payload
        root = Path(os.environ.get("PMDESK_CLUSTER_WORKDIR") or tempfile.gettempdir()) / "pmdesk-runs"
        self.clone = root / payload.run_id
        if self.clone.exists():
            shutil.rmtree(self.clone, ignore_errors=True)
        self.start_commit = await asyncio.to_thread(bundles.clone_start, payload.start_bundle, self.clone,
                                                    payload.branch)
        try:  # as a local worktree is set up: the clone is a fresh one
            await run_set_up(self.clone, payload.setup, agent_env({}), self._emit_many)
        except SetupError as exc:
            raise ExecutorError(f"the worktree's set-up failed on the worker: {exc}") from None
        ctx = RunContext(
            run_id=payload.run_id, workdir=self.clone, prompt=payload.prompt, model=payload.model, emit=self._emit,
            emit_many=self._emit_many, state_dir=self._state_dir(), options=payload.options,
            agent_session_id=payload.agent_session_id, env=agent_env(env), on_usage=self._usage)
        executor = worker_executor(payload.executor)
        if payload.resume_with is not None:
            self.execution = await executor.resume(ctx, payload.resume_with)
        else:
            self.execution = await executor.start(ctx)
        return {**self.where(), "pid": self.execution.pid, "steerable": self.execution.steerable}

    async def next_outcome(self) -> None:
        """Ask the executor for its next outcome, as the dispatching machine's RunService does; the
        outcome comes in the stream, after the events that led to it."""
        if self.asking is not None and not self.asking.done():
            return
        execution = self.execution
        assert execution is not None

        async def ask() -> None:
            try:
                outcome = await execution.next_outcome()
            except Exception as exc:  # an executor bug ends the run visibly, as on the dispatching machine
                outcome = Outcome(TaskState.ERROR, error=f"executor failed on the worker: {exc!r}")
            self._put(("outcome", outcome, execution.alive))

        self.asking = asyncio.ensure_future(ask())

    async def send(self, text: str) -> None:
        assert self.execution is not None
        await self.execution.send(text)

    async def decide(self, request_id: str, verdict: Verdict) -> None:
        assert self.execution is not None
        await self.execution.decide(request_id, verdict)

    async def interrupt(self) -> None:
        assert self.execution is not None
        await self.execution.interrupt()

    async def cancel(self) -> None:
        """End the agent's whole process tree on this worker."""
        if self.execution is not None:
            await self.execution.cancel()

    def alive(self) -> bool:
        return self.execution is not None and self.execution.alive

    async def collect(self) -> bytes | None:
        """What the agent left, committed, and the commits since the start as a bundle (None: none)."""
        if self.clone is None or self.payload is None or self.start_commit is None:
            return None
        return await asyncio.to_thread(bundles.pack_result, self.clone, self.payload.branch, self.start_commit,
                                       self.payload.commit_message)

    def _state_dir(self) -> Path:
        """The executor's own files (the embedded agent's conversation) beside the clone, never in it:
        what is in the clone is committed onto the task's branch."""
        assert self.clone is not None
        return self.clone.with_name(f"{self.clone.name}.state")

    def where(self) -> dict[str, Any]:
        """The node this actor works on, for the run's record."""
        ray: Any = importlib.import_module("ray")  # on the worker, inside Ray: there it is always there
        return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "ip": ray.util.get_node_ip_address()}

    # -- verify's gates ------------------------------------------------------------------------

    async def verify(self, payload: GatesPayload) -> None:
        """Clone the integration branch, set it up, then run the gates one after another in the
        background: their lines, each gate's start and its check come in the stream, then "done"."""
        root = Path(os.environ.get("PMDESK_CLUSTER_WORKDIR") or tempfile.gettempdir()) / "pmdesk-runs"
        self.clone = root / payload.run_id
        if self.clone.exists():
            shutil.rmtree(self.clone, ignore_errors=True)
        await asyncio.to_thread(bundles.clone_start, payload.start_bundle, self.clone, payload.branch)
        self.asking = asyncio.ensure_future(self._gates(payload, self.clone))

    async def _gates(self, payload: GatesPayload, clone: Path) -> None:
        env = agent_env({})  # gates test the project: no key of pmdesk's
        try:
            await run_set_up(clone, payload.setup, env, self._emit_many)
            for gate in payload.gates:
                if self.gates_cancelled:
                    break
                if gate.argv is None:
                    continue  # skipped gates are said on the dispatching machine
                self._put(("gate", gate.name))
                self.gate = GateProcess(gate, clone, env)
                await self.gate.start()

                def said(lines: list[str], name: str = gate.name) -> None:
                    self._emit_many("gate", lines, {"gate": name})

                self._put(("check", await self.gate.finish(said)))
        except Exception as exc:  # set-up failing, a gate that could not run: said, as locally
            self._put(("check", GateCheck(name="gate:all", passed=False, message=f"verification failed on the "
                                                                                f"worker: {exc}")))
        finally:
            self.gate = None
            self._put(("done",))

    async def cancel_gates(self) -> None:
        self.gates_cancelled = True
        if self.gate is not None:
            await self.gate.cancel()

    async def close(self) -> None:
        """The agent ended and its work came back: nothing of the run stays on this worker."""
        await self.cancel()
        await self.cancel_gates()
        if self.clone is not None:
            await asyncio.to_thread(shutil.rmtree, self.clone, True)
            await asyncio.to_thread(shutil.rmtree, self._state_dir(), True)
