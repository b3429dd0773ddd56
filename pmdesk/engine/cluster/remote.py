"""A run placed on a cluster, seen from this machine: an ``Executor`` and ``Execution`` like any other.

``RunService`` drives it as it drives a local agent — next outcome, decide, send, interrupt, cancel —
and each call goes to the run's actor on its worker. One reader follows the actor's stream and hands
events to the run's recorder as they come (redacted and stored here, exactly as a local run's), usage
to its budgets, and outcomes to ``next_outcome`` in order. When the run ends, its commits come back as
a bundle onto the task's branch, before the run is called ended. A worker that dies, or a cluster that
goes away, ends the run ERROR ("node lost") with what had streamed kept; nothing is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from pmdesk.engine.cluster import bundles
from pmdesk.engine.cluster.connection import ACTOR_PREFIX, CPUS_PER_RUN, LINK, ClusterError, call, connect
from pmdesk.engine.cluster.worker import Payload, RemoteRun, forwarded
from pmdesk.engine.worktrees.checkout import commit_message
from pmdesk.engine.worktrees.git import GitError
from pmdesk.executors.base import ExecutorError, Outcome, RunContext, Verdict
from pmdesk.models import ExecutorKind, TaskState

UNAVAILABLE_GRACE_S = 20.0  # an actor Ray calls "temporarily unavailable" this long is taken as lost
_actor_class: list[Any] = []


def actor_class(ray: Any) -> Any:
    """``RemoteRun`` as a Ray actor class (made once per process)."""
    if not _actor_class:
        _actor_class.append(ray.remote(RemoteRun))
    return _actor_class[0]


def node_name(info: dict[str, Any]) -> str:
    return f"{info.get('ip') or info.get('host')} (node {str(info.get('node_id', ''))[:8]})"


class RemoteExecution:
    def __init__(self, ray: Any, actor: Any, ctx: RunContext, payload: Payload, info: dict[str, Any]) -> None:
        self.ray = ray
        self.actor = actor
        self.ctx = ctx
        self.payload = payload
        self.node = node_name(info)
        self._steerable = bool(info.get("steerable"))
        self._alive = True
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._seen = 0
        self._closed = False
        self._waiting = False  # RunService awaits an outcome: a cancel's outcome will come to it
        self._closing = asyncio.Lock()
        self._reader = asyncio.ensure_future(self._read())

    @property
    def pid(self) -> int | None:
        return None  # no process of this machine's: the run's record names its node instead

    @property
    def alive(self) -> bool:
        return self._alive and not self._closed

    @property
    def steerable(self) -> bool:
        return self._steerable

    # -- the stream ---------------------------------------------------------------------------

    async def _read(self) -> None:
        unavailable_since: float | None = None
        while not self._closed:
            try:
                items = await call(self.actor.stream.remote(self._seen))
                unavailable_since = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                if type(exc).__name__ == "ActorUnavailableError":  # may come back: give it a while
                    unavailable_since = unavailable_since or time.monotonic()
                    if time.monotonic() - unavailable_since < UNAVAILABLE_GRACE_S:
                        await asyncio.sleep(0.5)
                        continue
                self._lose(exc)
                return
            self._seen += len(items)
            for item in items:
                self._take(item)

    def _take(self, item: tuple[Any, ...]) -> None:
        what = item[0]
        if what == "event":
            _what, kind, texts, data = item
            if self.ctx.emit_many is not None:
                self.ctx.emit_many(kind, texts, data)
            else:
                for text in texts:
                    self.ctx.emit(kind, text, data)
        elif what == "usage":
            self.ctx.report_usage(item[1], item[2])
        elif what == "outcome":
            outcome, alive = item[1], item[2]
            self._alive = bool(alive)
            self._outcomes.put_nowait(outcome)

    def _lose(self, exc: BaseException) -> None:
        """The worker or the cluster is gone: the run ends ERROR, what streamed before is kept."""
        self._alive = False
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.ctx.emit("system", f"node lost: {self.node} stopped answering ({reason[:300]})", {"node": self.node})
        self._outcomes.put_nowait(Outcome(TaskState.ERROR, error=f"node lost: the run's node {self.node} went away "
                                                                   "(what it had streamed is kept; retry it here or "
                                                                   "on the cluster)"))

    # -- the Execution protocol ----------------------------------------------------------------

    async def next_outcome(self) -> Outcome:
        self._waiting = True
        try:
            if not self._reader.done() and not self._closed:
                with contextlib.suppress(Exception):
                    await call(self.actor.next_outcome.remote())  # the reader notices a lost actor
            outcome = await self._outcomes.get()
        finally:
            self._waiting = False
        turn_ended = outcome.request is None and outcome.withdrawn is None
        if turn_ended and not (outcome.status == TaskState.AWAITING_RESPONSE and self._alive):
            await self.close(outcome)
        return outcome

    async def send(self, text: str) -> None:
        await self._remote(self.actor.send.remote(text))

    async def decide(self, request_id: str, verdict: Verdict) -> None:
        await self._remote(self.actor.decide.remote(request_id, verdict))

    async def interrupt(self) -> None:
        await self._remote(self.actor.interrupt.remote())

    async def cancel(self) -> None:
        """End the agent's tree on its worker; what it had done comes back all the same."""
        if self._closed:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call(self.actor.cancel.remote()), 15)
        if not self._waiting:  # nothing asks for the turn's end (it waits for an answer): close here
            await self.close(None)

    async def _remote(self, ref: Any) -> None:
        try:
            await call(ref)
        except ExecutorError:
            raise
        except Exception as exc:
            if type(exc).__name__ in ("ActorDiedError", "RayActorError", "ActorUnavailableError"):
                raise ExecutorError(f"the run's node {self.node} is gone: {exc}") from None
            raise ExecutorError(str(exc)) from None

    async def close(self, outcome: Outcome | None) -> None:
        """Bring the run's commits back onto its branch, then free its actor (once)."""
        async with self._closing:
            if self._closed:
                return
            lost = outcome is not None and (outcome.error or "").startswith("node lost")
            if not lost:
                await self._bring_back()
            self._closed = True  # the reader ends after its read in flight (cancelling it would upset Ray's client)
            if outcome is None and self._outcomes.empty():  # closed by a cancel: whoever asks next hears so
                self._outcomes.put_nowait(Outcome(TaskState.CANCELLED, error="cancelled"))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call(self.actor.close.remote()), 15)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.ray.kill, self.actor)
            LINK.users = max(0, LINK.users - 1)

    async def _bring_back(self) -> None:
        try:
            bundle = await asyncio.wait_for(call(self.actor.collect.remote()), 120)
        except Exception as exc:
            self.ctx.emit("system", f"the run's work could not be brought back from {self.node}: {exc}", None)
            return
        if not bundle:
            self.ctx.emit("system", f"the run changed nothing on {self.node}", {"node": self.node})
            return
        try:
            head, count = await asyncio.to_thread(bundles.land_result, self.ctx.workdir, bundle, self.payload.branch,
                                                  self.ctx.run_id)
        except GitError as exc:
            self.ctx.emit("system", str(exc), None)
            return
        self.ctx.emit("system", f"{count} commit{'s' if count != 1 else ''} came back from {self.node} onto "
                                f"{self.payload.branch} (now {head[:10]}), {len(bundle):,} bytes",
                      {"node": self.node, "head": head, "bytes": len(bundle)})


class ClusterExecutor:
    """Places a run on the cluster at ``address``, running the executor of ``kind`` there."""

    name = "cluster"

    def __init__(self, address: str, kind: ExecutorKind, token: str | None = None) -> None:
        self.address = address
        self.kind = kind
        self.token = token

    async def start(self, ctx: RunContext) -> RemoteExecution:
        return await self._place(ctx, None)

    async def resume(self, ctx: RunContext, answer: str) -> RemoteExecution:
        """The run's process ended while it waited (pmdesk quit, say): a new actor, from the branch
        as it came back, resumes the agent's session there (or starts it afresh with the answer)."""
        return await self._place(ctx, answer)

    async def _place(self, ctx: RunContext, resume_with: str | None) -> RemoteExecution:
        try:
            ray = await connect(self.address, self.token)
        except ClusterError as exc:
            raise ExecutorError(str(exc)) from None
        workdir = Path(ctx.workdir)
        try:
            branch = await asyncio.to_thread(bundles.current_branch, workdir)
            start = await asyncio.to_thread(bundles.pack_start, workdir, branch)
        except GitError as exc:
            raise ExecutorError(f"the run's start could not be bundled for the cluster: {exc}") from None
        payload = Payload(
            run_id=ctx.run_id, prompt=ctx.prompt, executor=self.kind, model=ctx.model, options=dict(ctx.options),
            branch=branch, start_bundle=start, commit_message=commit_message(ctx.prompt, ctx.run_id),
            agent_session_id=ctx.agent_session_id, resume_with=resume_with,
            setup=[str(c) for c in ctx.options.get("cluster_setup") or []])
        ctx.emit("system", f"placing the run on the cluster {self.address} ({len(start):,} bytes of start)",
                 {"cluster": self.address})

        def make() -> Any:
            return actor_class(ray).options(
                name=f"{ACTOR_PREFIX}{ctx.run_id}", num_cpus=CPUS_PER_RUN, max_restarts=0, max_task_retries=0,
                scheduling_strategy="SPREAD").remote()

        try:
            actor = await asyncio.to_thread(make)
        except Exception as exc:
            raise ExecutorError(f"the cluster {self.address} did not take the run: {exc}") from None
        LINK.users += 1
        try:
            info = await call(actor.start.remote(payload, forwarded(ctx.env)))
        except Exception as exc:
            LINK.users = max(0, LINK.users - 1)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ray.kill, actor)
            cause = getattr(exc, "cause", None) or exc
            raise ExecutorError(f"the run could not start on the cluster {self.address}: {cause}") from None
        execution = RemoteExecution(ray, actor, ctx, payload, info)
        ctx.node = execution.node
        ctx.emit("system", f"running on {execution.node} of {self.address}", {"node": execution.node})
        return execution
