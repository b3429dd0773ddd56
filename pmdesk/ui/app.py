"""Start the window on a qasync event loop that also drives the engine."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

APP_ID = "dev.pmdesk.pmdesk"


def create_application() -> object:
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from pmdesk.resources import path as resource

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName("pmdesk")
    QCoreApplication.setApplicationName("pmdesk")
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationDisplayName("pmdesk")
    app.setDesktopFileName(APP_ID)  # packaging/linux/$APP_ID.desktop: the task bar and notifications find the icon
    app.setWindowIcon(QIcon(str(resource("pmdesk.svg"))))
    apply_theme(app)
    return app


def install_loop(app: object) -> object:
    """The qasync loop, with a plain thread pool for asyncio.to_thread.

    qasync's default executor runs callables on QThreads; under load (runs streaming while
    listings refresh in the background) that crashed CPython with "none_dealloc: deallocating
    None" on PySide6 6.12. Worker threads that never touch Qt need no QThread.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import qasync

    loop = qasync.QEventLoop(app)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="pmdesk-io"))
    asyncio.set_event_loop(loop)
    return loop


def apply_theme(app: object) -> None:
    from pmdesk.resources import path as resource

    app.setStyleSheet(resource("pmdesk.qss").read_text(encoding="utf-8"))  # type: ignore[attr-defined]


def run_app(selftest: bool = False) -> int:
    if selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        home = tempfile.mkdtemp(prefix="pmdesk-selftest-")
        os.environ["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        os.environ["XDG_DATA_HOME"] = os.path.join(home, "data")
        os.environ["PMDESK_NO_KEYRING"] = "1"
    from pmdesk.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    show_and_wait_for_paint(window)  # the frame is on screen before asyncio and the engine load
    import asyncio

    from pmdesk.engine.engine import Engine

    loop: Any = install_loop(app)
    engine = Engine(role="window")
    window.attach(engine)
    with loop:
        if selftest:
            from pmdesk.ui.selftest import run_selftest

            code: int = loop.run_until_complete(run_selftest(window))
            return code
        closed = asyncio.Event()
        window.closing.connect(closed.set)
        loop.run_until_complete(window.start())
        if os.environ.get("PMDESK_STARTUP_PROBE") == "ready":
            _report("readyAt", window)
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(window.controller.local_api.stop())
        loop.run_until_complete(engine.runs.detach())
        loop.run_until_complete(engine.shutdown())
    return 0


def show_and_wait_for_paint(window: Any, timeout_ms: int = 500) -> None:
    """Show the window and run Qt's own loop until it has painted once (or ``timeout_ms``)."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    waiting = QEventLoop()
    probe = os.environ.get("PMDESK_STARTUP_PROBE")

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                if probe == "paint":  # packaging/measure_startup.py and benchmarks/bench_ui.py
                    _report("paintedAt", None)
                QTimer.singleShot(0, waiting.quit)  # after this paint has reached the screen
            return False

    spy = FirstPaint()
    window.installEventFilter(spy)
    QTimer.singleShot(timeout_ms, waiting.quit)  # a platform that never paints (none known) still starts
    window.show()
    waiting.exec()
    window.removeEventFilter(spy)


def _report(what: str, window: Any) -> None:
    """Start-up probes for the benchmarks: print when, then exit at once."""
    import json
    import time

    if window is not None:
        window.repaint()  # the dashboard with its projects, on screen
    print(json.dumps({what: time.time()}), flush=True)
    os._exit(0)
