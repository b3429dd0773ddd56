"""Measurements that need their own process and a Qt application (run by bench_ui)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STREAMER = ("import sys, time\nend = time.time() + {seconds}\ni = 0\n"
            "while time.time() < end:\n    i += 1\n    print(f'step {{i}}: agent output line with some text', flush=True)\n"
            "    time.sleep(1 / {rate})\n")


def first_paint() -> None:
    """Seconds from process start (PMDESK_T0) to a bare PySide6 window's first paint (pmdesk's own
    is measured on the real command, see bench_ui._pmdesk_paint)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QMainWindow

    t0 = float(os.environ["PMDESK_T0"])

    class Painted(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                print(json.dumps({"seconds": time.time() - t0}), flush=True)
                os._exit(0)
            return False

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.resize(1280, 780)
    spy = Painted()
    window.installEventFilter(spy)
    window.show()
    app.exec()


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def lag(seconds: float, runs: int, rate: int) -> None:
    """Runs streaming into the open window (the dashboard lists every registered project); a 5 ms
    timer measures how late the loop is; resident memory before, at the end of the stream and
    after the runs ended."""
    from PySide6.QtCore import QTimer

    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    engine = Engine(role="window")
    window, controllers = open_window(engine)
    window.show()
    folder = Path(tempfile.mkdtemp(prefix="pmdesk-lag-"))
    script = folder / "stream.py"
    script.write_text(STREAMER.format(seconds=seconds, rate=rate))
    project = engine.add_project(str(folder), "lag")
    lags: list[float] = []
    at: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - last[0] - 0.005))
        at.append(now)
        last[0] = now

    async def main() -> None:
        await controllers.start()
        await asyncio.sleep(1)
        rss_start = _rss_mib()
        controllers.projects.open_project(project.project_id)
        ids = []
        for i in range(runs):
            run = engine.runs.create(project, f"stream {i}", executor=ExecutorKind.COMMAND,
                                     command=f"{sys.executable} {script}")
            await engine.runs.start(project, run.run_id)
            ids.append(run.run_id)
        await asyncio.sleep(0.5)
        window.project_page.runs.selectRow(0)  # the log view follows one run live
        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(tick)
        last[0] = began = time.perf_counter()
        lags.clear()
        probe.start()
        peak = [0.0]

        async def sample() -> None:
            while True:
                peak[0] = max(peak[0], _rss_mib())
                await asyncio.sleep(1)

        sampler = asyncio.ensure_future(sample())
        await asyncio.sleep(max(0.0, seconds - 1.5))
        rss_streaming = _rss_mib()
        for run_id in ids:
            await engine.runs.wait(run_id)
        probe.stop()
        sampler.cancel()
        await asyncio.sleep(3)
        rss_after = _rss_mib()
        lines = sum(engine.store(project).last_event_seq(r) for r in ids)
        ordered = sorted(lags)
        worst = max(range(len(lags)), key=lags.__getitem__)
        print(json.dumps({"p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1], "samples": len(ordered),
                          "max_at": at[worst] - began,
                          "lines": lines, "log_blocks": window.project_page.log.blockCount(),
                          "rss_start": rss_start, "rss_streaming": rss_streaming, "rss_peak": peak[0],
                          "rss_after": rss_after, "projects": len(engine.projects())}), flush=True)
        await engine.shutdown()

    with loop:
        loop.run_until_complete(main())


def idle_memory(projects: int) -> None:
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    engine = Engine(role="window")
    base = Path(tempfile.mkdtemp(prefix="pmdesk-rss-"))

    async def main() -> None:
        for i in range(projects):
            folder = base / f"project-{i}"
            folder.mkdir()
            project = engine.add_project(str(folder), f"project {i}")
            for k in range(5):
                run = engine.runs.create(project, f"run {k}", executor=ExecutorKind.COMMAND, command="echo hello")
                await engine.runs.start(project, run.run_id)
                await engine.runs.wait(run.run_id)
        window, controllers = open_window(engine)
        window.show()
        await controllers.start()
        await asyncio.sleep(3)
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        print(json.dumps({"rss_kb": rss}), flush=True)
        await engine.shutdown()

    with loop:
        loop.run_until_complete(main())


WRITER = """
import sys, time
from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind
engine = Engine()
known = {p.project_id: p for p in engine.projects()}
print("ready", flush=True)
for line in sys.stdin:
    engine.runs.create(known[line.strip()], "made by another process", executor=ExecutorKind.COMMAND, command="true")
    print(time.time(), flush=True)
"""


def live(projects: int, changes: int) -> None:
    """Another process adds runs to the projects; how long until the open window's dashboard says so
    (and until the engine's notice reaches the window: the watcher's part of it)."""
    from pmdesk.engine.engine import Engine
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    engine = Engine(role="window")
    base = Path(tempfile.mkdtemp(prefix="pmdesk-live-"))
    made = []
    for i in range(projects):
        (base / f"project-{i}").mkdir()
        made.append(engine.add_project(str(base / f"project-{i}"), f"project {i}"))
    window, controllers = open_window(engine)
    window.show()
    noticed: dict[str, float] = {}
    controllers.bridge.runsChanged.connect(
        lambda project_id, _runs: noticed.setdefault(project_id, time.time()))

    async def main() -> None:
        await controllers.start()
        writer = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, cwd=ROOT)
        assert writer.stdin is not None and writer.stdout is not None
        await writer.stdout.readline()
        shown, told = [], []
        dashboard = window.dashboard.model
        for i in range(changes):
            project = made[i % projects]
            row = dashboard.row_of(project.project_id)
            assert row is not None
            expected = dashboard.record(row).total + 1
            noticed.pop(project.project_id, None)
            writer.stdin.write(f"{project.project_id}\n".encode())
            await writer.stdin.drain()
            written = float((await writer.stdout.readline()).decode())
            deadline = time.time() + 10
            while dashboard.record(dashboard.row_of(project.project_id) or 0).total < expected:
                assert time.time() < deadline, "the window never showed the change"
                await asyncio.sleep(0.005)
            shown.append(time.time() - written)
            told.append(noticed.get(project.project_id, time.time()) - written)
            await asyncio.sleep(0.3)
        writer.stdin.close()
        await writer.wait()
        print(json.dumps({"shown_median": sorted(shown)[len(shown) // 2], "shown_max": max(shown),
                          "told_median": sorted(told)[len(told) // 2], "changes": changes}), flush=True)
        await engine.shutdown()

    with loop:
        loop.run_until_complete(main())


def burst(runs: int) -> None:
    """``runs`` runs started at once from the open window (as Dispatch does); the longest frame stall."""
    from PySide6.QtCore import QTimer

    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    engine = Engine(role="window")
    folder = Path(tempfile.mkdtemp(prefix="pmdesk-burst-"))
    project = engine.add_project(str(folder), "burst")
    window, controllers = open_window(engine)
    window.show()
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            gaps.append(now - last[0])
        last[0] = now

    async def main() -> None:
        await controllers.start()
        controllers.projects.open_project(project.project_id)
        await asyncio.sleep(0.5)
        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(tick)
        probe.start()
        last[0] = time.perf_counter()
        started = await asyncio.gather(*(engine.runs.launch(project, f"burst {i}", executor=ExecutorKind.COMMAND,
                                                            command=f"{sys.executable} -c print({i})")
                                         for i in range(runs)))
        for run in started:
            await engine.runs.wait(run.run_id)
        await asyncio.sleep(0.5)
        probe.stop()
        print(json.dumps({"max_gap": max(gaps) - 0.005, "ticks": len(gaps), "runs": len(started)}), flush=True)
        await engine.shutdown()

    with loop:
        loop.run_until_complete(main())


def burst_floor(runs: int) -> None:
    """The floor for ``burst``: a bare PySide6 window and its 5 ms timer while the same children
    (niced, in bubblewrap where pmdesk uses it, one start per SPAWN_GAP_S) start from its thread."""
    import subprocess

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    from pmdesk.executors.process import SPAWN_GAP_S, yield_cpu
    from pmdesk.executors.process_tree import bwrap_path

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.resize(1280, 760)
    window.show()
    gaps: list[float] = []
    last = [0.0]
    children: list[subprocess.Popen[bytes]] = []

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            gaps.append(now - last[0])
        last[0] = now

    def start(i: int) -> None:
        argv = [sys.executable, "-c", f"print({i})"]
        wrap = bwrap_path()
        if wrap:
            argv = [wrap, "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--", *argv]
        children.append(subprocess.Popen(argv, cwd=str(ROOT), stdout=subprocess.DEVNULL, start_new_session=True))
        yield_cpu(children[-1].pid)
        if i + 1 < runs:
            QTimer.singleShot(int(SPAWN_GAP_S * 1000), lambda: start(i + 1))
        else:
            QTimer.singleShot(20, ended)

    def ended() -> None:
        if any(c.poll() is None for c in children):
            QTimer.singleShot(20, ended)
            return
        QTimer.singleShot(500, finish)

    def finish() -> None:
        probe.stop()
        print(json.dumps({"max_gap": max(gaps) - 0.005, "ticks": len(gaps)}), flush=True)
        app.quit()

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    QTimer.singleShot(500, lambda: (probe.start(), QTimer.singleShot(20, lambda: start(0))))
    app.exec()


def lag_floor(seconds: float, runs: int, rate: int) -> None:
    """The floor for ``lag``: a bare PySide6 window whose own thread reads the same streamers'
    pipes (niced, as pmdesk starts them) and drops the lines; its 5 ms timer's lateness."""
    import subprocess

    from PySide6.QtCore import QSocketNotifier, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    from pmdesk.executors.process import yield_cpu

    app = QApplication(sys.argv)
    window = QMainWindow()
    window.resize(1280, 760)
    window.show()
    folder = Path(tempfile.mkdtemp(prefix="pmdesk-lag-floor-"))
    script = folder / "stream.py"
    script.write_text(STREAMER.format(seconds=seconds, rate=rate))
    lags: list[float] = []
    last = [time.perf_counter()]
    children: list[subprocess.Popen[bytes]] = []
    notifiers: list[QSocketNotifier] = []

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - last[0] - 0.005))
        last[0] = now

    def drain(child: subprocess.Popen[bytes], notifier: QSocketNotifier) -> None:
        assert child.stdout is not None
        if not os.read(child.stdout.fileno(), 65536):
            notifier.setEnabled(False)

    for _ in range(runs):
        child = subprocess.Popen([sys.executable, str(script)], cwd=str(folder), stdout=subprocess.PIPE,
                                 start_new_session=True)
        yield_cpu(child.pid)
        assert child.stdout is not None
        notifier = QSocketNotifier(child.stdout.fileno(), QSocketNotifier.Type.Read)
        notifier.activated.connect(lambda *_signal, c=child, n=notifier: drain(c, n))
        children.append(child)
        notifiers.append(notifier)

    deadline = time.monotonic() + seconds + 15

    def finish() -> None:
        if any(c.poll() is None for c in children) and time.monotonic() < deadline:
            QTimer.singleShot(50, finish)
            return
        for child in children:  # a streamer that outlived its time is not waited for
            if child.poll() is None:
                child.kill()
        probe.stop()
        ordered = sorted(lags)
        print(json.dumps({"p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1]}), flush=True)
        app.quit()

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    def begin() -> None:
        last[0] = time.perf_counter()
        lags.clear()
        probe.start()

    QTimer.singleShot(500, begin)
    QTimer.singleShot(int(seconds * 1000), finish)
    app.exec()


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "paint":
        first_paint()
    elif what == "lag":
        lag(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif what == "lag-floor":
        lag_floor(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif what == "rss":
        idle_memory(int(sys.argv[2]))
    elif what == "live":
        live(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "burst":
        burst(int(sys.argv[2]))
    elif what == "burst-floor":
        burst_floor(int(sys.argv[2]))
