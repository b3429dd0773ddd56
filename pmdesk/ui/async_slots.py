"""Starting engine coroutines from Qt slots, with their errors reported to the user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)
_tasks: set[asyncio.Task[Any]] = set()
_error_sink: list[Callable[[str, BaseException], None]] = []


def set_error_sink(sink: Callable[[str, BaseException], None]) -> None:
    _error_sink[:] = [sink]


def spawn(coro: Coroutine[Any, Any, Any], what: str = "operation",
          on_done: Callable[[Any], None] | None = None) -> asyncio.Task[Any] | None:
    """Schedule ``coro`` on the (qasync) loop; a failure reaches the error sink.

    A slot that fires after its loop closed (a timer on a window kept past its loop) has nowhere
    to run: the coroutine is closed unrun and None returned, not an exception raised inside Qt.
    """
    loop = _loop()
    if loop is None:
        coro.close()
        log.debug("%s not started: its event loop is closed", what)
        return None
    task = loop.create_task(coro)
    _tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None and _window_gone(exc):
            log.debug("%s finished after its widgets were closed", what)
            return
        if exc is not None:
            log.warning("%s failed: %s", what, exc)
            for sink in _error_sink:
                sink(what, exc)
            return
        if on_done is not None:
            on_done(t.result())

    task.add_done_callback(done)
    return task


def _loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()  # set, not yet running: start-up
    except RuntimeError:
        return None
    return None if loop.is_closed() else loop


def _window_gone(exc: BaseException) -> bool:
    """A slot that finished after the window closed: nothing left to show it to."""
    return isinstance(exc, RuntimeError) and "already deleted" in str(exc)


def pending() -> int:
    return len(_tasks)
