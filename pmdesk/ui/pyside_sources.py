"""Keep PySide6 from holding the source of every module imported after it.

PySide6 asks of each newly imported module whether it mentions "PySide6" (for its opt-in
``__feature__`` switching) through ``inspect.getsource``, which leaves the module's every line
in ``linecache``: about 30 MiB by the time a window has streamed runs, since the engine, pydantic
and the SDK are imported after Qt. pmdesk never selects a feature, so the same question is
answered from the file's bytes without keeping them. If PySide6 no longer has the hook, nothing
changes.
"""

from __future__ import annotations

import linecache
import sys
from types import ModuleType

_HOOK = "_mod_uses_pyside"


def _mentions_pyside(module: ModuleType) -> bool:
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return False
    try:
        with open(origin, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return False


def stop_keeping_sources() -> None:
    """Swap the hook once PySide6 is loaded, and forget the sources it kept until then."""
    import PySide6  # noqa: F401  (loads shiboken's support modules)

    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, _HOOK, None)):
        return
    if getattr(feature, _HOOK) is not _mentions_pyside:
        setattr(feature, _HOOK, _mentions_pyside)
        linecache.clearcache()
