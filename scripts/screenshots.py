"""Screenshots of the real window with demo projects: run under Xvfb (see README).

    xvfb-run -a -s '-screen 0 1400x900x24' .venv/bin/python scripts/screenshots.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmdesk.ui.app import Controllers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare_env() -> None:
    home = Path(tempfile.mkdtemp(prefix="pmdesk-shots-"))
    os.environ.update({
        "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"), "PMDESK_NO_KEYRING": "1",
        "PMDESK_CLAUDE_BIN": str(ROOT / "tests" / "fakes" / "fake_claude.py"),
    })
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    (home / "projects").mkdir()
    os.environ["SHOTS_HOME"] = str(home)


async def main(out: Path, controllers: Controllers) -> None:
    from pmdesk.models import ExecutorKind
    from tests.conftest import make_npm_project

    engine = controllers.engine
    home = Path(os.environ["SHOTS_HOME"]) / "projects"
    shop = engine.add_project(str(make_npm_project(home / "webshop")), "webshop")
    api = engine.add_project(str(make_npm_project(home / "api-server")), "api-server")
    docs = engine.add_project(str(make_npm_project(home / "docs-site")), "docs-site")
    cc = ExecutorKind.CLAUDE_CODE
    for project, prompt in ((shop, "Add a checkout page with Stripe test mode"), (docs, "Fix broken links [write links.txt]"),
                            (api, "Add rate limiting to /login")):
        run = engine.runs.create(project, prompt, executor=cc)
        await engine.runs.start(project, run.run_id)
        await engine.runs.wait(run.run_id)
    failed = engine.runs.create(docs, "Regenerate the API reference [crash]", executor=cc)
    await engine.runs.start(docs, failed.run_id)
    await engine.runs.wait(failed.run_id)
    asked = engine.runs.create(api, "Move sessions to a real database [ask]", executor=cc)
    await engine.runs.start(api, asked.run_id)
    await engine.runs.wait(asked.run_id)
    window = controllers.shell.window
    await controllers.projects.load_overviews()
    window.resize(1280, 760)
    await asyncio.sleep(1.2)
    window.grab().save(str(out / "dashboard.png"))

    # What an agent asks: a tool with its diff, then a question with its options.
    asking = engine.runs.create(docs, "Update the changelog [need-write CHANGELOG.md]", executor=cc)
    await engine.runs.start(docs, asking.run_id)
    await engine.runs.wait(asking.run_id)
    controllers.projects.open_project(docs.project_id)
    await asyncio.sleep(0.6)
    window.project_page.runs.select_key(asking.run_id)
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "project-permission.png"))
    controllers.projects.open_project(api.project_id)
    await asyncio.sleep(0.6)
    window.project_page.runs.select_key(asked.run_id)
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "project-question.png"))
    window.resize(800, 500)  # the card on a small screen
    await asyncio.sleep(0.6)
    window.grab().save(str(out / "project-question-small.png"))
    window.resize(1280, 760)
    await dark_shots(out, controllers, api.project_id)

    # The project page mid-dispatch.

    source = next(r for r in engine.store(shop).list_runs())
    packet = await engine.inspect(shop, source.run_id)
    from pmdesk.engine.inspect import packet_markdown
    from pmdesk.ui.widgets.packet_view import PacketDialog

    viewer = PacketDialog(packet.packet_id, packet_markdown(packet), f"Run {source.run_id} — {source.prompt}", window)
    viewer.resize(760, 560)
    viewer.show()
    await asyncio.sleep(0.5)
    viewer.grab().save(str(out / "packet.png"))
    viewer.close()
    proposal = {"summary": "Finish checkout: schema, API, UI, then docs", "tasks": [
        {"id": "t1", "description": "Create the orders table and migration [write orders.sql] [sleep 1.5]",
         "priority": 1},
        {"id": "t2", "description": "Add POST /api/checkout with Stripe test keys [write checkout_api.js] [sleep 6]",
         "priority": 1, "dependencies": ["t1"]},
        {"id": "t3", "description": "Build the checkout page and cart summary [write checkout.html] [sleep 6]",
         "priority": 2, "dependencies": ["t1"]},
        {"id": "t4", "description": "Write end-to-end tests for checkout [write checkout.test.js] [sleep 2]",
         "priority": 2, "dependencies": ["t2", "t3"]},
        {"id": "t5", "description": "Document the checkout flow in checkout.md [ask] [write checkout.md]",
         "priority": 3, "dependencies": ["t1"]},
    ]}
    plan = engine.plans.plan_from_answer(shop, proposal, packet_id=packet.packet_id)
    controllers.projects.open_project(shop.project_id)
    await asyncio.sleep(0.5)
    await engine.plans.dispatch(shop, plan.plan_id, max_parallel=3, executor=cc)
    await asyncio.sleep(3.0)
    page = window.project_page
    page.plans.select_key(plan.plan_id)
    controllers.plans.select_plan(plan.plan_id)
    page.runs.selectRow(0)
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "project-dispatch.png"))

    # The plan dialog with an editable preview.
    from pmdesk.engine.plans.authoring import Generated
    from pmdesk.engine.plans.shape import validate_answer
    from pmdesk.ui.dialogs import PlanDialog

    dialog = PlanDialog([{"packetId": packet.packet_id, "prompt": source.prompt}], "claude-sonnet-4-6", window)
    dialog.show_generated(Generated(answer=validate_answer(proposal), model="claude-sonnet-4-6"))
    dialog.show()
    await asyncio.sleep(0.5)
    dialog.grab().save(str(out / "plan-dialog.png"))
    dialog.close()

    # Verify with the project's real gates (one fails).
    for task in engine.store(shop).get_plan(plan.plan_id).tasks:
        if task.status.value == "AWAITING_RESPONSE":
            await engine.runs.respond(shop, task.run_id or "", "Keep it short, with one diagram")
    await engine.plans.wait(plan.plan_id)
    os.environ["GATE_AGENT"] = "fail"
    controllers.plans.verify()
    panel = controllers.plans.verify_panels[plan.plan_id]
    while panel.is_running():
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)
    panel.grab().save(str(out / "verify-panel.png"))
    window.grab().save(str(out / "project-verified.png"))
    panel.close()

    # Review: the plan's changes (every task's branch merged into its integration branch).
    page.plans.clearSelection()
    page.plans.select_key(plan.plan_id)
    controllers.review.show_changes()
    await asyncio.sleep(1.5)
    window.grab().save(str(out / "project-changes.png"))
    controllers.review.merge()
    await asyncio.sleep(1.0)
    if controllers.shell.dialog is not None:
        controllers.shell.dialog.grab().save(str(out / "merge-dialog.png"))
        controllers.shell.dialog.reject()
    # One search over everything (Ctrl+K).
    controllers.search.open_search()
    finder = controllers.search.dialog
    assert finder is not None
    finder.resize(900, 420)
    finder.query.setText("checkout")
    await asyncio.sleep(1.5)
    finder.grab().save(str(out / "search.png"))
    finder.close()
    window.resize(800, 500)  # a small screen
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "project-small.png"))
    await engine.runs.detach()
    await engine.shutdown()


async def dark_shots(out: Path, controllers: Controllers, project_id: str) -> None:
    """The same window in the dark scheme: the question, and the dashboard; then light again."""
    from PySide6.QtWidgets import QApplication

    from pmdesk.ui import theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window = controllers.shell.window
    theme.apply(app, "dark")
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "project-question-dark.png"))
    window.show_dashboard()
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "dashboard-dark.png"))
    theme.apply(app, "light")
    controllers.projects.open_project(project_id)
    await asyncio.sleep(0.3)


def run() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    prepare_env()
    in_window(lambda controllers: main(out, controllers))
    print(f"screenshots in {out}")
    return 0


def in_window(shots: Callable[[Controllers], Awaitable[None]]) -> None:
    """The real window, started as the app starts it, with ``shots`` taken in it."""
    from pmdesk.engine.engine import Engine
    from pmdesk.ui.app import create_application, install_loop, open_window

    app = create_application()
    loop = install_loop(app)
    window, controllers = open_window(Engine(role="window"))
    window.show()
    with loop:
        loop.run_until_complete(controllers.start())
        loop.run_until_complete(shots(controllers))
    window.allow_close = True


if __name__ == "__main__":
    raise SystemExit(run())
