"""Ctrl+K on the real window: typing searches every project, the words are marked, Enter opens
the run at that event with the hit marked in its log; a plan task hit opens its plan and task."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, Project, Run
from pmdesk.ui.app import Controllers
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.theme import colors
from pmdesk.ui.widgets.search_view import SearchDialog, marked_html
from tests.ui.conftest import run

SAY = "import sys; [print(f'line {i} of filler') for i in range(300)]; print('the okapi was found'); print('end')"


def _a_finished_run(qtbot: Any, engine: Engine, tmp_path: Path, prompt: str, script: str) -> tuple[Project, Run]:
    """A project with one command run that printed ``script``'s lines and ended."""
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    made = engine.runs.create(project, prompt, executor=ExecutorKind.COMMAND, command=f"{sys.executable} -c \"{script}\"")
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    return project, made


def test_ctrl_k_finds_marks_and_opens_the_hit(controllers: Controllers, qtbot: Any, window: MainWindow,
                                              engine: Engine, tmp_path: Path) -> None:
    project, made = _a_finished_run(qtbot, engine, tmp_path, "look for animals", SAY)
    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "feed the okapi"}]})

    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(controllers.search.dialog, SearchDialog) and controllers.search.dialog.isVisible())
    dialog = controllers.search.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.focusWidget() is dialog.query)  # typing goes into the query at once
    qtbot.keyClicks(dialog.query, "okapi")
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10000)  # what was just written is found
    kinds = [dialog.model.record(r).kind for r in range(2)]
    assert sorted(kinds) == ["output", "task"] and "2 hits" in dialog.status.text()
    output = next(dialog.model.record(r) for r in range(2) if dialog.model.record(r).kind == "output")
    assert output.text == "the okapi was found" and output.spans == [(4, 9)]
    assert f'background-color:{colors()["mark"]}' in marked_html(output.text, output.spans)
    assert "&lt;b&gt;" in marked_html("<b>", [])  # an agent's text is never markup

    # Down moves to the output hit, Enter opens its run at the event, the word marked in the log.
    row = kinds.index("output")
    dialog.table.selectRow(0)
    for _ in range(row):
        qtbot.keyClick(dialog.query, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    log = window.project_page.log
    qtbot.waitUntil(lambda: window.on_project_page() and log.run_id == made.run_id and bool(log.extraSelections()),
                    timeout=10000)
    assert log.textCursor().block().text() == "the okapi was found"  # the cursor is on the hit's line
    marks = log.extraSelections()
    assert [m.cursor.selectedText() for m in marks[1:]] == ["okapi"]
    assert marks[1].format.background().color() == QColor(colors()["mark"])

    # The task hit opens its plan with the task selected.
    dialog = controllers.search.dialog
    assert dialog is not None
    task_hit = next(dialog.model.record(r) for r in range(2) if dialog.model.record(r).kind == "task")
    dialog.hitOpened.emit(task_hit)
    page = window.project_page
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.plan_id == plan.plan_id
                    and page.tasks.selected_record() is not None, timeout=10000)
    assert page.tasks.selected_record().task.description == "feed the okapi"

    # A query with nothing in it says what a query is, in the dialog, not in an error box.
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog.query.setText('"')
    qtbot.waitUntil(lambda: "nothing to search for" in dialog.status.text(), timeout=5000)
    assert dialog.model.rowCount() == 0


MANY = "import sys; [print(f'ibex sighting {i}') for i in range(130)]"


def test_hits_come_a_page_at_a_time_as_the_list_scrolls(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                        engine: Engine, tmp_path: Path) -> None:
    """The first 50 hits, then the next page each time the list is scrolled to its end, until
    every hit is listed once, newest first; the selection stays where it was."""
    _a_finished_run(qtbot, engine, tmp_path, "count ibexes", MANY)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(controllers.search.dialog, SearchDialog) and controllers.search.dialog.isVisible())
    dialog = controllers.search.dialog
    assert dialog is not None
    dialog.query.setText("ibex")
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 50, timeout=10000)
    assert "50 hits so far, more as you scroll" in dialog.status.text()
    dialog.table.selectRow(3)
    chosen = dialog.table.selected_record()
    for shown in (100, 130):
        dialog.table.scrollToBottom()  # the view asks the model for more (fetchMore)
        qtbot.waitUntil(lambda shown=shown: dialog.model.rowCount() == shown, timeout=10000)
    texts = [dialog.model.record(r).text for r in range(130)]
    assert texts == [f"ibex sighting {i}" for i in reversed(range(130))]  # newest first, each once
    assert not dialog.model.canFetchMore() and dialog.status.text().startswith("130 hits")
    assert dialog.table.selected_record() == chosen
