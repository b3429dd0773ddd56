"""Start the window on a qasync event loop that also drives the engine."""

from __future__ import annotations

import asyncio
import os
import sys


def run_app(selftest: bool = False) -> int:
    if selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    from pmdesk.engine.engine import Engine
    from pmdesk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("pmdesk")
    app.setOrganizationName("pmdesk")
    app.setDesktopFileName("pmdesk")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    engine = Engine(role="window")
    window = MainWindow(engine)
    window.show()
    if selftest:
        from pmdesk.ui.selftest import run_selftest

        with loop:
            return loop.run_until_complete(run_selftest(window))
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(window.start())
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(engine.shutdown())
    return 0
