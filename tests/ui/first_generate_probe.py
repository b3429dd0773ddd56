"""A fresh process: the real window, a 5 ms timer, and the first plan generation of the process.

Prints the longest gap between two ticks (ms) while the plan is generated — what a user would see
as a frozen frame — and while the window warmed up as the plan dialog opened. Run by tests/ui/test_startup.py
(it needs a process that has not imported the SDK yet).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QTimer


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="pmdesk-generate-"))
    os.environ.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
                       "PMDESK_NO_KEYRING": "1", "ANTHROPIC_API_KEY": "sk-ant-probe-0123456789"})
    from tests.fakes.fake_anthropic import FakeAnthropic, tool_use

    api = FakeAnthropic().start()
    os.environ["ANTHROPIC_BASE_URL"] = api.url
    api.queue(tool_use("submit_plan", {"tasks": [{"id": "t1", "description": "one"}], "summary": "s"}))
    from pmdesk.engine.engine import Engine
    from pmdesk.models import ExecutorKind
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    assert "anthropic" not in sys.modules, "the SDK was imported before the window started"
    engine = Engine(role="window")
    window, controllers = open_window(engine)
    window.show()
    (home / "p").mkdir()
    project = engine.add_project(str(home / "p"), "p")
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            gaps.append(now - last[0])
        last[0] = now

    warm_gaps: list[float] = []

    async def run() -> str:
        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(tick)
        probe.start()
        last[0] = time.perf_counter()
        await controllers.start()
        assert "anthropic" not in sys.modules, "the SDK (~50 MiB) was imported at start, not when needed"
        controllers.projects.open_project(project.project_id)
        await asyncio.sleep(0.3)
        controllers.plans.plan_dialog(from_goal=True)
        warming = controllers.plans.warming
        assert warming is not None
        await warming  # the window imports the SDK in the background while the user writes a goal
        warm_gaps.extend(gaps)
        gaps.clear()
        run = engine.runs.create(project, "x", executor=ExecutorKind.COMMAND, command=f"{sys.executable} -c print(1)")
        await engine.runs.start(project, run.run_id)
        await engine.runs.wait(run.run_id)
        packet = await engine.inspect(project, run.run_id)
        gaps.clear()
        last[0] = time.perf_counter()
        plan = await engine.plans.create_plan(project, packet.packet_id)
        probe.stop()
        window.allow_close = True
        await controllers.stop()
        return plan.status.value

    with loop:
        status = loop.run_until_complete(run())
    api.stop()
    print(json.dumps({"status": status, "max_gap_ms": round(max(gaps) * 1000, 1), "ticks": len(gaps),
                      "warm_up_max_gap_ms": round(max(warm_gaps, default=0) * 1000, 1)}), flush=True)


if __name__ == "__main__":
    main()
