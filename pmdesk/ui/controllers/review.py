"""Review and tidy isolated work: the Changes tab, Merge…, the ways past a conflict, cleanup,
and the disk the project's worktrees take. Every git call runs in the engine, off the Qt thread."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices

from pmdesk.engine.plans import Resolution
from pmdesk.engine.plans.rules import PlanAction
from pmdesk.engine.worktrees.diff import Diff
from pmdesk.models import Plan, Run, size_text
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.dialogs import MergeDialog

COALESCE_MS = 150  # a burst of run and plan changes refreshes the diff once


class ReviewController(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(COALESCE_MS)
        self._refresh.timeout.connect(self._load_changes)
        self._usage = QTimer(self)
        self._usage.setSingleShot(True)
        self._usage.setInterval(1000)
        self._usage.timeout.connect(self._load_usage)
        page = shell.page
        page.changesWanted.connect(self._refresh.start)
        page.projectShown.connect(self.project_opened)
        shell.bridge.runsChanged.connect(self._runs_changed)
        shell.bridge.plansChanged.connect(lambda _p, _plans: self._usage.start())
        self.loaded: Diff | None = None  # what the Changes tab shows now (for tests and the merge dialog)

    # -- the Changes tab -----------------------------------------------------------------------

    def show_changes(self) -> None:
        self.shell.page.show_changes()
        self._refresh.start()

    def _runs_changed(self, _project_id: str, runs: list[Run]) -> None:
        page = self.shell.page
        if page.changes_showing() and any(r.run_id == page.diff_subject or r.plan_id == page.diff_subject
                                          for r in runs):
            self._refresh.start()

    def _load_changes(self) -> None:
        page = self.shell.page
        subject = page.diff_subject
        if page.project is None or subject is None or not page.changes_showing():
            return
        view = page.changes

        async def load() -> None:
            found = await self.engine.diff(subject)
            if shiboken6.isValid(view) and page.diff_subject == subject:
                self.loaded = found
                view.show_diff(found)

        view.summary.setText(self.tr("Reading the changes of %1…").replace("%1", subject))
        self.shell.run(load(), self.tr("Show changes"))

    # -- disk used by worktrees -------------------------------------------------------------------

    def project_opened(self) -> None:
        self._usage.start(0)

    def _load_usage(self) -> None:
        project, page = self.shell.project, self.shell.page

        async def load() -> None:
            if project is None:
                return
            used = await self.engine.isolation.disk_used(project)
            if shiboken6.isValid(page) and page.project is project:
                page.set_worktree_usage(size_text(used) if used else None)

        self.shell.run(load(), self.tr("Worktree disk use"))

    # -- merge -------------------------------------------------------------------------------------

    def merge(self) -> None:
        project, plan = self.shell.project, self.shell.page.plan
        if project is None or plan is None:
            return
        plan = self.engine.store(project).get_plan(plan.plan_id)
        verdict = self.engine.plans.allowed(plan)[PlanAction.MERGE]
        if not verdict.allowed:
            self.shell.status(verdict.reason or "")
            return

        async def open_it() -> None:
            preview = await self.engine.plans.preview_merge(project, plan)  # a refusal is shown as the error
            found = await self.engine.diff(plan.plan_id, stat_only=True)
            files = [(f.path, f.added, f.removed) for s in found.sections for f in s.stat.files]
            dialog = MergeDialog(plan, preview.into_branch, preview.fast_forward, files, verdict.confirm,
                                 self.shell.window)

            def go() -> None:
                values = dialog.values()

                def done(merged: Plan) -> None:
                    if merged.merge is not None:
                        self.shell.status(self.tr("Merged into %1 (%2)").replace("%1", merged.merge.into_branch)
                                          .replace("%2", merged.merge.mode), 10000)

                self.shell.run(self.engine.plans.merge(project, plan.plan_id, **values), self.tr("Merge"), done)

            dialog.accepted.connect(go)
            self.shell.open_dialog(dialog)

        self.shell.run(open_it(), self.tr("Merge"))

    # -- conflicts -----------------------------------------------------------------------------------

    def resolve_with_agent(self) -> None:
        project, plan = self.shell.project, self.shell.page.plan
        if project is None or plan is None:
            return

        def started(run: Run | Plan) -> None:
            if isinstance(run, Run):
                self.shell.page.runs_changed([run])  # listed now, then selected (as a started run is)
                self.shell.page.runs.select_key(run.run_id)
                self.shell.status(self.tr("An agent resolves the conflict (run %1); verify again when it is done")
                                  .replace("%1", run.run_id), 10000)

        self.shell.run(self.engine.plans.resolve(project, plan.plan_id, Resolution.AGENT), self.tr("Resolve"),
                       started)

    def resolve_by_hand(self) -> None:
        plan = self.shell.page.plan
        if plan is None or plan.integration is None or plan.integration.conflict is None:
            return
        folder = plan.integration.worktree_path
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder))
        self.shell.inform(self.tr("Resolve by hand"), self.tr(
            "Resolve the conflict in <b>%1</b> (files: %2): keep what both tasks need and remove every conflict "
            "marker. Then verify again: pmdesk continues once no marker is left.").replace("%1", folder)
            .replace("%2", ", ".join(plan.integration.conflict.files)))

    def leave_out(self) -> None:
        project, plan = self.shell.project, self.shell.page.plan
        if project is None or plan is None or plan.integration is None or plan.integration.conflict is None:
            return
        plan_id = plan.plan_id
        self.shell.confirm(self.tr("Leave the task out"), self.tr(
            "Leave the conflicting task out of this plan's integration? Its branch stays; verify then checks "
            "the other tasks' work."),
            lambda: self.shell.run(self.engine.plans.resolve(project, plan_id, Resolution.LEAVE_OUT),
                                   self.tr("Leave out")))

    # -- cleanup ---------------------------------------------------------------------------------------

    def clean_plan(self) -> None:
        project, plan = self.shell.project, self.shell.page.plan
        if project is None or plan is None:
            return
        plan_id = plan.plan_id

        def run(force: bool) -> None:
            async def go() -> None:
                done = await self.engine.clean(project, plan_id, force=force)
                if done.refused and not force:
                    self.shell.confirm(self.tr("Unsaved work"), self.tr(
                        "Some worktrees hold work that is on no branch of yours:\n%1\n\nClean them anyway? Their "
                        "work is saved under refs/pmdesk/backup/ first, so it can be restored.")
                        .replace("%1", "\n".join(done.refused)), lambda: run(True))
                    return
                self.shell.status(self.tr("Removed %1 worktree(s)").replace("%1", str(len(done.removed)))
                                  + (self.tr("; saved %1 backup ref(s)").replace("%1", str(len(done.backups)))
                                     if done.backups else ""), 10000)
                self._usage.start(0)

            self.shell.run(go(), self.tr("Clean up worktrees"))

        self.shell.confirm(self.tr("Clean up worktrees"), self.tr(
            "Remove this plan's worktrees and branches? Work on no branch of yours is never dropped silently."),
            lambda: run(False))



