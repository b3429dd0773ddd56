"""A year of runs in the window: the runs table shows a page and fetches the next as the user
scrolls, keeping the selection; a header click sorts every run, not the page; a new run comes in
at its place; selecting a run not shown yet fetches until it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget

from pmdesk.engine.engine import Engine
from pmdesk.models import ExecutorKind, Run, TaskState, new_id
from pmdesk.ui.app import Controllers
from pmdesk.ui.main_window import MainWindow


def test_the_runs_table_pages_sorts_everything_and_keeps_the_selection(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    store = engine.store(project)
    ids = []
    for i in range(1200):  # written as another tool would: the files, not through this window
        stamp = f"2026-10-{1 + i // 100:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z"
        run = Run(run_id=new_id("run"), project_id=project.project_id, prompt=f"run number {i}",
                  executor=ExecutorKind.COMMAND, status=TaskState.COMPLETE, created_at=stamp, started_at=stamp,
                  ended_at=stamp, cost_usd=None)
        store.put_run(run)
        ids.append(run.run_id)
    page = window.project_page
    model = page.runs.source
    model.page = 300
    controllers.projects.open_project(project.project_id)
    qtbot.waitUntil(lambda: model.total() == 1200, timeout=15000)
    assert model.rowCount() == 300 and model.canFetchMore()
    newest = max(model.records(), key=lambda r: r.started_at)
    assert model.record(0).run_id == newest.run_id  # sorted over all 1,200, not the page

    page.runs.selectRow(5)
    chosen = page.selected_run()
    assert chosen is not None
    page.runs.scrollToBottom()  # the view asks for more as it reaches the end
    qtbot.waitUntil(lambda: model.rowCount() >= 600, timeout=5000)
    assert page.selected_run() is not None and page.selected_run().run_id == chosen.run_id  # kept

    # A header click sorts every run: the oldest of all comes first.
    page.runs.sortByColumn(3, Qt.SortOrder.AscendingOrder)
    oldest = min(model.records(), key=lambda r: r.started_at)
    assert model.record(0).run_id == oldest.run_id and model.rowCount() >= 600

    # Selecting a run far down fetches until it is shown.
    page.runs.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    page.runs.select_key(oldest.run_id)
    assert page.selected_run() is not None and page.selected_run().run_id == oldest.run_id
    assert model.rowCount() == 1200

    # A new run comes in at the top, where its order puts it.
    made = engine.runs.create(project, "the newest", executor=ExecutorKind.COMMAND, command="true")
    page.runs_changed([engine.store(project).get_run(made.run_id)])
    assert model.record(0).run_id == made.run_id and model.total() == 1201


def test_a_long_log_is_a_window_read_back_from_disk_as_the_user_scrolls(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    from pmdesk.models import Event
    from pmdesk.ui.controllers.runs import LOG_TAIL
    from pmdesk.ui.widgets import log_view

    (tmp_path / "p").mkdir()
    project = engine.add_project(str(tmp_path / "p"), "p")
    store = engine.store(project)
    run = Run(run_id=new_id("run"), project_id=project.project_id, prompt="a long run", executor=ExecutorKind.COMMAND,
              status=TaskState.COMPLETE)
    store.put_run(run)
    total = 30_000
    store.append_events(run.run_id, [Event(event_id=new_id("evt"), run_id=run.run_id, seq=i, kind="stdout",
                                           text=f"line {i}") for i in range(1, total + 1)])
    log = window.project_page.log
    bar = log.verticalScrollBar()
    controllers.projects.open_project(project.project_id)
    qtbot.waitUntil(lambda: window.project_page.runs.source.rowCount() == 1, timeout=15000)
    window.project_page.runs.selectRow(0)
    qtbot.waitUntil(lambda: log.last_seq == total, timeout=15000)
    assert log.first_seq == total - LOG_TAIL + 1 and log.at_end  # the tail, following

    reads = 0
    while log.first_seq != 1:  # the user scrolls up, page after page, to the first line
        before = log.first_seq
        bar.setValue(bar.minimum())
        qtbot.waitUntil(lambda before=before: log.first_seq != before, timeout=10000)
        top = log.document().findBlockByNumber(bar.value()).text()
        assert top == f"line {before}"  # what the user read stays on screen
        assert log.blockCount() <= log_view.MAX_BLOCKS
        reads += 1
    assert log.document().firstBlock().text() == "line 1" and reads == -(-(total - LOG_TAIL) // log_view.PAGE)
    assert not log.at_end and log.last_seq == log_view.MAX_BLOCKS  # the newest lines are back on disk

    log.append_events([{"kind": "stdout", "seq": total + 1, "text": f"line {total + 1}"}])  # a live line meanwhile
    assert log.last_seq == log_view.MAX_BLOCKS  # held, not shown out of place
    while not log.at_end:  # and down again to the newest, where live lines follow
        after = log.last_seq
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda after=after: log.last_seq != after, timeout=10000)
    assert log.last_seq == total + 1 and log.document().lastBlock().text() == f"line {total + 1}"
    shown = [int(b.split()[1]) for b in log.toPlainText().splitlines()]
    assert shown == list(range(shown[0], total + 2)) and len(shown) <= log_view.MAX_BLOCKS  # in order, none twice


def test_the_dashboard_is_listed_from_the_last_one_before_the_engine_loads(
        controllers: Controllers, qtbot: Any, window: MainWindow, engine: Engine, tmp_path: Path) -> None:
    from pmdesk.config import data_dir
    from pmdesk.engine.engine import Engine as FreshEngine
    from pmdesk.engine.overview import read_cached
    from pmdesk.ui.app import attach, show_cached_projects
    from pmdesk.ui.dashboard_cache import cached_dashboard_path

    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        engine.add_project(str(tmp_path / name), name)
    controllers.projects.refresh()
    kept = cached_dashboard_path()
    assert kept.parent == data_dir()  # the tests' private home, never the user's
    qtbot.waitUntil(lambda: kept.exists() and b"beta" in kept.read_bytes(), timeout=10000)

    again = MainWindow()  # the next start: its first paint lists them, before any engine exists
    qtbot.addWidget(again)
    show_cached_projects(again)
    cached = again.findChild(QTableWidget, "CachedProjects")
    assert again.cached_rows == 2 and cached is not None and again.pages.currentWidget() is cached
    assert sorted(cached.item(r, 0).text() for r in range(2)) == ["alpha", "beta"]
    assert "refreshing" in again.statusBar().currentMessage()
    attach(again, FreshEngine())  # the engine loaded: the real dashboard, never empty while it refreshes
    assert again.dashboard.model.rowCount() == 2 and again.pages.currentWidget() is again.dashboard

    for damaged in (b"{ not json", b'[{"projectId": 3}]', b"\x00" * 64, b"[" * 100_000):  # never a crash
        kept.write_bytes(damaged)
        blank = MainWindow()
        qtbot.addWidget(blank)
        show_cached_projects(blank)
        assert blank.cached_rows == 0
        assert read_cached(kept) == []
