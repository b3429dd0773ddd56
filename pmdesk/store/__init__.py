"""Per-project state directories and the app-level registry. Qt-free."""

from pmdesk.store.errors import CorruptStateError, CrossProjectError, NotFoundError, StoreError
from pmdesk.store.locks import ProjectBusyError
from pmdesk.store.state_store import StateProblem, StateStore, state_dir_for
from pmdesk.store.summaries import PacketSummary, PlanSummary, RunSummary

__all__ = [
    "CorruptStateError", "CrossProjectError", "NotFoundError", "PacketSummary", "PlanSummary", "ProjectBusyError",
    "RunSummary", "StateProblem", "StateStore", "StoreError", "state_dir_for",
]
