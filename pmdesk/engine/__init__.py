"""The Qt-free engine. ``from pmdesk.engine import Engine`` loads it on first use.

The face is lazy so that ``import pmdesk.engine`` (for a type, an error) costs nothing on the
window's way to its first paint; the facade and its services load when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine
    from pmdesk.engine.plans.rules import PlanAction, PlanStateError, Verdict

_WHERE = {
    "Engine": "pmdesk.engine.engine",
    "PlanAction": "pmdesk.engine.plans.rules",
    "PlanStateError": "pmdesk.engine.plans.rules",
    "Verdict": "pmdesk.engine.plans.rules",
}

__all__ = ["Engine", "PlanAction", "PlanStateError", "Verdict"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'pmdesk.engine' has no attribute {name!r}")
