"""The composition root: the application, the qasync loop, the engine, the window and its controllers.

Only this module builds controllers; the window knows none of them. The order is what the
start-up benchmark measures: the window's frame paints first, then asyncio and the engine
load, then ``attach`` builds the pages and the controllers on the engine.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asyncio too: it loads after the first paint (36 ms), with the loop
    import asyncio

    import qasync
    from PySide6.QtWidgets import QApplication

    from pmdesk.engine.engine import Engine
    from pmdesk.ui.bridge import EngineBridge
    from pmdesk.ui.controllers.packets import PacketsController
    from pmdesk.ui.controllers.plans import PlansController
    from pmdesk.ui.controllers.projects import ProjectsController
    from pmdesk.ui.controllers.review import ReviewController
    from pmdesk.ui.controllers.runs import RunsController
    from pmdesk.ui.controllers.search import SearchController
    from pmdesk.ui.controllers.settings import SettingsController
    from pmdesk.ui.controllers.shell import Shell
    from pmdesk.ui.controllers.window import WindowController
    from pmdesk.ui.main_window import MainWindow
    from pmdesk.ui.memory import MemoryReturner
    from pmdesk.ui.tray import Tray

APP_ID = "dev.pmdesk.pmdesk"
_signal_sockets: list[object] = []
SPLITTERS = (("dashboard", "dashboard/split"), ("project_page", "project/split"))


@dataclass
class Controllers:
    """The window's controllers, composed on one engine."""

    engine: Engine
    bridge: EngineBridge
    shell: Shell
    projects: ProjectsController
    runs: RunsController
    plans: PlansController
    settings: SettingsController
    window: WindowController
    tray: Tray
    review: ReviewController
    packets: PacketsController
    search: SearchController
    memory: MemoryReturner

    async def start(self) -> None:
        await self.projects.start()
        self.engine.watch_others()  # the CLI's and other processes' changes appear without F5
        self.engine.index_in_background()  # search finds what runs write as they write it
        await self.settings.start()

    async def keep_working(self, stop: asyncio.Event | None = None, step_s: float = 0.5) -> None:
        """The window has closed with "Leave them working": pmdesk goes on without it (no API, no
        tray) while runs work or plans have work to start, carrying out what other pmdesk processes
        ask of them (a new window's answers); then it ends as ``stop`` does, and what waits for an
        answer stays answerable from the next start. ``stop`` set (a signal): now."""
        import asyncio

        self.bridge.close()
        await self.settings.local_api.stop()  # the next window may serve the API
        self.tray.hide()
        engine = self.engine
        while not (stop is not None and stop.is_set()):
            if engine.work_in_hand() == (0, 0):  # what is left only waits for answers: answerable later
                break
            try:
                await asyncio.wait_for(stop.wait() if stop is not None else asyncio.sleep(step_s), step_s)
            except TimeoutError:
                pass
        await engine.runs.detach()
        await engine.shutdown()

    async def stop(self) -> None:
        """The window has closed: stop serving, leave waiting runs answerable, end the rest."""
        self.bridge.close()
        self.memory.stop()
        await self.settings.local_api.stop()
        await self.engine.runs.detach()
        await self.engine.shutdown()


def attach(window: MainWindow, engine: Engine) -> Controllers:
    """Build the pages and the controllers on ``engine``; the menus come alive."""
    from PySide6.QtCore import QSettings

    from pmdesk.engine.overview import read_cached
    from pmdesk.ui.bridge import EngineBridge
    from pmdesk.ui.controllers.packets import PacketsController
    from pmdesk.ui.controllers.plans import PlansController
    from pmdesk.ui.controllers.projects import ProjectsController
    from pmdesk.ui.controllers.review import ReviewController
    from pmdesk.ui.controllers.runs import RunsController
    from pmdesk.ui.controllers.search import SearchController
    from pmdesk.ui.controllers.settings import SettingsController
    from pmdesk.ui.controllers.shell import Shell
    from pmdesk.ui.controllers.window import WindowController
    from pmdesk.ui.dashboard import DashboardPage
    from pmdesk.ui.dashboard_cache import cached_dashboard_path
    from pmdesk.ui.memory import MemoryReturner
    from pmdesk.ui.project_page import ProjectPage
    from pmdesk.ui.tray import Tray

    dashboard = DashboardPage()
    page = ProjectPage(window.actions_by_id)
    dashboard.set_overviews(read_cached(cached_dashboard_path()))  # never an empty table while loading
    window.set_pages(dashboard, page)
    bridge = EngineBridge(engine, window)
    dashboard.bind(bridge)
    page.bind(bridge)
    shell = Shell(engine, window, bridge)
    projects = ProjectsController(shell)
    runs = RunsController(shell)
    plans = PlansController(shell)
    settings = SettingsController(shell)
    review = ReviewController(shell)
    packets = PacketsController(shell)
    search = SearchController(shell, projects, runs)
    controls = WindowController(shell, projects, runs, plans, settings, review, packets, search)

    def project_name(project_id: str) -> str:
        return next((p.name for p in engine.projects() if p.project_id == project_id), project_id)

    tray = Tray(window, bridge, project_name, projects.open_run)
    from pmdesk.ui.async_slots import set_error_sink

    set_error_sink(shell.show_error)
    stored = QSettings()
    for attr, key in SPLITTERS:
        value = stored.value(key)
        if value is not None:
            getattr(window, attr).splitter.restoreState(value)

    def save_layout() -> None:
        bridge.close()
        for attr, key in SPLITTERS:
            QSettings().setValue(key, getattr(window, attr).splitter.saveState())

    window.closing.connect(save_layout)
    window.destroyed.connect(bridge.close)
    memory = MemoryReturner(window)  # what streaming runs freed goes back to the system
    return Controllers(engine, bridge, shell, projects, runs, plans, settings, controls, tray, review, packets, search,
                       memory)


def open_window(engine: Engine) -> tuple[MainWindow, Controllers]:
    """A window attached to ``engine`` (for tests, the selftest, benchmarks and screenshots)."""
    from pmdesk.ui.main_window import MainWindow

    window = MainWindow()
    return window, attach(window, engine)


def create_application() -> QApplication:
    from pmdesk.ui.pyside_sources import stop_keeping_sources

    stop_keeping_sources()
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from pmdesk.ui.resources import path as resource

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName("pmdesk")
    QCoreApplication.setApplicationName("pmdesk")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationDisplayName("pmdesk")
    app.setDesktopFileName(APP_ID)  # packaging/linux/$APP_ID.desktop: the task bar and notifications find the icon
    app.setWindowIcon(QIcon(str(resource("pmdesk.svg"))))
    apply_theme(app)
    return app


def install_loop(app: QApplication) -> qasync.QEventLoop:
    """The qasync loop, with a plain thread pool for asyncio.to_thread.

    qasync's default executor runs callables on QThreads; under load (runs streaming while
    listings refresh in the background) that crashed CPython with "none_dealloc: deallocating
    None" on PySide6 6.12. Worker threads that never touch Qt need no QThread.
    """
    import asyncio

    import qasync

    loop = qasync.QEventLoop(app)
    use_plain_threads(loop)
    asyncio.set_event_loop(loop)
    return loop


def use_plain_threads(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio.to_thread on plain threads, never qasync's QThreads (see ``install_loop``): every
    loop the window runs on, the tests' and the screenshots' included."""
    from concurrent.futures import ThreadPoolExecutor

    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="pmdesk-io"))


def apply_theme(app: QApplication, choice: str | None = None) -> None:
    from pmdesk.ui import theme

    theme.apply_saved(app, choice)


def run_app(selftest: bool = False) -> int:
    if selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import tempfile

        home = tempfile.mkdtemp(prefix="pmdesk-selftest-")
        os.environ["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        os.environ["XDG_DATA_HOME"] = os.path.join(home, "data")
        os.environ["PMDESK_NO_KEYRING"] = "1"
    from pmdesk.ui.pyside_sources import stop_keeping_sources

    stop_keeping_sources()
    from pmdesk.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    show_cached_projects(window)  # listed at the first paint; the engine refreshes them a moment later
    show_and_wait_for_paint(window)  # the frame is on screen before asyncio and the engine load
    import asyncio

    from pmdesk.engine.engine import Engine

    loop: Any = install_loop(app)
    engine = Engine(role="window")
    controllers = attach(window, engine)
    with loop:
        if selftest:
            from pmdesk.ui.selftest import run_selftest

            code: int = loop.run_until_complete(run_selftest(window, controllers))
            return code
        closed, stopping = asyncio.Event(), asyncio.Event()
        window.closing.connect(closed.set)
        stop_on_signals(window, stopping.set)
        loop.run_until_complete(controllers.start())
        if os.environ.get("PMDESK_STARTUP_PROBE") in ("ready", "listed"):
            _report("readyAt", window)
        loop.run_until_complete(closed.wait())
        if window.leave_working and not stopping.is_set():
            loop.run_until_complete(controllers.keep_working(stopping))
        else:
            loop.run_until_complete(controllers.stop())
    return 0


def stop_on_signals(window: MainWindow, stopping: Any = None) -> None:
    """Ctrl-C, TERM and HUP close the window as Quit would, without asking: runs that work are
    cancelled (their whole trees), runs that wait stay answerable; ``stopping()`` is called too. Qt's loop does not run
    Python's signal handlers by itself; the wake-up fd brings each signal into it."""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    from pmdesk.engine.signals import STOP_SIGNALS

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: None)  # the wake-up byte does the work
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def woken() -> None:
        with contextlib.suppress(OSError):
            reader.recv(64)
        if stopping is not None:
            stopping()  # also when the window is gone and pmdesk keeps runs working without it
        window.allow_close = True
        window.close()

    notifier.activated.connect(woken)
    _signal_sockets[:] = [reader, writer, notifier]  # alive as long as the process


def show_cached_projects(window: Any) -> None:
    """The projects as the dashboard last showed them, on the page the window paints first (plain
    JSON: nothing of the engine is imported yet), so a user with 50 projects sees them at once."""
    import json

    from pmdesk.ui.dashboard_cache import cached_dashboard_path

    try:
        with open(cached_dashboard_path(), "rb") as handle:
            rows = json.loads(handle.read(4 * 1024 * 1024))
    except (OSError, ValueError, RecursionError):  # damaged or hostile: no cache, never a failed start
        return
    if isinstance(rows, list) and window.show_cached(rows):
        window.statusBar().showMessage(window.tr("Projects as last seen; refreshing…"), 5000)


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
                if probe == "listed" and window.cached_rows:  # benchmarks/bench_scale.py
                    _report("listedAt", None)
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
