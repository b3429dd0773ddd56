"""Foreground commands: print a run's output as it happens; Ctrl-C or TERM cancels what started."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pmdesk.cli.output import event_line, print_json, print_run_end, run_exit
from pmdesk.engine.notifications import Change, EventsAppended
from pmdesk.models import Project, Run

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
    """Ctrl-C or TERM ends the agents this command started (whole process groups)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    interrupted = asyncio.Event()
    pending: list[asyncio.Future[None]] = []

    def handler() -> None:
        if not interrupted.is_set():
            interrupted.set()
            print("\ninterrupted: cancelling…", file=sys.stderr)
            pending.append(asyncio.ensure_future(on_interrupt()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


async def detach(engine: Engine) -> None:
    """Leave awaiting runs answerable later ('pmdesk respond' resumes them) and exit."""
    await engine.runs.detach()
    await engine.shutdown()


async def in_foreground(engine: Engine, project: Project, run_id: str, as_json: bool,
                        begin: Callable[[], Awaitable[Run]]) -> int:
    """Start or continue a run, print its output until it ends or waits; Ctrl-C cancels it."""
    unsubscribe = print_output(engine, {run_id}, as_json)
    try:
        await begin()

        async def interrupt() -> None:
            await engine.runs.cancel(project, run_id)

        async def follow() -> int:
            await engine.follow_run(project, run_id)
            return 0

        await with_interrupt(follow(), interrupt)
    finally:
        unsubscribe()
    final = engine.store(project).get_run(run_id)
    await detach(engine)
    print_json(final) if as_json else print_run_end(final)
    return run_exit(final)
