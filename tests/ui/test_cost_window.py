"""Cost on the real window: the dashboard's today and month, the project's line, the plan's cost
and budget; the dispatch dialog's budget (over it, Dispatch is disabled with the reason); the
monthly budget in Settings, saved through the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from pmdesk.engine.engine import Engine
from pmdesk.models import Budget, ExecutorKind
from pmdesk.ui.app import Controllers
from pmdesk.ui.dialogs import DispatchDialog
from pmdesk.ui.main_window import MainWindow
from tests.engine.helpers import add_project
from tests.engine.test_budgets import MODEL, past_run
from tests.ui.conftest import run


def test_costs_and_budgets_in_the_window(controllers: Controllers, qtbot: Any, window: MainWindow,
                                         engine: Engine, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")  # an agent is configured
    project = engine.project_settings(add_project(engine, tmp_path / "p", "p"))  # a git repository: isolated
    project.settings.default_executor = ExecutorKind.ANTHROPIC_AGENT
    project.settings.default_model = MODEL
    engine.save_project(project)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"},
                                                             {"id": "b", "description": "two"}]})
    past_run(engine, project, 0.75, 3000, day=today, plan_id=plan.plan_id, task_id=plan.tasks[0].task_id)
    past_run(engine, project, 0.25, 1000, day=today)
    controllers.projects.refresh()  # F5: the records were written without telling the window
    dashboard = window.dashboard
    qtbot.waitUntil(lambda: dashboard.model.rowCount() == 1 and dashboard.model.record(0).cost_today.runs == 2,
                    timeout=10000)
    columns = [dashboard.model.headerData(c, Qt.Orientation.Horizontal) for c in range(dashboard.model.columnCount())]
    row = {title: dashboard.model.data(dashboard.model.index(0, c)) for c, title in enumerate(columns)}
    assert row["Today"] == "$1.00" and row["This month"] == "$1.00"

    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: "in all $1.00" in page.cost_line.text(), timeout=10000)
    assert page.cost_line.text().startswith("Cost today $1.00 · this month $1.00")

    # Dispatch: the estimate is the median of the similar runs; a plan budget under it disables Dispatch.
    page.plans.select_key(plan.plan_id)
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.plan_id == plan.plan_id)
    controllers.plans.dispatch_dialog()
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, DispatchDialog), timeout=10000)
    dialog = controllers.shell.dialog
    assert isinstance(dialog, DispatchDialog)
    assert "median of 2 similar runs" in dialog.labels["cost"].text() and "$1.00" in dialog.labels["cost"].text()
    assert dialog.labels["budget"].text() == "no budget" and dialog.ok.isEnabled()
    dialog.budget.setValue(0.5)
    assert "Over budget" in dialog.labels["budget"].text() and not dialog.ok.isEnabled()
    assert "more than the $0.5000 left" in dialog.ok.toolTip()
    dialog.budget.setValue(5)
    assert dialog.ok.isEnabled() and dialog.values()["budget"] == Budget(usd=5.0)
    dialog.reject()

    # Settings: the monthly budget goes through the engine and shows on the page.
    controllers.settings.settings_dialog()
    qtbot.waitUntil(lambda: controllers.settings.settings_open is not None)
    settings = controllers.settings.settings_open
    settings.budget_usd.setValue(20)
    settings.accept()
    qtbot.waitUntil(lambda: engine.project_settings(engine.project(project.project_id)).settings.monthly_budget
                    == Budget(usd=20.0), timeout=10000)
    run(qtbot, controllers.projects.load_project(engine.project_settings(engine.project(project.project_id))))
    qtbot.waitUntil(lambda: "of a $20.00 budget" in page.cost_line.text(), timeout=10000)

    # The plan's own line: counted by the engine off the Qt thread, with what its budget leaves.
    from pmdesk.models import PlanStatus

    def ended(p: Any) -> None:
        p.status, p.budget = PlanStatus.VERIFIED, Budget(usd=2.0)

    changed = engine.store(project).update_plan(plan.plan_id, ended)
    page.plans_changed([changed])
    qtbot.waitUntil(lambda: "Cost $0.75" in page.plan_result.text(), timeout=10000)
    assert "budget $2.00, $1.25 left" in page.plan_result.text()
