"""`pmdesk --selftest`: the real window exercises the real engine, then exits 0 or says what failed."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PlanStatus, TaskState
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.widgets.badge import AwaitingBadge

if TYPE_CHECKING:
    from pmdesk.ui.app import Controllers


async def _until(predicate: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def _check_api(engine: Engine) -> None:
    """The API server starts on a free port and answers an authenticated request."""
    import aiohttp

    from pmdesk.api.server import ApiServer

    server = ApiServer(engine, "127.0.0.1", 0)
    await server.start()
    try:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.get(f"{server.url}/api/openapi.json") as answer:
            document = await answer.json()
        assert answer.status == 200 and document["openapi"].startswith("3.1"), f"API answered {answer.status}"
    finally:
        await server.stop()


async def run_selftest(window: MainWindow, controllers: Controllers) -> int:
    steps: list[str] = []
    try:
        await controllers.start()
        steps.append("window opened")
        engine = controllers.engine
        folder = Path(tempfile.mkdtemp(prefix="pmdesk-selftest-project-"))
        project = engine.add_project(str(folder), "selftest")
        controllers.projects.open_project(project.project_id)
        steps.append("project registered and opened")
        run = engine.runs.create(project, "selftest", executor=ExecutorKind.COMMAND, command="/bin/sh -c 'echo ok'")
        await engine.runs.start(project, run.run_id)
        await engine.runs.wait(run.run_id)
        run = engine.store(project).get_run(run.run_id)
        assert run.status == TaskState.COMPLETE, f"command run ended {run.status.value}: {run.error}"
        steps.append("command run completed")
        project.settings.gates = ["/bin/sh -c 'test -f selftest.txt && echo [PASS] selftest gate'"]
        engine.save_project(project)
        await asyncio.to_thread(engine.git_init, project)
        plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "t1", "description": "selftest task"}]})
        await engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND,
                                    command="/bin/sh -c 'echo done > selftest.txt'")
        await engine.plans.wait(plan.plan_id)
        assert not (folder / "selftest.txt").exists(), "the task wrote into the project folder, not its worktree"
        steps.append("task ran in its own worktree")
        plan = await engine.plans.verify(project, plan.plan_id)
        assert plan.status == PlanStatus.VERIFIED, f"gate run ended {plan.status.value}"
        steps.append("integration built, gate ran and the plan verified")
        plan = await engine.plans.merge(project, plan.plan_id)
        assert (folder / "selftest.txt").exists(), "merging did not bring the change into the checkout"
        steps.append("merged")
        assert await _until(lambda: window.project_page.runs.source.rowCount() >= 2), "runs table did not update"
        steps.append("runs table updated")
        badge = AwaitingBadge()
        badge.ensurePolished()
        badge.resize(badge.sizeHint())
        image = badge.grab().toImage()
        fill = QColor(image.pixel(image.width() // 2, 2))
        assert image.width() > 20 and fill.red() > 200 and fill.blue() < 230, f"badge rendered wrong ({fill.name()})"
        steps.append("badge rendered")
        await _check_api(engine)
        steps.append("local API answered")
        import importlib

        importlib.import_module("pmdesk.executors.anthropic_agent")  # the SDK is imported lazily in real use
        steps.append("agent SDK loads")
        await engine.shutdown()
    except Exception as exc:  # report what failed, exit non-zero
        print(f"pmdesk selftest FAILED after: {', '.join(steps) or 'nothing'}: {exc!r}", file=sys.stderr)
        return 1
    print("pmdesk selftest passed: " + ", ".join(steps))
    window.allow_close = True
    window.close()
    return 0
