"""The engine's state-file writes, off the event loop and in the order they were asked.

Every run or plan change is a durable write (two fsyncs). On a busy disk one can take tens
of milliseconds, and the engine's loop is the window's: 50 tasks dispatched with their
writes on the loop kept it busy for ~20 ms of every 25. One thread — not a pool — does
them, so writes happen in the order they were asked, their results come back in that order,
and a snapshot published after a write is never older than one published before it.

The worker only touches files. Notifications go out on the loop, after the await.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class StoreWorker:
    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.submit(fn, *args, **kwargs)

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queued now, in order with every write asked before and after; awaited later (or never
        awaited by the caller's chain: a write that need not hold it up)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmdesk-store")
        call = functools.partial(fn, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        """Finish what was asked, then stop the thread (a later call starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
