"""The window as a user drives it: real widgets, the real engine, offscreen."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from pmdesk import config
from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, Plan, PlanStatus, PlanTask, TaskState, new_id
from pmdesk.store import RunSummary
from pmdesk.ui.app import Controllers
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.models.record_model import BadgeRole
from pmdesk.ui.widgets.log_view import MAX_BLOCKS, LogView
from tests.conftest import make_npm_project
from tests.fakes.fake_anthropic import Delay, FakeAnthropic, tool_use
from tests.ui.conftest import run


def click_yes(qtbot: Any) -> None:
    def box() -> QMessageBox | None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QMessageBox) and w.isVisible():
                return w
        return None

    qtbot.waitUntil(lambda: box() is not None, timeout=5000)
    message = box()
    assert message is not None
    qtbot.mouseClick(message.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)


def test_first_start_shows_what_to_do_then_a_project(controllers: Controllers, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    dash = window.dashboard
    assert dash.stack.currentWidget() is dash.empty
    assert "Add project" in dash.empty.text()
    assert dash.agent_banner.isVisible()  # neither claude nor a key in this private home
    folder = tmp_path / "alpha"
    folder.mkdir()
    controllers.projects.add_project(str(folder))
    assert window.on_project_page() and window.project_page.title.text() == "alpha"
    window.show_dashboard()
    qtbot.waitUntil(lambda: dash.model.rowCount() == 1)
    assert dash.stack.currentWidget() is dash.table
    controllers.projects.add_project(str(folder))  # twice: a clear error, no crash
    assert "already registered" in window.statusBar().currentMessage()


def test_the_badge_pulses_and_goes_away_after_answering(controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine,
                                                         tmp_path: Path, fake_claude: Path) -> None:
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    controllers.projects.open_project(project.project_id)
    run_ = engine.runs.create(project, "pick one [ask]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, run_.run_id))
    run(qtbot, engine.runs.wait(run_.run_id))
    page = window.project_page
    qtbot.waitUntil(lambda: page.badge.isVisible(), timeout=1000)  # within a second
    row = window.dashboard.model.row_of(project.project_id)
    qtbot.waitUntil(lambda: window.dashboard.model.index(row or 0, 1).data(BadgeRole) is True, timeout=1000)
    assert window.dashboard.badge.isVisibleTo(window.dashboard)
    samples = []
    for _ in range(30):
        qtbot.wait(50)
        samples.append(page.badge.opacity())
    assert min(samples) < 0.95 and min(samples) >= 0.7 - 1e-6 and max(samples) <= 1.0
    # The user selects the run, reads the question and clicks one of its options.
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    card = page.request_card
    qtbot.waitUntil(card.isVisible)
    assert not page.question.isVisible()
    shown = " ".join(label.text() for label in card.findChildren(QLabel))
    assert "Which database" in shown and "Choice" in shown
    assert [b.text() for b in card.option_buttons] == ["SQLite", "Postgres"]
    assert card.free_text is not None and card.free_text.isVisible()
    qtbot.mouseClick(card.option_buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.store(project).get_run(run_.run_id).status == TaskState.COMPLETE, timeout=15000)
    qtbot.waitUntil(lambda: not page.badge.isVisible(), timeout=2000)
    assert len(engine.store(project).list_runs()) == 1  # the same run continued
    qtbot.waitUntil(lambda: "Finished with SQLite." in page.log.toPlainText(), timeout=3000)
    assert not window.dashboard.badge.isVisibleTo(window.dashboard)


def plan_with(status: PlanStatus, task_states: list[TaskState]) -> Plan:
    return Plan(plan_id=new_id("plan"), project_id="pidx_0123456789ab", status=status,
                tasks=[PlanTask(task_id=new_id("ptask"), description=f"t{i}", status=s)
                       for i, s in enumerate(task_states)])


C, R, E, Q, A = TaskState.COMPLETE, TaskState.RUNNING, TaskState.ERROR, TaskState.QUEUED, TaskState.AWAITING_RESPONSE
VISIBILITY = [
    # status, task states, dispatch visible, verify visible
    (PlanStatus.DRAFT, [TaskState.CREATED], True, False),
    (PlanStatus.DISPATCHING, [Q, Q], False, False),
    (PlanStatus.RUNNING, [C, R], False, False),
    (PlanStatus.RUNNING, [C, A], False, False),
    (PlanStatus.RUNNING, [C, C], False, True),
    (PlanStatus.RUNNING, [C, E], False, True),  # with a confirmation
    (PlanStatus.VERIFYING, [C, C], False, False),
    (PlanStatus.VERIFIED, [C, C], False, False),
    (PlanStatus.FAILED, [C, C], False, True),  # verify again
    (PlanStatus.FAILED, [], False, False),  # a failed generation has nothing to verify
    (PlanStatus.CANCELLED, [C, TaskState.CANCELLED], False, False),
]


@pytest.mark.parametrize(("status", "states", "dispatch", "verify"), VISIBILITY)
def test_button_visibility_in_every_plan_state(controllers: Controllers, qtbot: Any, window: MainWindow, tmp_path: Path, status: PlanStatus,
                                               states: list[TaskState], dispatch: bool, verify: bool) -> None:
    (tmp_path / "p").mkdir()
    project = controllers.engine.add_project(str(tmp_path / "p"), "p")
    page = window.project_page
    page.show_project(project)
    window.show_project_page(project.name)
    assert not page.plan_button.isVisible()  # no inspection packet yet
    page.packets_changed([{"packetId": "pkt_1", "prompt": "x", "createdAt": "2026-01-01T00:00:00Z"}])
    assert page.plan_button.isVisible()
    page.set_plan(plan_with(status, states))
    assert page.dispatch_button.isVisible() is dispatch
    assert page.verify_button.isVisible() is verify
    assert page.cancel_plan_button.isEnabled() is (status in (PlanStatus.DRAFT, PlanStatus.DISPATCHING,
                                                              PlanStatus.RUNNING, PlanStatus.VERIFYING))


def test_the_whole_loop_through_the_window(controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
                                           fake_api: FakeAnthropic, fake_claude: Path) -> None:
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QLabel

    from pmdesk.ui.actions import ActionId
    from pmdesk.ui.dialogs import DispatchDialog, MergeDialog, NewRunDialog, PlanDialog
    from pmdesk.ui.verify_panel import VerifyPanel

    root = make_npm_project(tmp_path / "shop")
    controllers.projects.add_project(str(root))
    page = window.project_page
    qtbot.waitUntil(lambda: page.project is not None)
    # New run…
    qtbot.mouseClick(page.new_run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, NewRunDialog))  # opens once git is asked, off-thread
    dialog = controllers.shell.dialog
    assert isinstance(dialog, NewRunDialog) and dialog.in_worktree.isEnabled() and not dialog.in_worktree.isChecked()
    dialog.prompt.setPlainText("build the cart [write cart.txt]")
    dialog.executor.setCurrentIndex(dialog.executor.findData("claude_code"))
    dialog._accept()
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    qtbot.waitUntil(lambda: page.runs.source.record(0).status == TaskState.COMPLETE, timeout=15000)
    assert (root / "cart.txt").exists()
    # Inspect
    page.runs.selectRow(0)
    qtbot.mouseClick(page.inspect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.packets.source.rowCount() == 1)
    assert page.plan_button.isVisible()
    # Plan… with the fake Messages API; edit a task before saving.
    fake_api.queue(tool_use("submit_plan", {"summary": "finish the cart", "tasks": [
        {"id": "t1", "description": "model the cart [write model.txt]", "priority": 1, "dependencies": []},
        {"id": "t2", "description": "cart page [write page.txt]", "priority": 2, "dependencies": ["t1"]}]}))
    qtbot.mouseClick(page.plan_button, Qt.MouseButton.LeftButton)
    plan_dialog = controllers.shell.dialog
    assert isinstance(plan_dialog, PlanDialog)
    qtbot.mouseClick(plan_dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: plan_dialog.editor.rowCount() == 2, timeout=15000)
    assert plan_dialog.editor.item(1, 2).text() == "1"
    plan_dialog.editor.item(1, 0).setText("cart page, edited [write edited.txt]")
    plan_dialog._save()
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status == PlanStatus.DRAFT)
    assert page.plan is not None and page.plan.tasks[1].description == "cart page, edited [write edited.txt]"
    assert page.dispatch_button.isVisible() and not page.verify_button.isVisible()
    # Dispatch…
    qtbot.mouseClick(page.dispatch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, DispatchDialog))
    dispatch_dialog = controllers.shell.dialog
    assert isinstance(dispatch_dialog, DispatchDialog)
    assert "own git worktree" in dispatch_dialog.where.text() and dispatch_dialog.ok.isEnabled()
    assert dispatch_dialog.labels["runs"].text() == "2" and dispatch_dialog.labels["waves"].text() == "2"
    assert "from 1 similar run" in dispatch_dialog.labels["cost"].text()  # the earlier run's, not made up
    dispatch_dialog.accept()
    qtbot.waitUntil(lambda: page.verify_button.isVisible(), timeout=20000)
    assert not (root / "edited.txt").exists()  # the agents worked in their worktrees, not the checkout
    assert not page.merge_button.isVisible()  # nothing integrated yet
    # Verify…
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    panel = next(iter(controllers.plans.verify_panels.values()))
    assert isinstance(panel, VerifyPanel)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=30000)
    assert [panel.state_of(g) for g in ("gate:tier0", "gate:web", "gate:agent", "gate:spec")] == ["passed"] * 4
    assert "VERIFIED" in panel.headline.text()
    qtbot.waitUntil(lambda: "checking spec" in panel.log.toPlainText(), timeout=2000)
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status == PlanStatus.VERIFIED)
    assert "Gates passed" in page.plan_result.text()
    # Changes: the plan's files with +/- and the coloured diff.
    window.actions_by_id[ActionId.SHOW_CHANGES].trigger()
    qtbot.waitUntil(lambda: "project folder, not in a worktree" in page.changes.summary.text())  # the first run's
    plan_id = page.plan.plan_id
    page.plans.clearSelection()
    page.plans.select_key(plan_id)  # the Changes tab follows the last selection
    qtbot.waitUntil(lambda: page.changes.files.topLevelItemCount() == 2, timeout=10000)
    names = {page.changes.files.topLevelItem(i).text(0) for i in range(2)}
    assert names == {"model.txt", "edited.txt"} and page.changes.files.topLevelItem(0).text(1) == "+1"
    assert "2 file(s) changed" in page.changes.summary.text()
    patch = page.changes.patch.toPlainText()
    assert "+++ b/edited.txt" in patch
    added = page.changes.patch.document().findBlock(patch.index("+cart page"))
    formats = added.layout().formats()
    colour = QColor(formats[0].format.foreground().color())
    assert colour.green() > colour.red()  # added lines are green
    # Merge…: the stat to confirm, then the checkout has the work.
    qtbot.waitUntil(lambda: page.merge_button.isVisible() and page.merge_button.isEnabled())
    qtbot.mouseClick(page.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, MergeDialog), timeout=10000)
    merge_dialog = controllers.shell.dialog
    assert isinstance(merge_dialog, MergeDialog) and "2 file(s)" in merge_dialog.findChild(QLabel).text()
    assert "fast-forwards" in merge_dialog.how.text() and merge_dialog.ok.isEnabled()
    merge_dialog.accept()
    qtbot.waitUntil(lambda: (root / "edited.txt").exists(), timeout=10000)
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.merge is not None)
    assert not page.merge_button.isVisible()


def test_settings_round_trip(controllers: Controllers, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = controllers.engine.add_project(str(make_npm_project(tmp_path / "p2")), "p2")
    controllers.projects.open_project(project.project_id)
    controllers.settings.settings_dialog()
    dialog = controllers.settings.settings_open
    dialog.model.setCurrentText("claude-opus-4-6")
    dialog.concurrency.setValue(5)
    dialog.claude_path.setText("/opt/claude/bin/claude")
    dialog.api_key.setText("sk-ant-api03-roundtrip-000000000000")
    qtbot.mouseClick(dialog.detect, Qt.MouseButton.LeftButton)
    assert dialog.gates.toPlainText().splitlines()[0] == "npm run --silent gate:tier0"
    assert "Off" in dialog.api_state.text()
    dialog.accept()
    saved = config.load_settings()
    assert (saved.default_model, saved.concurrency, saved.claude_path) == ("claude-opus-4-6", 5, "/opt/claude/bin/claude")
    assert config.saved_api_key() == "sk-ant-api03-roundtrip-000000000000"
    secret_file = config.config_dir() / "secrets.json"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    state = (tmp_path / "p2" / ".claude" / "state")
    assert not any(b"roundtrip" in p.read_bytes() for p in state.rglob("*") if p.is_file())
    assert controllers.engine.project_settings(controllers.engine.project("p2")).settings.gates
    controllers.settings.settings_dialog()
    again = controllers.settings.settings_open
    assert again.model.currentText() == "claude-opus-4-6" and again.concurrency.value() == 5
    assert again.clear_key.isVisible() or again.clear_key.isVisibleTo(again)
    again.reject()


def test_a_corrupt_state_file_shows_a_notice_not_a_crash(controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine,
                                                          tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    good = run(qtbot, _command_run(engine, project))
    (tmp_path / "p" / ".claude" / "state" / "runs" / f"{new_id('run')}.json").write_text('{"runId": "run_x", "trunc')
    (tmp_path / "p" / ".claude" / "state" / "plans" / f"{new_id('plan')}.json").write_text("[]")
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.problems_banner.isVisible(), timeout=5000)
    assert "moved aside" in page.problems_banner.label.text()
    assert page.runs.source.rowCount() == 1 and page.runs.source.record(0).run_id == good


async def _command_run(engine: Engine, project: Any) -> str:
    import sys

    r = engine.runs.create(project, "hello", executor=ExecutorKind.COMMAND, command=f"{sys.executable} -c 'print(1)'")
    await engine.runs.start(project, r.run_id)
    await engine.runs.wait(r.run_id)
    return r.run_id


def test_cancel_asks_first_then_ends_the_run(controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
                                             fake_claude: Path) -> None:
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    controllers.projects.open_project(project.project_id)
    r = engine.runs.create(project, "wait [hang]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, r.run_id))
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    qtbot.waitUntil(page.cancel_run_button.isEnabled)
    qtbot.mouseClick(page.cancel_run_button, Qt.MouseButton.LeftButton)
    assert engine.store(project).get_run(r.run_id).status == TaskState.RUNNING  # not before the answer
    click_yes(qtbot)
    qtbot.waitUntil(lambda: engine.store(project).get_run(r.run_id).status == TaskState.CANCELLED, timeout=15000)
    qtbot.waitUntil(lambda: page.runs.source.record(0).status == TaskState.CANCELLED)


def test_the_log_view_is_bounded_and_batches(qtbot: Any) -> None:
    view = LogView()
    qtbot.addWidget(view)
    for batch in range(30):
        view.append_events([{"kind": "stdout", "seq": batch * 1000 + i + 1, "text": f"line {batch * 1000 + i}"}
                            for i in range(1000)])
    assert view.blockCount() <= MAX_BLOCKS + 1
    assert view.toPlainText().rstrip().endswith("line 29999")
    # Nothing kept to undo: the document recorded every line added and dropped (~0.2 KiB each,
    # for as long as a run streamed into the open window).
    assert view.document().availableUndoSteps() == 0


def test_a_window_at_1024x640_keeps_its_actions_reachable(controllers: Controllers, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = controllers.engine.add_project(str(tmp_path / "p"), "p")
    controllers.projects.open_project(project.project_id)
    window.resize(1024, 640)
    qtbot.wait(50)
    page = window.project_page
    for button in (page.new_run_button, page.inspect_button):
        assert button.isVisible() and button.width() > 20
        assert page.rect().contains(button.geometry().center()) or button.mapTo(page, button.rect().center()).x() < 1024
    shortcuts = {a.shortcut().toString() for a in window.actions_by_id.values()}
    assert {"Ctrl+N", "Ctrl+P", "Ctrl+D", "Ctrl+Shift+V", "Ctrl+O", "Ctrl+I"} <= shortcuts


def test_the_dispatch_estimate_says_unknown_without_history(qtbot: Any) -> None:
    from pmdesk.engine.plans.estimate import estimate
    from pmdesk.ui.dialogs import estimate_texts

    plan = plan_with(PlanStatus.DRAFT, [TaskState.CREATED] * 3)
    plan.tasks[2].dependencies = [plan.tasks[0].task_id]
    e = estimate(plan, True, 2, [])
    assert (e.runs, e.waves, e.peak, e.tokens, e.cost_usd, e.seconds) == (3, 2, 2, None, None, None)
    texts = estimate_texts(e)
    assert (texts["tokens"], texts["cost"], texts["time"]) == ("unknown", "unknown", "unknown")
    history = [RunSummary.model_validate({"runId": "run_a", "status": "COMPLETE", "prompt": "x", "executor": "claude_code",
               "createdAt": "2026-01-01T00:00:00Z", "startedAt": "2026-01-01T00:00:00Z",
               "endedAt": "2026-01-01T00:01:00Z", "costUsd": 0.5, "totalTokens": 1000})]
    e = estimate(plan, True, 2, history)
    assert (e.tokens, e.cost_usd, e.tokens_basis) == (3000, 1.5, 1)
    texts = estimate_texts(e)
    assert texts["cost"].startswith("≈ $1.50") and "3,000 tokens" in texts["tokens"] and "min" in texts["time"]
    assert json.dumps(e.to_json_dict())  # the API answers the same numbers


def test_the_window_serves_the_api_when_asked(controllers: Controllers, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    import http.client
    import socket

    from pmdesk.api.token import load_or_create_token

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "p").mkdir()
    project = controllers.engine.add_project(str(tmp_path / "p"), "served")
    controllers.settings.settings_dialog()
    dialog = controllers.settings.settings_open
    dialog.api_enabled.setChecked(True)
    dialog.api_port.setValue(port)
    dialog.accept()
    qtbot.waitUntil(lambda: controllers.settings.local_api.url is not None, timeout=5000)
    assert f"127.0.0.1:{port}" in window.engine_status.text()

    def fetch(token: str) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/projects", headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())

    status, body = run(qtbot, asyncio.to_thread(fetch, load_or_create_token()))
    assert status == 200 and [p["projectId"] for p in body] == [project.project_id]  # type: ignore[union-attr]
    assert run(qtbot, asyncio.to_thread(fetch, "wrong"))[0] == 401

    controllers.settings.settings_dialog()
    again = controllers.settings.settings_open
    assert f"127.0.0.1:{port}/api" in again.api_state.text()
    again.api_enabled.setChecked(False)
    again.accept()
    qtbot.waitUntil(lambda: controllers.settings.local_api.url is None, timeout=5000)
    with pytest.raises(ConnectionRefusedError):
        run(qtbot, asyncio.to_thread(fetch, "x"))


def test_a_damaged_registry_or_settings_file_is_shown_on_the_dashboard(qtbot: Any, qloop: Any, engine: Engine,
                                                                        private_home: Path, tmp_path: Path) -> None:
    from pmdesk.ui.app import open_window

    (private_home / "config" / "pmdesk").mkdir(parents=True, exist_ok=True)
    registry = private_home / "config" / "pmdesk" / "projects.json"
    registry.write_text("{broken")
    (private_home / "config" / "pmdesk" / "settings.json").write_text('{"concurrency": "many"}')
    config.load_settings()
    win, composed = open_window(Engine())
    qtbot.addWidget(win)
    win.show()
    run(qtbot, composed.start())
    banner = win.dashboard.problems_banner
    assert banner.isVisible()
    assert "projects.json" in banner.label.text() and "repair it" in banner.label.text()
    assert "settings.json" in banner.label.text()
    (tmp_path / "new").mkdir()
    composed.projects.add_project(str(tmp_path / "new"))  # refused: it would write over the damaged registry
    assert "will not write over it" in win.statusBar().currentMessage()
    assert registry.read_text() == "{broken"
    win.allow_close = True
    composed.bridge.close()
    run(qtbot, composed.engine.shutdown())


def test_nothing_of_a_plan_is_stored_until_save(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                engine: Engine, tmp_path: Path, fake_api: FakeAnthropic) -> None:
    """Generate → preview and edit → Save: Generate stores nothing, Cancel leaves nothing, and while
    the model is asked neither Generate nor Save can be pressed."""
    from pmdesk.ui.dialogs import PlanDialog

    project = engine.add_project(str(tmp_path), "p")
    run_ = engine.runs.create(project, "x", executor=ExecutorKind.COMMAND, command="true")
    run(qtbot, engine.runs.start(project, run_.run_id))
    run(qtbot, engine.runs.wait(run_.run_id))
    run(qtbot, engine.inspect(project, run_.run_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan_button.isVisible())
    plans_dir = Path(project.path) / ".claude" / "state" / "plans"
    answer = {"tasks": [{"id": "t1", "description": "one"}, {"id": "t2", "description": "two", "dependencies": ["t1"]}]}
    for close in ("cancel", "save"):
        fake_api.queue(Delay(0.5, tool_use("submit_plan", answer)))
        qtbot.mouseClick(page.plan_button, Qt.MouseButton.LeftButton)
        dialog = controllers.shell.dialog
        assert isinstance(dialog, PlanDialog)
        save = dialog.buttons.button(dialog.buttons.StandardButton.Save)
        qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
        assert not dialog.generate_button.isEnabled() and not save.isEnabled()  # one request, no half plan
        qtbot.waitUntil(lambda d=dialog: d.editor.rowCount() == 2, timeout=15000)
        assert dialog.generate_button.isEnabled() and save.isEnabled()
        assert list(plans_dir.glob("*.json")) == []  # generated, previewed, not stored
        if close == "cancel":
            dialog.reject()
            qtbot.wait(100)
            assert list(plans_dir.glob("*.json")) == []  # no CANCELLED plan left behind
        else:
            dialog._save()
            qtbot.waitUntil(lambda: len(list(plans_dir.glob("*.json"))) == 1)
    plans = engine.store(project).list_plans()
    assert [p.status for p in plans] == [PlanStatus.DRAFT] and len(fake_api.requests) == 2


def test_a_folder_without_git_is_told_so_when_dispatching_and_can_become_a_repository(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    from pmdesk.ui.dialogs import DispatchDialog

    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    project = engine.add_project(str(folder), "plain")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "t1", "description": "one"}]})
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.dispatch_button.isVisible())
    qtbot.mouseClick(page.dispatch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(controllers.shell.dialog, DispatchDialog))
    dialog = controllers.shell.dialog
    assert isinstance(dialog, DispatchDialog)
    assert "isolation needs git" in dialog.where.text() and not dialog.ok.isEnabled()  # never in place by default
    dialog.in_place.setChecked(True)
    assert dialog.ok.isEnabled() and not dialog.parallel.isChecked()  # in place: one task at a time
    dialog.in_place.setChecked(False)
    qtbot.mouseClick(dialog.git_init, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ok.isEnabled(), timeout=10000)
    assert (folder / ".git").is_dir() and "own git worktree" in dialog.where.text()
    assert dialog.values()["in_place"] is False
    dialog.accept()
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status != PlanStatus.DRAFT and
                    page.plan.base_commit is not None, timeout=10000)  # dispatched isolated
    assert plan.plan_id == page.plan.plan_id


def test_a_merge_conflict_shows_what_and_the_ways_on(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                     engine: Engine, tmp_path: Path) -> None:
    import sys

    from pmdesk.ui.actions import ActionId

    root = make_npm_project(tmp_path / "clash")
    project = engine.add_project(str(root), "clash")
    write = f"{sys.executable} -c \"import sys; open('same.txt', 'w').write(sys.argv[1])\" {{prompt}}"
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"},
                                                             {"id": "b", "description": "two"}]})
    run(qtbot, engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND, command=write))
    run(qtbot, engine.plans.wait(plan.plan_id))
    run(qtbot, engine.plans.verify(project, plan.plan_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.conflict.isVisible(), timeout=10000)
    text = page.conflict_label.text()
    assert "task #2" in text and "task #1" in text and "same.txt" in text and "No gate ran" in text
    actions = window.actions_by_id
    assert all(actions[a].isEnabled() for a in (ActionId.RESOLVE_AGENT, ActionId.RESOLVE_BY_HAND, ActionId.LEAVE_OUT))
    assert not actions[ActionId.MERGE].isEnabled() and "verify it first" in actions[ActionId.MERGE].toolTip()
    actions[ActionId.LEAVE_OUT].trigger()
    box = controllers.shell._boxes[-1]
    box.button(box.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: not page.conflict.isVisible(), timeout=10000)
    assert page.plan is not None and page.plan.integration is not None
    assert page.plan.integration.left_out_task_ids == [page.plan.tasks[1].task_id]


def open_waiting_run(qtbot: Any, controllers: Controllers, window: MainWindow, engine: Engine, root: Path,
                     prompt: str) -> tuple[Any, Any]:
    root.mkdir()
    project = engine.add_project(str(root), root.name)
    controllers.projects.open_project(project.project_id)
    made = engine.runs.create(project, prompt, executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    qtbot.waitUntil(page.request_card.isVisible, timeout=3000)
    return project, made


def test_the_permission_card_shows_the_diff_and_allow_runs_the_tool(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
        fake_claude: Path) -> None:
    project, made = open_waiting_run(qtbot, controllers, window, engine, tmp_path / "p", "make [need-write out.txt]")
    page = window.project_page
    card = page.request_card
    qtbot.waitUntil(page.badge.isVisible, timeout=1000)
    assert "Allow Write to write out.txt?" in card.title.text()
    assert "+written after approval" in card.preview.toPlainText() and card.preview.isVisible()
    assert card.rule is not None and card.rule.text() == "Write"
    assert card.allow_button is not None and card.deny_button is not None and card.always_button is not None
    qtbot.mouseClick(card.allow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.store(project).get_run(made.run_id).status == TaskState.COMPLETE, timeout=15000)
    assert (tmp_path / "p" / "out.txt").read_text() == "written after approval\n"
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: not page.badge.isVisible(), timeout=2000)


def test_deny_with_a_message_and_allow_always_for_the_project(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
        fake_claude: Path) -> None:
    project, made = open_waiting_run(qtbot, controllers, window, engine, tmp_path / "p", "make [need-write out.txt]")
    card = window.project_page.request_card
    assert card.message is not None
    qtbot.keyClicks(card.message, "not now")
    qtbot.keyClick(card.message, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: engine.store(project).get_run(made.run_id).status == TaskState.COMPLETE, timeout=15000)
    assert engine.store(project).get_run(made.run_id).summary == "Not written: not now"
    assert not (tmp_path / "p" / "out.txt").exists()

    second = engine.runs.create(project, "again [need-write two.txt]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, second.run_id))
    run(qtbot, engine.runs.wait(second.run_id))
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 2)
    page.runs.select_key(second.run_id)
    qtbot.waitUntil(lambda: card.isVisible() and card.run_id == second.run_id, timeout=3000)
    assert card.always_button is not None
    menu = card.always_button.menu()
    project_scope = next(a for a in menu.actions() if "project" in a.text())
    project_scope.trigger()
    qtbot.waitUntil(lambda: engine.store(project).get_run(second.run_id).status == TaskState.COMPLETE, timeout=15000)
    assert (tmp_path / "p" / "two.txt").exists()
    assert engine.project_settings(project).settings.allow_rules == ["Write"]


def test_the_interrupt_button_stops_the_turn(controllers: Controllers, qtbot: Any, window: MainWindow,
                                             engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    project, made = open_waiting_run(qtbot, controllers, window, engine, tmp_path / "p", "make [need-write out.txt]")
    page = window.project_page
    qtbot.waitUntil(page.interrupt_button.isEnabled, timeout=2000)
    qtbot.mouseClick(page.interrupt_button, Qt.MouseButton.LeftButton)

    def stopped() -> bool:
        current = engine.store(project).get_run(made.run_id)
        return current.status == TaskState.AWAITING_RESPONSE and current.pending_request is None
    qtbot.waitUntil(stopped, timeout=10000)
    qtbot.waitUntil(lambda: not page.request_card.isVisible() and page.question.isVisible(), timeout=3000)
    assert "interrupted" in page.question_label.text()
    qtbot.keyClicks(page.answer, "write nothing, just report")
    qtbot.keyClick(page.answer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: engine.store(project).get_run(made.run_id).status == TaskState.COMPLETE, timeout=15000)
    assert not (tmp_path / "p" / "out.txt").exists()


def test_permissions_are_edited_in_settings_and_bypass_needs_its_confirmation(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    controllers.projects.open_project(project.project_id)
    controllers.settings.settings_dialog()
    dialog = controllers.settings.settings_open
    assert dialog.permission_mode.currentData() == "ask" and not dialog.confirm_bypass.isVisible()
    dialog.permission_mode.setCurrentIndex(dialog.permission_mode.findData("accept_edits"))
    dialog.allow_rules.setText("Read, Bash(npm test:*)")
    dialog.deny_rules.setText("WebFetch")
    dialog.accept()
    qtbot.waitUntil(lambda: engine.project_settings(project).settings.permission_mode.value == "accept_edits")
    saved = engine.project_settings(project).settings
    assert saved.allow_rules == ["Read", "Bash(npm test:*)"] and saved.deny_rules == ["WebFetch"]

    controllers.settings.settings_dialog()
    again = controllers.settings.settings_open
    assert again.allow_rules.text() == "Read, Bash(npm test:*)"
    again.permission_mode.setCurrentIndex(again.permission_mode.findData("bypass"))
    assert again.confirm_bypass.isVisibleTo(again) and not again.confirm_bypass.isChecked()
    again.accept()  # not confirmed: the dialog stays open and says why; nothing changed
    assert again.isVisible() and again.permission_problem.isVisibleTo(again)
    assert "confirmation" in again.permission_problem.text()
    assert engine.project_settings(project).settings.permission_mode.value == "accept_edits"
    again.allow_rules.setText("Bash(npm test")
    again.confirm_bypass.setChecked(True)
    again.accept()
    assert again.isVisible() and "not a permission rule" in again.permission_problem.text()
    again.allow_rules.setText("Read")
    again.accept()
    qtbot.waitUntil(lambda: engine.project_settings(project).settings.permission_mode.value == "bypass")
    assert engine.project_settings(project).settings.bypass_confirmed
    assert any("bypass confirmed" in a.message for a in engine.store(project).list_activity())


def test_a_new_run_offers_bypass_only_in_its_own_worktree(qtbot: Any) -> None:
    from pmdesk.ui.dialogs import NewRunDialog

    dialog = NewRunDialog(["claude_code"], None, "claude-sonnet-4-6", git_ok=True)
    qtbot.addWidget(dialog)
    bypass = dialog.permission_mode.findData("bypass")
    item = dialog.permission_mode.model().item(bypass)  # type: ignore[attr-defined]
    assert not item.isEnabled()
    dialog.in_worktree.setChecked(True)
    assert item.isEnabled()
    dialog.permission_mode.setCurrentIndex(bypass)
    dialog.prompt.setPlainText("go")
    assert dialog.values()["permission_mode"].value == "bypass" and dialog.values()["in_worktree"]
    dialog.in_worktree.setChecked(False)  # no worktree: bypass is taken back
    assert dialog.values()["permission_mode"] is None and not item.isEnabled()


def test_ctrl_j_and_the_badge_go_to_the_runs_that_wait(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                      engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    from pmdesk.ui.actions import ActionId

    made = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        project = engine.add_project(str(tmp_path / name), name)
        run_ = engine.runs.create(project, "pick one [ask]", executor=ExecutorKind.CLAUDE_CODE)
        run(qtbot, engine.runs.start(project, run_.run_id))
        run(qtbot, engine.runs.wait(run_.run_id))
        made[name] = (project, run_)
    run(qtbot, controllers.projects.load_overviews())
    jump = window.actions_by_id[ActionId.NEXT_WAITING]
    qtbot.waitUntil(jump.isEnabled, timeout=3000)
    assert jump.shortcut().toString() == "Ctrl+J"
    jump.trigger()  # from the dashboard: the first project that waits, its waiting run selected
    page = window.project_page
    qtbot.waitUntil(lambda: page.selected_run() is not None, timeout=5000)
    first = page.project
    assert first is not None and page.selected_run().status == TaskState.AWAITING_RESPONSE  # type: ignore[union-attr]
    qtbot.waitUntil(page.request_card.isVisible, timeout=3000)
    jump.trigger()  # nothing more waits here: the next project
    qtbot.waitUntil(lambda: page.project is not None and page.project.project_id != first.project_id
                    and page.selected_run() is not None, timeout=5000)
    page.runs.clearSelection()
    qtbot.waitUntil(page.badge.isVisible, timeout=3000)
    qtbot.mouseClick(page.badge, Qt.MouseButton.LeftButton)  # the badge goes to the run too
    qtbot.waitUntil(lambda: page.selected_run() is not None, timeout=3000)
