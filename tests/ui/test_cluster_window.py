"""Where a plan's runs execute, in the window: Settings' cluster, and the dispatch dialog's choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pmdesk import config
from pmdesk.engine.engine import Engine
from pmdesk.ui.app import Controllers
from pmdesk.ui.dialogs import DispatchDialog
from pmdesk.ui.main_window import MainWindow
from tests.engine.helpers import add_project
from tests.engine.test_cluster_refusals import closed_port


def test_the_cluster_is_chosen_in_settings_and_offered_at_dispatch_with_what_it_says(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
        monkeypatch: Any) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")  # an agent is configured
    project = add_project(engine, tmp_path / "p", "p")
    address = f"ray://127.0.0.1:{closed_port()}"

    # Settings: a bad address is refused with its reason and nothing is saved; a good one is kept.
    controllers.settings.settings_dialog()
    qtbot.waitUntil(lambda: controllers.settings.settings_open is not None)
    settings = controllers.settings.settings_open
    settings.cluster.setText("not an address")
    errors: list[str] = []
    monkeypatch.setattr(controllers.shell, "show_error", lambda what, exc: errors.append(str(exc)))
    settings.accept()
    assert errors and "is not a cluster address" in errors[0] and config.load_settings().cluster is None
    controllers.settings.settings_dialog()
    qtbot.waitUntil(lambda: controllers.settings.settings_open is not settings)
    settings = controllers.settings.settings_open
    settings.cluster.setText(address)
    settings.cluster_token.setText("ray-token-0123456789")
    settings.accept()
    qtbot.waitUntil(lambda: config.load_settings().cluster == address)
    assert config.saved_cluster_token() == "ray-token-0123456789"

    # Dispatch: the cluster is the default; it is asked, and a cluster that cannot be reached says so and
    # keeps Dispatch off; this machine is one choice away.
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    page.plans.select_key(plan.plan_id)
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.plan_id == plan.plan_id, timeout=10000)
    controllers.plans.dispatch_dialog()
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, DispatchDialog), timeout=10000)
    dialog = controllers.shell.dialog
    assert isinstance(dialog, DispatchDialog)
    assert dialog.on() == address and dialog.run_on.count() == 2
    qtbot.waitUntil(lambda: "cannot be reached" in dialog.cluster_state.text(), timeout=10000)
    assert not dialog.ok.isEnabled() and "cannot be reached" in dialog.ok.toolTip()
    dialog.run_on.setCurrentIndex(0)
    assert dialog.on() == "local" and dialog.ok.isEnabled() and dialog.values()["on"] == "local"
    assert dialog.cluster_state.text() == ""
    dialog.reject()
