"""Memory the window freed goes back to the system while it stays open (50 runs streaming grew
it ~0.6 MiB a second, all of it freed memory that glibc kept)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from pmdesk.ui.memory import MemoryReturner


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_freed_memory_goes_back_to_the_system_while_the_window_is_open(qtbot: Any, qloop: Any) -> None:
    returner = MemoryReturner()
    assert returner.available
    returner._timer.setInterval(50)  # TRIM_S is 10 s; the same work, sooner
    # 120 MiB in 1 KiB pieces (malloc's, not Python's small-object arenas), then all freed but
    # every 64th: the heap cannot shrink from its top, and the free pages stay resident.
    pieces = [bytes(1024) + bytes([i % 256]) for i in range(120 * 1024)]
    kept = pieces[::64]
    del pieces
    held = _rss_mib()
    qtbot.waitUntil(lambda: returner.trims >= 2, timeout=10000)
    assert _rss_mib() < held - 60, (held, _rss_mib())  # most of what was freed is back
    assert len(kept) == 1920
    returner.stop()
