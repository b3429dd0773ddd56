"""The Qt binding under the app must not leak references through Python virtual overrides.

PySide6 6.12.0 dropped one reference to None per call of a Python ``timerEvent`` override;
qasync schedules every callback that way, so on CPython 3.11 (where None is not immortal)
the app aborted with "none_dealloc" seconds into a busy run. pyproject.toml excludes it.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QObject, QTimerEvent


class _Counter(QObject):
    def timerEvent(self, event: QTimerEvent) -> None:
        self.killTimer(event.timerId())


def test_timer_event_overrides_keep_references_balanced(qapp: QCoreApplication) -> None:
    counter = _Counter()
    for _ in range(3):  # warm up caches that legitimately hold None
        counter.startTimer(0)
        qapp.processEvents()
    before = sys.getrefcount(None)
    for _ in range(3000):
        counter.startTimer(0)
    for _ in range(5):
        qapp.processEvents()
    assert sys.getrefcount(None) - before > -50
