"""Foreground commands: print a run's output as it happens; Ctrl-C or TERM cancels what started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pmdesk.cli.output import event_line, print_json, print_run_end, print_waiting, run_exit
from pmdesk.engine.notifications import Change, EventsAppended
from pmdesk.engine.signals import on_stop_signals
from pmdesk.models import Project, Run, TaskState

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine


def print_output(engine: Engine, run_ids: set[str] | None, quiet: bool) -> Callable[[], None]:
    """Print the events of ``run_ids`` (None: of every run) until the returned function is called."""
    def on_change(change: Change) -> None:
        if quiet or not isinstance(change, EventsAppended):
            return
        if run_ids is not None and change.run_id not in run_ids:
            return
        out = sys.stdout
        for event in change.events:
            out.write(event_line(event["kind"], event["text"]) + "\n")
        out.flush()

    return engine.bus.subscribe(on_change, only=(EventsAppended,))


async def with_interrupt(main: Awaitable[int], on_interrupt: Callable[[], Awaitable[None]]) -> int:
    """Ctrl-C, TERM or HUP ends the agents this command started (their whole process trees),
    and the command waits until that cancel is recorded before it exits."""
    task = asyncio.ensure_future(main)
    pending: list[asyncio.Future[None]] = []

    def handler() -> None:
        if not pending:
            with contextlib.suppress(OSError):  # after HUP there may be no terminal to tell
                print("\ninterrupted: cancelling…", file=sys.stderr)
            pending.append(asyncio.ensure_future(on_interrupt()))

    undo = on_stop_signals(asyncio.get_running_loop(), handler)
    try:
        return await task
    finally:
        undo()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def detach(engine: Engine) -> None:
    """Leave awaiting runs answerable later ('pmdesk respond' resumes them) and exit."""
    await engine.runs.detach()
    await engine.shutdown()


async def in_foreground(engine: Engine, project: Project, run_id: str, as_json: bool,
                        begin: Callable[[], Awaitable[Run]], hold: bool = False) -> int:
    """Start or continue a run, print its output until it ends or waits; Ctrl-C cancels it.
    With ``hold``, a request mid-turn keeps the agent waiting here for a decision made elsewhere
    (``pmdesk approve``, the window, the API), which it carries out in the same turn."""
    unsubscribe = print_output(engine, {run_id}, as_json)
    try:
        begun = await begin()
        if run_id not in engine.runs.live and begun.owner_pid not in (None, os.getpid()):
            unsubscribe()
            return await follow_elsewhere(engine, project, run_id, as_json, begun.owner_pid)

        async def interrupt() -> None:
            await engine.runs.cancel(project, run_id)

        async def follow() -> int:
            while True:
                run = await engine.follow_run(project, run_id)
                if not (hold and run.pending_request is not None and run_id in engine.runs.live):
                    return 0
                print_waiting(run)
                await engine.runs.until_decided(run_id)

        await with_interrupt(follow(), interrupt)
    finally:
        unsubscribe()
    final = engine.store(project).get_run(run_id)
    await detach(engine)
    print_json(final) if as_json else print_run_end(final)
    return run_exit(final)


ELSEWHERE_POLL_S = 0.2


async def follow_elsewhere(engine: Engine, project: Project, run_id: str, as_json: bool, holder: int) -> int:
    """The run works in another pmdesk process (the window that owns the project): its output
    is read from the run's event log as it is written, until the run ends or waits. Ctrl-C
    stops following here; the run goes on there."""
    store = engine.store(project)
    if not as_json:
        print(f"run {run_id} is carried out by pmdesk pid {holder}, which owns {project.name}; its output "
              "follows (Ctrl-C stops following, the run goes on)", file=sys.stderr)
    seq = 0
    stopped = asyncio.Event()

    async def follow() -> int:
        nonlocal seq
        while not stopped.is_set():
            run = await asyncio.to_thread(store.get_run, run_id)
            for event in await asyncio.to_thread(store.read_events, run_id, seq):
                seq = event.seq
                if not as_json:
                    print(event_line(event.kind, event.text), flush=True)
            if run.status.is_terminal or run.status == TaskState.AWAITING_RESPONSE:
                return 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), ELSEWHERE_POLL_S)
        return 0

    async def stop_following() -> None:
        stopped.set()

    await with_interrupt(follow(), stop_following)
    final = store.get_run(run_id)
    await engine.shutdown()
    print_json(final) if as_json else print_run_end(final)
    return run_exit(final)


async def follow_plan(engine: Engine, project: Project, plan_id: str) -> None:
    """Until the plan settles (every task ended, or the rest wait for an answer); Ctrl-C cancels it."""
    async def interrupt() -> None:
        await engine.plans.cancel(project, plan_id)

    async def follow() -> int:
        await engine.plans.follow(project, plan_id)
        return 0

    await with_interrupt(follow(), interrupt)
