"""Slow imports, done off the event loop: the loop is the window's, and the anthropic SDK takes
seconds to import the first time (the first Generate froze the window for ~2 s).

Import the module in a worker thread and await it; the thread holds the import lock, the loop
keeps turning. Later calls find the module in ``sys.modules`` and cost nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from types import ModuleType


async def load(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
        return module
    # Not imported yet, or being imported right now by another thread (the warm-up): a module in
    # sys.modules may be half initialised. import_module waits on its module lock for the whole one.
    return await asyncio.to_thread(importlib.import_module, name)
