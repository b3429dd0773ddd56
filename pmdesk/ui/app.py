"""Start the window on a qasync event loop that also drives the engine."""

from __future__ import annotations

import asyncio
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
    from concurrent.futures import ThreadPoolExecutor

    import qasync

    loop = qasync.QEventLoop(app)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="pmdesk-io"))
    asyncio.set_event_loop(loop)
    return loop


def apply_theme(app: object) -> None:
    from pmdesk.resources import path as resource

    app.setStyleSheet(resource("pmdesk.qss").read_text(encoding="utf-8"))  # type: ignore[attr-defined]


def _report_first_paint(window: Any) -> None:
    """For packaging/measure-startup.sh: print when the window first paints, then exit."""
    import json
    import time

    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                print(json.dumps({"paintedAt": time.time()}), flush=True)
                os._exit(0)
            return False

    window._first_paint_probe = FirstPaint(window)
    window.installEventFilter(window._first_paint_probe)


def run_app(selftest: bool = False) -> int:
    if selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        home = tempfile.mkdtemp(prefix="pmdesk-selftest-")
        os.environ["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        os.environ["XDG_DATA_HOME"] = os.path.join(home, "data")
        os.environ["PMDESK_NO_KEYRING"] = "1"
    from pmdesk.engine.engine import Engine
    from pmdesk.ui.main_window import MainWindow

    app = create_application()
    loop: Any = install_loop(app)
    engine = Engine(role="window")
    window = MainWindow(engine)
    if os.environ.get("PMDESK_STARTUP_PROBE"):
        _report_first_paint(window)
    window.show()
    if selftest:
        from pmdesk.ui.selftest import run_selftest

        with loop:
            code: int = loop.run_until_complete(run_selftest(window))
        return code
    closed = asyncio.Event()
    window.closing.connect(closed.set)
    with loop:
        loop.run_until_complete(window.start())
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(window.controller.local_api.stop())
        loop.run_until_complete(engine.runs.detach())
        loop.run_until_complete(engine.shutdown())
    return 0
