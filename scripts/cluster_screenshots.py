"""Screenshots of a plan placed on a real local Ray cluster (two nodes on 127.0.0.1), under Xvfb:

    xvfb-run -a -s '-screen 0 1400x900x24' .venv/bin/python scripts/cluster_screenshots.py docs/screenshots

The dispatch dialog asking the cluster (light, dark, a small screen), Settings' cluster box, and the
project page with the plan's runs working on the cluster's nodes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def shots(out: Path, controllers: object, address: str) -> None:
    from PySide6.QtWidgets import QApplication

    from pmdesk import config
    from pmdesk.models import ExecutorKind
    from pmdesk.ui import theme
    from pmdesk.ui.app import Controllers
    from pmdesk.ui.dialogs import DispatchDialog
    from tests.engine.isolation_helpers import make_repo

    assert isinstance(controllers, Controllers)
    engine = controllers.engine
    engine.settings = engine.settings.model_copy(update={"cluster": address})
    config.save_settings(engine.settings)
    home = Path(os.environ["SHOTS_HOME"])
    project = engine.add_project(str(make_repo(home / "webshop")), "webshop")
    project = engine.project_settings(project)
    project.settings.default_executor = ExecutorKind.CLAUDE_CODE
    engine.save_project(project)
    plan = engine.plans.plan_from_answer(project, {"summary": "Checkout, on the team's cluster", "tasks": [
        {"id": "t1", "description": "Add the cart model [chatter 3] [write cart.py] [sleep 8]", "priority": 1},
        {"id": "t2", "description": "Add POST /api/checkout [chatter 3] [write checkout.py] [sleep 8]", "priority": 1},
        {"id": "t3", "description": "Checkout page [write checkout.html]", "priority": 2, "dependencies": ["t1"]},
    ]})
    window = controllers.shell.window
    window.resize(1280, 760)
    controllers.projects.open_project(project.project_id)
    await asyncio.sleep(0.8)
    page = window.project_page
    page.plans.select_key(plan.plan_id)
    await asyncio.sleep(0.5)
    controllers.plans.dispatch_dialog()
    for _ in range(200):
        await asyncio.sleep(0.1)
        dialog = controllers.shell.dialog
        if isinstance(dialog, DispatchDialog) and "runs at once" in dialog.cluster_state.text():
            break
    dialog = controllers.shell.dialog
    assert isinstance(dialog, DispatchDialog), "the dispatch dialog did not open"
    await asyncio.sleep(0.3)
    dialog.grab().save(str(out / "dispatch-cluster.png"))
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.apply(app, "dark")
    await asyncio.sleep(0.5)
    dialog.grab().save(str(out / "dispatch-cluster-dark.png"))
    theme.apply(app, "light")
    dialog.resize(420, 520)  # a small screen
    await asyncio.sleep(0.5)
    dialog.grab().save(str(out / "dispatch-cluster-small.png"))
    dialog.accept()  # Dispatch, on the cluster
    for _ in range(300):
        await asyncio.sleep(0.1)
        runs = [engine.store(project).get_run(t.run_id) for t in engine.store(project).get_plan(plan.plan_id).tasks
                if t.run_id]
        if sum(1 for r in runs if r.node) >= 2:
            break
    await asyncio.sleep(2.0)
    page.runs.selectRow(0)
    await asyncio.sleep(1.0)
    window.grab().save(str(out / "project-cluster.png"))
    controllers.settings.settings_dialog()
    await asyncio.sleep(0.5)
    settings = controllers.settings.settings_open
    assert settings is not None
    from PySide6.QtWidgets import QScrollArea

    settings.resize(640, 700)
    scroll = settings.findChild(QScrollArea)
    assert scroll is not None
    scroll.ensureWidgetVisible(settings.cluster_token, 0, 120)
    await asyncio.sleep(0.3)
    settings.grab().save(str(out / "settings-cluster.png"))
    settings.reject()
    await engine.plans.wait(plan.plan_id)
    await engine.runs.detach()
    await engine.shutdown()


def run() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="pmdesk-shots-"))
    os.environ.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
                       "PMDESK_NO_KEYRING": "1", "SHOTS_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"})
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from tests.cluster.local_cluster import LocalCluster, free_port

    fake = ROOT / "tests" / "fakes" / "fake_claude.py"
    env = {**os.environ, "PMDESK_CLAUDE_BIN": str(fake), "PMDESK_CLUSTER_WORKDIR": str(home / "work")}
    cluster = LocalCluster(address=f"ray://127.0.0.1:{free_port()}", gcs=f"127.0.0.1:{free_port()}",
                           workdir=home / "work", log=home / "log.jsonl", env=env,
                           temp=Path(tempfile.mkdtemp(prefix="pms", dir="/tmp")))
    from scripts.screenshots import in_window

    try:
        cluster.start_node("head", head=True)
        cluster.start_node("second", head=False)
        in_window(lambda controllers: shots(out, controllers, cluster.address))
    finally:
        cluster.stop()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
