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


def lag(seconds: float, runs: int, rate: int) -> None:
    """8 runs streaming into the open window; a 5 ms timer measures how late the loop is."""
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
        for run_id in ids:
            await engine.runs.wait(run_id)
        probe.stop()
        lines = sum(engine.store(project).last_event_seq(r) for r in ids)
        ordered = sorted(lags)
        worst = max(range(len(lags)), key=lags.__getitem__)
        print(json.dumps({"p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1], "samples": len(ordered),
                          "max_at": at[worst] - began,
                          "lines": lines, "log_blocks": window.project_page.log.blockCount()}), flush=True)
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


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "paint":
        first_paint()
    elif what == "lag":
        lag(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif what == "rss":
        idle_memory(int(sys.argv[2]))
