"""Every row opens (double-click or Enter) and has a context menu; a packet reads like a document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, PlanStatus
from pmdesk.ui.actions import ActionId
from pmdesk.ui.app import Controllers
from pmdesk.ui.dialogs import PlanDialog
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.widgets.packet_view import PacketDialog
from pmdesk.ui.widgets.tables import RecordTable
from tests.conftest import make_npm_project
from tests.ui.conftest import run


def items(menu: QMenu) -> dict[str, Any]:
    return {a.text().replace("&", ""): a for a in menu.actions() if not a.isSeparator()}


def double_click_row(qtbot: Any, table: RecordTable, row: int) -> None:
    rect = table.visualRect(table.proxy.index(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_inspect_opens_a_readable_packet_with_copy_and_export(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                               engine: Engine, tmp_path: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    say = f"{sys.executable} -c \"print('the answer is 42')\""
    made = engine.runs.create(project, "find the answer", executor=ExecutorKind.COMMAND, command=say)
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    window.actions_by_id[ActionId.INSPECT].trigger()
    qtbot.waitUntil(lambda: isinstance(controllers.packets.viewer, PacketDialog) and controllers.packets.viewer.isVisible(),
                    timeout=10000)
    viewer = controllers.packets.viewer
    assert viewer is not None
    text = viewer.view.toPlainText()
    assert "find the answer" in text and "the answer is 42" in text and "Log (tail)" in text
    assert page.packets.selected_record() is not None  # the new packet is selected on its tab
    qtbot.mouseClick(viewer.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text().startswith("# Inspection packet pkt_")
    for name in ("packet.md", "packet.json"):
        viewer._chosen(str(tmp_path / name))  # what the file dialog hands over
    qtbot.waitUntil(lambda: (tmp_path / "packet.md").exists() and (tmp_path / "packet.json").exists(), timeout=5000)
    assert "the answer is 42" in (tmp_path / "packet.md").read_text()
    assert json.loads((tmp_path / "packet.json").read_text())["packetId"] == viewer.packet_id
    viewer.close()

    # The packet row opens again with a double-click, and with Enter.
    double_click_row(qtbot, page.packets, 0)
    qtbot.waitUntil(lambda: controllers.packets.viewer is not viewer and controllers.packets.viewer is not None
                    and controllers.packets.viewer.isVisible(), timeout=5000)
    second = controllers.packets.viewer
    assert second is not None
    second.close()
    page.packets.setFocus()
    qtbot.keyClick(page.packets, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: controllers.packets.viewer is not second and controllers.packets.viewer is not None,
                    timeout=5000)
    assert controllers.packets.viewer is not None
    controllers.packets.viewer.close()


def test_context_menus_offer_what_applies_and_say_why_not(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                         engine: Engine, tmp_path: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    made = engine.runs.create(project, "say hi", executor=ExecutorKind.COMMAND, command="true")
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    rect = page.runs.visualRect(page.runs.proxy.index(0, 1))
    page.runs.customContextMenuRequested.emit(rect.center())  # a right-click selects the row, then the menu
    menu = page.runs.menu
    assert menu is not None and menu.isVisible()
    found = items(menu)
    assert page.selected_run() is not None and page.selected_run().run_id == made.run_id  # type: ignore[union-attr]
    assert found["Inspect selected run"].isEnabled()
    cancel = found["Cancel selected run…"]
    assert not cancel.isEnabled() and "already ended" in cancel.toolTip()
    assert menu.toolTipsVisible()
    found["Copy run id"].trigger()
    assert QGuiApplication.clipboard().text() == made.run_id
    menu.close()
    window.show_dashboard()
    table = window.dashboard.table
    qtbot.waitUntil(lambda: table.source.rowCount() == 1)
    table.customContextMenuRequested.emit(table.visualRect(table.proxy.index(0, 0)).center())
    assert table.menu is not None and set(items(table.menu)) >= {"Open project", "Remove project from pmdesk…", "Copy path"}
    items(table.menu)["Open project"].trigger()
    assert window.on_project_page()
    table.menu.close()
    page.runs.customContextMenuRequested.emit(QPoint(5, 3000))  # below the rows: no menu, no error


def test_a_draft_opens_again_for_editing_and_a_task_opens_its_run(controllers: Controllers, qtbot: Any,
                                                                  window: MainWindow, engine: Engine,
                                                                  tmp_path: Path) -> None:
    root = make_npm_project(tmp_path / "p")
    project = engine.add_project(str(root), "p")
    draft = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "first"},
                                                              {"id": "b", "description": "second",
                                                               "dependencies": ["a"]}]})
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.plan_id == draft.plan_id)
    double_click_row(qtbot, page.plans, 0)
    dialog = controllers.shell.dialog
    assert isinstance(dialog, PlanDialog) and dialog.editing is not None
    assert dialog.editor.rowCount() == 2 and dialog.editor.item(1, 2).text() == "1"
    dialog.editor.item(0, 0).setText("first, edited")
    dialog._save()
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.tasks[0].description == "first, edited")
    stored = engine.store(project)
    assert [p.plan_id for p in stored.list_plans()] == [draft.plan_id]  # the same plan, not a second one
    assert stored.get_plan(draft.plan_id).tasks[1].dependencies == [stored.get_plan(draft.plan_id).tasks[0].task_id]

    run(qtbot, engine.plans.dispatch(project, draft.plan_id, executor=ExecutorKind.COMMAND, command="true"))
    run(qtbot, engine.plans.wait(draft.plan_id))
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status == PlanStatus.RUNNING
                    and all(t.run_id for t in page.plan.tasks) and page.runs.source.rowCount() == 2, timeout=10000)
    assert not window.actions_by_id[ActionId.EDIT_PLAN].isEnabled()
    assert "only a DRAFT" in window.actions_by_id[ActionId.EDIT_PLAN].toolTip()
    page.tasks.selectRow(1)
    page.tasks.setFocus()
    qtbot.keyClick(page.tasks, Qt.Key.Key_Return)
    second_run = page.plan.tasks[1].run_id
    qtbot.waitUntil(lambda: page.selected_run() is not None and page.selected_run().run_id == second_run)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: page.log.run_id == second_run)


def test_a_dragged_folder_says_where_it_lands_and_a_nested_one_is_refused(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from pmdesk.errors import PmdeskError

    outer = tmp_path / "outer"
    (outer / "inner").mkdir(parents=True)
    (tmp_path / "fresh").mkdir()
    engine.add_project(str(outer), "outer")
    dash = window.dashboard

    def drag(folder: Path) -> QDragEnterEvent:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(folder))])
        event = QDragEnterEvent(QPointF(10, 10).toPoint(), Qt.DropAction.CopyAction, data,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(dash, event)
        return event

    refused = drag(outer / "inner")
    assert not refused.isAccepted() and dash.drop_hint.isVisible()
    assert "inside the project 'outer'" in dash.drop_hint.text() and dash.drop_hint.property("refused") is True
    welcome = drag(tmp_path / "fresh")
    assert welcome.isAccepted() and "add fresh as a project" in dash.drop_hint.text()
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(tmp_path / "fresh"))])
    QApplication.sendEvent(dash, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert not dash.drop_hint.isVisible()
    assert {p.name for p in engine.projects()} == {"outer", "fresh"}
    for nested in (outer / "inner", tmp_path):  # inside a project, or holding one: refused, nothing written
        try:
            engine.add_project(str(nested))
        except PmdeskError as exc:
            assert "outer" in str(exc) and exc.code == "nested_project"
        else:
            raise AssertionError(f"{nested} was registered")
    assert {p.name for p in engine.projects()} == {"outer", "fresh"}
    assert not (outer / "inner" / ".claude").exists()


def test_a_plan_is_archived_restored_and_deleted_from_the_window(controllers: Controllers, qtbot: Any,
                                                                 window: MainWindow, engine: Engine,
                                                                 tmp_path: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.plans.proxy.rowCount() == 1)
    actions = window.actions_by_id
    assert not actions[ActionId.RESTORE_PLAN].isEnabled() and "not archived" in actions[ActionId.RESTORE_PLAN].toolTip()
    actions[ActionId.ARCHIVE_PLAN].trigger()
    qtbot.waitUntil(lambda: page.plans.proxy.rowCount() == 0)  # left out of the list
    assert engine.store(project).get_plan(plan.plan_id).archived_at
    page.show_archived.setChecked(True)
    assert page.plans.proxy.rowCount() == 1
    qtbot.waitUntil(actions[ActionId.RESTORE_PLAN].isEnabled)
    actions[ActionId.RESTORE_PLAN].trigger()  # the undo of Archive
    qtbot.waitUntil(lambda: not engine.store(project).get_plan(plan.plan_id).archived_at)
    page.show_archived.setChecked(False)
    assert page.plans.proxy.rowCount() == 1
    actions[ActionId.DELETE_PLAN].trigger()
    box = controllers.shell._boxes[-1]
    box.button(box.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: page.plans.source.rowCount() == 0)
    assert engine.store(project).list_plans() == [] and page.plan is None
    assert "kept at" in window.statusBar().currentMessage()


def test_a_new_plan_from_a_goal_in_the_window(controllers: Controllers, qtbot: Any, window: MainWindow,
                                              engine: Engine, tmp_path: Path, fake_api: Any) -> None:
    from tests.fakes.fake_anthropic import tool_use

    project = engine.add_project(str(tmp_path), "p")
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    action = window.actions_by_id[ActionId.NEW_PLAN]
    assert action.isEnabled() and not page.plan_button.isVisible()  # no packet: the spec's Plan… stays hidden
    assert page.new_plan_button.isVisible() and action.shortcut().toString() == "Ctrl+Shift+N"
    fake_api.queue(tool_use("submit_plan", {"tasks": [{"id": "t1", "description": "the first step"},
                                                       {"id": "t2", "description": "the second", "dependencies": ["t1"]}]}))
    action.trigger()
    dialog = controllers.shell.dialog
    assert isinstance(dialog, PlanDialog)
    dialog.goal.setPlainText("Ship a changelog page")
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.editor.rowCount() == 2, timeout=30000)
    assert engine.store(project).list_plans() == []  # nothing stored before Save
    assert "Ship a changelog page" in json.dumps(fake_api.requests[-1]["messages"])
    dialog._save()
    qtbot.waitUntil(lambda: page.plan is not None)
    stored = engine.store(project).get_plan(page.plan.plan_id)  # type: ignore[union-attr]
    assert stored.goal == "Ship a changelog page" and stored.packet_id is None and len(stored.tasks) == 2


def test_a_failed_task_is_retried_from_the_window(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                  engine: Engine, tmp_path: Path) -> None:
    from pmdesk.models import TaskState
    from pmdesk.ui.dialogs import RetryDialog

    root = make_npm_project(tmp_path / "p")
    project = engine.add_project(str(root), "p")
    marker = tmp_path / "ready"
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "make it"}]})
    run(qtbot, engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND,
                                     command=f"sh -c 'test -e {marker} && echo ok > made.txt'"))
    run(qtbot, engine.plans.wait(plan.plan_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status == PlanStatus.FAILED, timeout=10000)
    retry = window.actions_by_id[ActionId.RETRY_TASK]
    page.tasks.selectRow(0)
    qtbot.waitUntil(retry.isEnabled)
    marker.touch()
    retry.trigger()
    dialog = controllers.shell.dialog
    assert isinstance(dialog, RetryDialog)
    dialog.extra.setText("The marker is there now.")
    dialog.accept()
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.tasks[0].status == TaskState.COMPLETE
                    and bool(page.plan.tasks[0].run_ids), timeout=20000)
    stored = engine.store(project).get_plan(plan.plan_id)
    assert stored.status == PlanStatus.RUNNING and len(stored.tasks[0].run_ids or []) == 1
    page.tasks.selectRow(0)
    qtbot.waitUntil(lambda: not retry.isEnabled())
    assert "completed with changes" in retry.toolTip()


def test_fixes_are_planned_for_a_failed_verify_from_the_window(controllers: Controllers, qtbot: Any,
                                                               window: MainWindow, engine: Engine, tmp_path: Path,
                                                               fake_api: Any) -> None:
    from tests.engine.test_fix_plan import project_with_a_file_gate
    from tests.fakes.fake_anthropic import tool_use

    root = project_with_a_file_gate(tmp_path / "shop")
    project = engine.add_project(str(root), "shop")
    plan = engine.plans.plan_from_answer(project, {"summary": "the feature", "tasks": [{"id": "a", "description": "x"}]})
    run(qtbot, engine.plans.dispatch(project, plan.plan_id, executor=ExecutorKind.COMMAND,
                                     command="sh -c 'echo x > a.txt'"))
    run(qtbot, engine.plans.wait(plan.plan_id))
    run(qtbot, engine.plans.verify(project, plan.plan_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.status == PlanStatus.FAILED, timeout=10000)
    fix = window.actions_by_id[ActionId.FIX_PLAN]
    qtbot.waitUntil(lambda: fix.isEnabled() and page.fix_button.isVisible(), timeout=10000)
    fake_api.queue(tool_use("submit_plan", {"summary": "make the gate pass",
                                            "tasks": [{"id": "t1", "description": "add fixed.txt"}]}))
    qtbot.mouseClick(page.fix_button, Qt.MouseButton.LeftButton)
    dialog = controllers.shell.dialog
    assert isinstance(dialog, PlanDialog) and dialog.fixing is not None and not dialog.goal.isVisible()
    qtbot.mouseClick(dialog.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.editor.rowCount() == 1, timeout=30000)
    dialog._save()
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.parent_plan_id == plan.plan_id, timeout=10000)
    assert "Fix of plan" in page.plan_result.text() and "the feature" in page.plan_result.text()
    qtbot.waitUntil(lambda: any(r.parent_plan_id == plan.plan_id for r in page.plans.source.records()),
                    timeout=10000)
    row = page.plans.source.row_of(page.plan.plan_id)  # type: ignore[union-attr]
    assert page.plans.source.index(row or 0, 2).data().startswith("⤷ ")


def test_a_notification_opens_the_run_that_waits_with_its_answer_focused(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path,
        fake_claude: Path) -> None:
    from pmdesk.models import ActivityEvent, ActivityType

    project = engine.add_project(str(tmp_path), "p")
    other = engine.runs.create(project, "earlier", executor=ExecutorKind.COMMAND, command="true")
    run(qtbot, engine.runs.start(project, other.run_id))
    made = engine.runs.create(project, "write it [need-write notes.txt]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    tray = controllers.tray
    event = ActivityEvent(activity_id="act_x", project_id=project.project_id, type=ActivityType.RUN_PERMISSION_ASKED,
                          message="needs a response: Write notes.txt", run_id=made.run_id)
    tray.icon = None  # offscreen has no tray; what a click on its message does is the same
    tray.notified_project, tray.notified_run = event.project_id, event.run_id
    tray._message_clicked()
    page = window.project_page
    qtbot.waitUntil(lambda: page.selected_run() is not None and page.selected_run().run_id == made.run_id,  # type: ignore[union-attr]
                    timeout=5000)
    qtbot.waitUntil(page.request_card.isVisible)
    qtbot.waitUntil(lambda: window.focusWidget() is page.request_card.allow_button, timeout=3000)  # Allow has the keys
