"""Every action of the window, declared once: id, menu, text, shortcut, tip and when it applies.

Menus, toolbar buttons, tooltips and shortcuts are all made from ``ACTIONS``, so they cannot
disagree. An action's rule reads a ``UiState`` snapshot and answers why the action does not
apply (None: it does): the plan actions pass on the engine's one rule (``engine.plans.rules``),
and the reason is the disabled action's tooltip and status tip.

The window's frame builds its menus from this table before its first paint, so nothing here
loads the engine or its models at import time (they are types only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QMenu

if TYPE_CHECKING:
    from pmdesk.engine.plans.rules import Verdict
    from pmdesk.models import Plan, Project
    from pmdesk.store import RunSummary


def tr(text: str) -> str:
    return QCoreApplication.translate("actions", text)


class ActionId(StrEnum):
    ADD_PROJECT = "add_project"
    SETTINGS = "settings"
    QUIT = "quit"
    OPEN_PROJECT = "open_project"
    NEW_RUN = "new_run"
    INSPECT = "inspect"
    PLAN = "plan"
    NEW_PLAN = "new_plan"
    EDIT_PLAN = "edit_plan"
    DISPATCH = "dispatch"
    CONTINUE = "continue"
    VERIFY = "verify"
    MERGE = "merge"
    MERGE_ANYWAY = "merge_anyway"
    REBASE = "rebase"
    RESOLVE_AGENT = "resolve_agent"
    RESOLVE_BY_HAND = "resolve_by_hand"
    LEAVE_OUT = "leave_out"
    CLEAN_PLAN = "clean_plan"
    RETRY_TASK = "retry_task"
    FIX_PLAN = "fix_plan"
    ARCHIVE_PLAN = "archive_plan"
    RESTORE_PLAN = "restore_plan"
    DELETE_PLAN = "delete_plan"
    SHOW_CHANGES = "show_changes"
    CANCEL_PLAN = "cancel_plan"
    CANCEL_RUN = "cancel_run"
    INTERRUPT_RUN = "interrupt_run"
    NEXT_WAITING = "next_waiting"
    SEARCH = "search"
    REMOVE_PROJECT = "remove_project"
    DASHBOARD = "dashboard"
    REFRESH = "refresh"
    ABOUT = "about"


@dataclass(frozen=True)
class UiState:
    """What the rules look at: where the user is and what is selected."""

    on_project_page: bool = False
    dashboard_selection: str | None = None
    project: Project | None = None
    run: RunSummary | None = None
    plan: Plan | None = None
    plan_verdicts: Mapping[str, Verdict] = field(default_factory=dict)  # PlanAction → the engine's verdict
    retry: Verdict | None = None  # the engine's verdict on retrying the selected task (or the selected run's)
    has_packets: bool = False
    awaiting: int = 0  # runs that need a response, in every project


Rule = Callable[[UiState], "str | None"]  # why the action does not apply; None when it does


def _always(_: UiState) -> str | None:
    return None


def _on_project(state: UiState) -> str | None:
    return None if state.on_project_page and state.project else tr("Open a project first")


def _dashboard_selection(state: UiState) -> str | None:
    return None if state.dashboard_selection and not state.on_project_page else \
        tr("Select a project on the dashboard first")


def _any_project(state: UiState) -> str | None:
    return None if state.on_project_page and state.project else _dashboard_selection(state)


def _inspectable(state: UiState) -> str | None:
    if state.run is None:
        return _on_project(state) or tr("Select a run first")
    if state.run.status in ("CREATED", "QUEUED"):
        return tr("The run has not started yet; there is nothing to inspect")
    return _on_project(state)


def _cancellable_run(state: UiState) -> str | None:
    if state.run is None:
        return _on_project(state) or tr("Select a run first")
    return tr("The run has already ended") if state.run.status.is_terminal else _on_project(state)


def _interruptible_run(state: UiState) -> str | None:
    if state.run is None:
        return _on_project(state) or tr("Select a run first")
    if state.run.status.value not in ("RUNNING", "AWAITING_RESPONSE"):
        return tr("Only a working agent can be interrupted")
    if state.run.executor.value == "command":
        return tr("A command run cannot be interrupted; cancel it instead")
    return _on_project(state)


def _someone_waits(state: UiState) -> str | None:
    return None if state.awaiting else tr("No run needs a response")


def _plannable(state: UiState) -> str | None:
    return _on_project(state) or (None if state.has_packets else tr("Inspect a run first: a plan starts from its packet"))


def _plan_rule(action: str) -> Rule:
    """The engine's verdict on the selected plan (``engine.plans.rules``), passed on."""
    def rule(state: UiState) -> str | None:
        if (why := _on_project(state)) is not None:
            return why
        if state.plan is None:
            return tr("Select a plan first")
        verdict = state.plan_verdicts.get(action)
        if verdict is None:
            return tr("Not known for this plan")
        return None if verdict.allowed else (verdict.reason or tr("Does not apply to this plan"))

    return rule


def _retryable(state: UiState) -> str | None:
    if (why := _on_project(state)) is not None:
        return why
    if state.retry is None:
        return tr("Select a task of a plan (or its run) first")
    return None if state.retry.allowed else (state.retry.reason or tr("The task cannot be retried"))


def _merge_verified(state: UiState) -> str | None:
    """Merge… on the page is for a VERIFIED plan; an unverified one is merged only from the menu."""
    why = _plan_rule("merge")(state)
    if why is None and state.plan is not None and state.plan.status.value != "VERIFIED":
        return tr("The plan is not VERIFIED; Project → Merge plan anyway… merges it regardless (recorded)")
    return why


def _merge_anyway(state: UiState) -> str | None:
    why = _plan_rule("merge")(state)
    if why is None and not state.plan_verdicts["merge"].confirm:
        return tr("The plan is VERIFIED: use Merge plan…")
    return why


def _on_dashboard_page(state: UiState) -> str | None:
    return None if state.on_project_page else tr("The dashboard is open")


@dataclass(frozen=True)
class ActionSpec:
    id: ActionId
    menu: str  # file | project | view | help
    text: str
    shortcut: str | QKeySequence.StandardKey | None
    tip: str
    rule: Rule = _always


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(ActionId.ADD_PROJECT, "file", tr("&Add project…"), "Ctrl+O", tr("Register a local folder")),
    ActionSpec(ActionId.SETTINGS, "file", tr("&Settings…"), "Ctrl+,", tr("Agent, key, gates, the local API")),
    ActionSpec(ActionId.QUIT, "file", tr("&Quit"), "Ctrl+Q", tr("Close pmdesk")),
    ActionSpec(ActionId.OPEN_PROJECT, "project", tr("&Open selected project"), None,
               tr("Open the project selected on the dashboard"), _dashboard_selection),
    ActionSpec(ActionId.NEW_RUN, "project", tr("&New run…"), "Ctrl+N", tr("Start an agent run"), _on_project),
    ActionSpec(ActionId.INSPECT, "project", tr("&Inspect selected run"), "Ctrl+I",
               tr("Create an Inspection Packet of the selected run"), _inspectable),
    ActionSpec(ActionId.PLAN, "project", tr("&Plan…"), "Ctrl+P", tr("Let the AI split the follow-up of an inspected run into tasks"),
               _plannable),
    ActionSpec(ActionId.NEW_PLAN, "project", tr("New plan from a &goal…"), "Ctrl+Shift+N",
               tr("Write what should be achieved; the AI plans it from the project's files, README and plans"),
               _on_project),
    ActionSpec(ActionId.EDIT_PLAN, "project", tr("&Edit plan…"), "Ctrl+E",
               tr("Open the DRAFT plan's tasks again to change them"), _plan_rule("edit")),
    ActionSpec(ActionId.DISPATCH, "project", tr("&Dispatch plan…"), "Ctrl+D", tr("Run the DRAFT plan's tasks"),
               _plan_rule("dispatch")),
    ActionSpec(ActionId.CONTINUE, "project", tr("C&ontinue plan"), None, tr("Start the plan's queued tasks again"),
               _plan_rule("continue")),
    ActionSpec(ActionId.VERIFY, "project", tr("&Verify plan…"), "Ctrl+Shift+V", tr("Run gate:all on the plan"),
               _plan_rule("verify")),
    ActionSpec(ActionId.MERGE, "project", tr("&Merge plan…"), "Ctrl+M",
               tr("Bring the verified plan's integration branch into your current branch"), _merge_verified),
    ActionSpec(ActionId.MERGE_ANYWAY, "project", tr("Merge plan an&yway…"), None,
               tr("Merge a plan that is not VERIFIED; the activity records it"), _merge_anyway),
    ActionSpec(ActionId.REBASE, "project", tr("Re&build integration on your branch…"), None,
               tr("Merge the tasks again onto your branch's HEAD now, then verify (when your branch moved)"),
               _plan_rule("rebase")),
    ActionSpec(ActionId.RESOLVE_AGENT, "project", tr("Resolve conflict with an &agent"), None,
               tr("A new run resolves the merge conflict in the integration worktree"), _plan_rule("resolve")),
    ActionSpec(ActionId.RESOLVE_BY_HAND, "project", tr("Resolve conflict by &hand…"), None,
               tr("Open the integration folder; verify again once the conflict markers are gone"),
               _plan_rule("resolve")),
    ActionSpec(ActionId.LEAVE_OUT, "project", tr("&Leave the conflicting task out"), None,
               tr("Do not merge that task; verify the others"), _plan_rule("resolve")),
    ActionSpec(ActionId.CLEAN_PLAN, "project", tr("Clean up plan's &worktrees…"), None,
               tr("Remove the plan's worktrees and branches; unsaved work is kept under a backup ref"),
               _plan_rule("clean")),
    ActionSpec(ActionId.FIX_PLAN, "project", tr("Plan &fixes…"), "Ctrl+Shift+F",
               tr("Let the AI plan fix tasks from the failed checks; they start from this plan's merged work"),
               _plan_rule("fix")),
    ActionSpec(ActionId.RETRY_TASK, "project", tr("Retr&y task…"), "Ctrl+Shift+R",
               tr("Run the selected task again in a fresh worktree; its earlier run is kept"), _retryable),
    ActionSpec(ActionId.ARCHIVE_PLAN, "project", tr("Ar&chive plan"), None,
               tr("Put the plan away: the Plans list leaves it out unless Show archived is ticked"),
               _plan_rule("archive")),
    ActionSpec(ActionId.RESTORE_PLAN, "project", tr("Re&store archived plan"), None,
               tr("Bring the archived plan back into the Plans list"), _plan_rule("restore")),
    ActionSpec(ActionId.DELETE_PLAN, "project", tr("Delete plan…"), None,
               tr("Delete the plan; its runs stay, and its file is kept in the state's trash"), _plan_rule("delete")),
    ActionSpec(ActionId.SHOW_CHANGES, "view", tr("C&hanges"), "Ctrl+Shift+D",
               tr("What the selected plan or run changed: files and the diff"), _on_project),
    ActionSpec(ActionId.CANCEL_PLAN, "project", tr("Cancel selected p&lan…"), "Ctrl+Shift+.",
               tr("End the plan's agents and cancel its unfinished tasks"), _plan_rule("cancel")),
    ActionSpec(ActionId.CANCEL_RUN, "project", tr("Cancel selected &run…"), "Ctrl+.",
               tr("End the run's agent and everything it started"), _cancellable_run),
    ActionSpec(ActionId.INTERRUPT_RUN, "project", tr("In&terrupt the agent"), "Ctrl+Shift+I",
               tr("Stop the agent's current turn; the run waits for your next message"), _interruptible_run),
    ActionSpec(ActionId.REMOVE_PROJECT, "project", tr("&Remove project from pmdesk…"), None,
               tr("Unregister the project; its files stay"), _any_project),
    ActionSpec(ActionId.DASHBOARD, "view", tr("&Dashboard"), "Alt+Left", tr("Back to the dashboard"),
               _on_dashboard_page),
    ActionSpec(ActionId.NEXT_WAITING, "view", tr("&Next run that needs a response"), "Ctrl+J",
               tr("Open the project and select the run that waits for you (again: the next one)"), _someone_waits),
    ActionSpec(ActionId.SEARCH, "view", tr("&Search…"), "Ctrl+K",
               tr("Search every project's prompts, questions, answers, agent text, tool calls, output and plan tasks")),
    ActionSpec(ActionId.REFRESH, "view", tr("&Refresh"), "F5", tr("Read every project's state again")),
    ActionSpec(ActionId.ABOUT, "help", tr("&About pmdesk"), None, tr("Version and where state lives")),
)
SPECS = {spec.id: spec for spec in ACTIONS}


def keys(action: ActionId) -> str:
    """The action's shortcut as the user reads it ("" when it has none)."""
    shortcut = SPECS[action].shortcut
    return "" if shortcut is None else QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)


def tooltip(spec: ActionSpec) -> str:
    """The tip with its shortcut, as every button and menu item shows it."""
    return f"{spec.tip} ({keys(spec.id)})" if spec.shortcut is not None else spec.tip


def build_actions(parent: QObject, menus: Mapping[str, QMenu]) -> dict[ActionId, QAction]:
    """One QAction per spec, added to its menu, disabled until the engine is attached."""
    out: dict[ActionId, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.id.value)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.setToolTip(tooltip(spec))
        action.setStatusTip(spec.tip)
        action.setEnabled(False)
        menus[spec.menu].addAction(action)
        out[spec.id] = action
    return out


def apply_state(actions: Mapping[ActionId, QAction], state: UiState) -> None:
    """Enable exactly the actions that apply; a disabled one says why in its tips."""
    for spec in ACTIONS:
        why = spec.rule(state)
        action = actions[spec.id]
        action.setEnabled(why is None)
        action.setStatusTip(why or spec.tip)
        action.setToolTip(f"{tooltip(spec)} — {why}" if why else tooltip(spec))


def mirror(button: QAbstractButton, action: QAction, hide_when_disabled: bool = False) -> None:
    """A button that is the action: it triggers it and follows its enabled state and tooltip."""
    def follow() -> None:
        button.setEnabled(action.isEnabled())
        button.setToolTip(action.toolTip())
        if hide_when_disabled:
            button.setVisible(action.isEnabled())

    button.clicked.connect(action.trigger)
    action.changed.connect(follow)
    follow()
