"""The signals that stop a pmdesk process cleanly: Ctrl-C, TERM, and HUP (its terminal closed).

Every kind of process handles the same three the same way: live runs are cancelled (their
whole process trees end), runs that wait for an answer stay answerable, and the record says
so. Without HUP, closing the terminal of `pmdesk dispatch` or `pmdesk serve` killed pmdesk at
once and left its agents running and their runs RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def on_stop_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Callable[[], None]:
    """Call ``handler`` on the loop when a stop signal arrives; returns the undo."""
    installed = []
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)

    def undo() -> None:
        for sig in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    return undo
