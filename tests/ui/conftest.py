"""pytest-qt with a qasync loop that runs inside Qt's own event loop (see ENVIRONMENT.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from pmdesk.engine.engine import Engine
from pmdesk.ui.app import Controllers, apply_theme, open_window, use_plain_threads
from pmdesk.ui.main_window import MainWindow

_CLOSED_LOOPS: list[qasync.QEventLoop] = []


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    use_plain_threads(loop)  # as the app does: qasync's QThread executor crashes under load
    asyncio.set_event_loop(loop)
    yield loop
    # Cancel what is left while Qt processes events; never loop.stop() (it quits the app).
    for _ in range(500):
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        qapp.processEvents()
    asyncio.events._set_running_loop(None)
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    loop.close()
    asyncio.set_event_loop(None)
    # Kept for the session: a closed loop's timer object must die on the Qt thread. Dropped here, its
    # last reference can go in a thread still holding the loop (asyncio's child watcher waiting on a
    # process), Qt cannot unregister its timers from there, and a later test crashes in a timer event.
    _CLOSED_LOOPS.append(loop)


def run(qtbot: Any, coro: Coroutine[Any, Any, Any], timeout: int = 30_000) -> Any:
    """Drive a coroutine on the qasync loop from a synchronous test."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def controllers(qtbot: Any, qloop: qasync.QEventLoop, engine: Engine) -> Iterator[Controllers]:
    """The real window on the engine, composed as the app composes it, started."""
    app = QApplication.instance()
    apply_theme(app)
    win, composed = open_window(engine)
    qtbot.addWidget(win)
    win.show()
    run(qtbot, composed.start())
    yield composed
    win.allow_close = True
    composed.bridge.close()
    run(qtbot, composed.settings.local_api.stop())
    run(qtbot, engine.shutdown())


@pytest.fixture
def window(controllers: Controllers) -> MainWindow:
    return controllers.shell.window
