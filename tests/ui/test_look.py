"""Light and dark, statuses you can read without colour, a small screen, a clock that moves, a quick quit."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, TaskState
from pmdesk.store import RunSummary
from pmdesk.ui import theme
from pmdesk.ui.app import Controllers
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.models.tables import runs_model
from pmdesk.ui.settings_dialog import SettingsDialog
from pmdesk.ui.widgets.badge import AwaitingBadge
from tests.ui.conftest import run


def badge_colours(qtbot: Any) -> tuple[QColor, set[str]]:
    """The badge as painted: its fill (a pixel on its top edge's middle) and the colours of its text."""
    badge = AwaitingBadge()
    qtbot.addWidget(badge)
    badge.effect.setEnabled(False)  # the pulse's opacity would blend the sample with the window
    badge.show()
    qtbot.waitExposed(badge)
    image = badge.grab().toImage()
    fill = QColor(image.pixel(image.width() // 2, 2))
    inner = {QColor(image.pixel(x, image.height() // 2)).name() for x in range(image.width())}
    return fill, inner


def near(a: QColor, b: str, tolerance: int = 24) -> bool:
    c = QColor(b)
    return all(abs(x - y) <= tolerance for x, y in ((a.red(), c.red()), (a.green(), c.green()), (a.blue(), c.blue())))


def test_dark_mode_keeps_the_badge_legible_and_light_mode_keeps_the_spec_colours(
        controllers: Controllers, qtbot: Any, window: MainWindow) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        theme.apply_saved(app, "dark")
        assert window.palette().color(QPalette.ColorRole.Window).lightness() < 60
        fill, inner = badge_colours(qtbot)
        assert near(fill, theme.DARK["badge_fill"]), fill.name()
        assert any(near(QColor(c), theme.DARK["badge_text"], 40) for c in inner)  # the words are drawn, light on amber
        assert QColor(theme.DARK["badge_text"]).lightness() - QColor(theme.DARK["badge_fill"]).lightness() > 100
        assert QSettings().value(theme.THEME_KEY) == "dark"
        theme.apply_saved(app, "light")
        fill, inner = badge_colours(qtbot)
        assert near(fill, "#fef3c7", 6), fill.name()  # the spec's colours in light mode
        assert any(near(QColor(c), "#92400e", 40) for c in inner)
        assert window.palette().color(QPalette.ColorRole.Window).lightness() > 200
    finally:
        theme.apply_saved(app, "system")


def test_the_scheme_is_chosen_in_settings(controllers: Controllers, qtbot: Any, window: MainWindow) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        controllers.settings.settings_dialog()
        dialog = controllers.shell.dialog
        assert isinstance(dialog, SettingsDialog)
        assert dialog.theme.currentData() == "system" and not theme.system_is_dark()  # offscreen: no dark desktop
        dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
        dialog.accept()
        qtbot.waitUntil(lambda: app.property("pmdeskScheme") == "dark")
        assert theme.saved_choice() == "dark"
    finally:
        theme.apply_saved(app, "system")
    assert app.property("pmdeskScheme") == "light"


def test_a_status_has_an_icon_of_its_own_shape_and_a_colour_of_the_scheme(qtbot: Any) -> None:
    model = runs_model()
    base: dict[str, Any] = dict(run_id="run_a", prompt="p", executor=ExecutorKind.COMMAND, created_at="")
    model.set_records([RunSummary(status=TaskState.COMPLETE, **base),
                       RunSummary(status=TaskState.ERROR, **{**base, "run_id": "run_b"})])
    icons = [model.index(row, 0).data(Qt.ItemDataRole.DecorationRole) for row in (0, 1)]
    assert all(icon is not None and not icon.isNull() for icon in icons)
    assert icons[0].cacheKey() != icons[1].cacheKey()  # a check and a cross: not colour alone
    crisp = icons[0].pixmap(QSize(16, 16), 2.0)
    assert crisp.width() == 32 and crisp.devicePixelRatio() == 2.0
    assert icons[0].pixmap(QSize(64, 64)).width() == 64  # drawn at any size from the SVG (QIcon never scales a bitmap up)
    assert model.index(0, 2).data() == "Command"  # a name, not command
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole)
    try:
        theme.apply(app, "dark")
        assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole) != light
    finally:
        theme.apply(app, "light")


def test_at_800x500_the_question_and_its_answer_are_on_screen(controllers: Controllers, qtbot: Any,
                                                             window: MainWindow, engine: Engine, tmp_path: Path,
                                                             fake_claude: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    made = engine.runs.create(project, "pick one [ask]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    card = page.request_card
    qtbot.waitUntil(card.isVisible)
    window.resize(800, 500)
    qtbot.waitUntil(lambda: window.width() == 800 and window.height() == 500)
    qtbot.wait(100)
    visible = window.rect()
    for widget in [*card.option_buttons, card.free_text, page.badge]:
        assert widget is not None
        corner = widget.mapTo(window, widget.rect().bottomRight())
        assert widget.isVisible() and visible.contains(corner), (widget, corner)
        assert widget.height() >= widget.minimumSizeHint().height()  # not squeezed
    assert page.badge.width() >= page.badge.sizeHint().width()  # "NEEDS RESPONSE", whole
    assert window.minimumSize().width() <= 800 and window.minimumSize().height() <= 500


def test_a_new_run_is_selected_its_log_follows_and_its_duration_ticks(controllers: Controllers, qtbot: Any,
                                                                      window: MainWindow, engine: Engine,
                                                                      tmp_path: Path) -> None:
    project = engine.add_project(str(tmp_path), "p")
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    talk = f"{sys.executable} -c \"import time; print('first', flush=True); time.sleep(2.5); print('second')\""
    controllers.runs.start_run(project, "talk", executor=ExecutorKind.COMMAND, command=talk)
    qtbot.waitUntil(lambda: page.selected_run() is not None, timeout=5000)
    selected = page.selected_run()
    assert selected is not None
    qtbot.waitUntil(lambda: page.log.run_id == selected.run_id and "first" in page.log.toPlainText(), timeout=5000)
    row = page.runs.proxy.mapFromSource(page.runs.source.index(page.runs.source.row_of(selected.run_id) or 0, 4))
    before = row.data()
    qtbot.waitUntil(lambda: row.data() != before, timeout=2500)  # the clock moves without any new event
    qtbot.waitUntil(lambda: "second" in page.log.toPlainText(), timeout=10000)


def test_quitting_with_nothing_running_is_quick(controllers: Controllers, qtbot: Any, window: MainWindow,
                                                engine: Engine, tmp_path: Path) -> None:
    engine.add_project(str(tmp_path), "p")
    run(qtbot, controllers.projects.load_overviews())
    started = time.monotonic()
    window.close()
    run(qtbot, controllers.stop())
    assert time.monotonic() - started < 0.5


def unnamed(root: Any) -> list[str]:
    """Controls a screen reader would announce without a name (Qt's own parts left out)."""
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QHeaderView,
        QLineEdit,
        QPlainTextEdit,
        QTextEdit,
        QWidget,
    )

    kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView, QPlainTextEdit, QTextEdit, QAbstractSpinBox)
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, kinds) or isinstance(widget, QHeaderView) or widget.objectName().startswith("qt_"):
            continue
        if _inside(widget, (QComboBox, QAbstractSpinBox)):
            continue  # the editor or pop-up list of a combo or spin box: the box has the name
        face = QAccessible.queryAccessibleInterface(widget)
        if face is None or not face.text(QAccessible.Text.Name).strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r} in {type(widget.parent()).__name__}")
    return missing


def _inside(widget: Any, kinds: tuple[type, ...]) -> bool:
    parent = widget.parent()
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent()
    return False


def test_every_control_has_an_accessible_name(controllers: Controllers, qtbot: Any, window: MainWindow,
                                              engine: Engine, tmp_path: Path, fake_claude: Path) -> None:
    from pmdesk.ui.dialogs import NewRunDialog, PlanDialog
    from pmdesk.ui.widgets.packet_view import PacketDialog

    project = engine.add_project(str(tmp_path), "p")
    made = engine.runs.create(project, "write it [need-write notes.txt]", executor=ExecutorKind.CLAUDE_CODE)
    run(qtbot, engine.runs.start(project, made.run_id))
    run(qtbot, engine.runs.wait(made.run_id))
    assert unnamed(window) == []
    controllers.projects.open_project(project.project_id)
    page = window.project_page
    qtbot.waitUntil(lambda: page.runs.source.rowCount() == 1)
    page.runs.selectRow(0)
    qtbot.waitUntil(page.request_card.isVisible)
    assert unnamed(window) == []
    controllers.settings.settings_dialog()
    assert controllers.shell.dialog is not None and unnamed(controllers.shell.dialog) == []
    controllers.shell.dialog.reject()
    from pmdesk.engine.plans.estimate import estimate
    from pmdesk.ui.dialogs import DispatchDialog, MergeDialog
    from pmdesk.ui.verify_panel import VerifyPanel

    plan = engine.plans.plan_from_answer(project, {"tasks": [{"id": "a", "description": "one"}]})
    for dialog in (NewRunDialog(["claude_code", "command"], None, "m", window), PlanDialog([], "m", window),
                   PacketDialog("pkt_x", "# A packet\n\ntext", "heading", window),
                   DispatchDialog(plan, 3, lambda parallel, limit, _usd: estimate(plan, parallel, limit, []), window),
                   MergeDialog(plan, "main", False, [("a.txt", 1, 0)], None, window),
                   VerifyPanel(plan.plan_id, ["gate:all"], window)):
        assert unnamed(dialog) == [], type(dialog).__name__
        dialog.deleteLater()


def test_quitting_with_a_run_at_work_asks_and_says_what_happens(controllers: Controllers, qtbot: Any,
                                                                window: MainWindow, engine: Engine,
                                                                tmp_path: Path) -> None:
    from pmdesk.engine.runs import STOPPED

    project = engine.add_project(str(tmp_path), "p")
    made = engine.runs.create(project, "work", executor=ExecutorKind.COMMAND, command="sh -c 'sleep 30'")
    run(qtbot, engine.runs.start(project, made.run_id))
    window.close()
    box = controllers.window.quit_box
    assert box is not None
    text = box.text()
    assert "1 run(s) are still working" in text and "Leave them working" in text and "pmdesk stopped" in text
    buttons = {b.text(): b for b in box.buttons()}
    assert set(buttons) == {"Leave them working", "End them and quit", "Keep pmdesk open"}
    assert box.defaultButton() is buttons["Leave them working"]
    buttons["Keep pmdesk open"].click()
    assert window.isVisible()  # kept open
    window.close()
    box = controllers.window.quit_box
    assert box is not None
    next(b for b in box.buttons() if b.text() == "End them and quit").click()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not window.leave_working
    run(qtbot, controllers.stop())
    ended = engine.store(project).get_run(made.run_id)
    assert ended.status == TaskState.CANCELLED and ended.error == STOPPED


def test_left_working_runs_finish_after_the_window_closes_and_another_client_attaches(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli

    project = engine.add_project(str(tmp_path), "p")
    made = engine.runs.create(project, "work", executor=ExecutorKind.COMMAND,
                              command="sh -c 'sleep 2.5; echo finished the work'")
    run(qtbot, engine.runs.start(project, made.run_id))
    window.close()
    box = controllers.window.quit_box
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Leave them working").click()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert window.leave_working
    keeping = asyncio.ensure_future(controllers.keep_working(step_s=0.1))
    # Another pmdesk (the next start's window, here the command line) sees the run at work, held here.
    seen = json.loads(run_cli("runs", "p", "--json").stdout)[0]
    assert seen["status"] == "RUNNING" and not keeping.done()
    qtbot.waitUntil(keeping.done, timeout=20_000)  # pmdesk ends once its runs have
    keeping.result()
    ended = engine.store(project).get_run(made.run_id)
    assert ended.status == TaskState.COMPLETE and ended.error is None  # it was left working, not stopped
    assert "finished the work" in [e.text for e in engine.store(project).read_events(made.run_id)]
    assert engine.store(project).owner_lock.is_free()  # the next window owns the project now
