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
    if module is not None:
        return module
    return await asyncio.to_thread(importlib.import_module, name)
