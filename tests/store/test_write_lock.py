"""The state directory's write lock: one read-modify-write at a time, across threads and processes,
on the same lock file the ``filelock`` package used (so an older pmdesk still excludes it)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from pmdesk.errors import ErrorKind
from pmdesk.store.locks import WriteLockTimeout, write_lock


def test_threads_take_turns(tmp_path: Path) -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def work(i: int) -> None:
        for _ in range(20):
            with write_lock(tmp_path):
                inside.append(i)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                time.sleep(0.0005)
                inside.remove(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [] and inside == []
    assert (tmp_path / "locks" / "write.lock").is_file()  # made on first use, kept


def test_another_process_holding_it_is_waited_for_then_a_clear_refusal(tmp_path: Path) -> None:
    held = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pmdesk.store.locks import write_lock\n"
        f"with write_lock(__import__('pathlib').Path({str(tmp_path)!r})):\n"
        "    print('held', flush=True); time.sleep(1.5)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert held.stdout is not None and held.stdout.readline().strip() == "held"
        with pytest.raises(WriteLockTimeout) as refused, write_lock(tmp_path, timeout=0.2):
            pass
        assert refused.value.kind == ErrorKind.BUSY and "nothing was written" in str(refused.value)
        started = time.monotonic()
        with write_lock(tmp_path, timeout=10):  # waits for the other process, then has it
            waited = time.monotonic() - started
        assert waited > 0.3
    finally:
        held.wait(10)


def test_the_filelock_package_on_the_same_file_excludes_it(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    other = FileLock(str(tmp_path / "locks" / "write.lock"), is_singleton=False, thread_local=False)
    with other, pytest.raises(WriteLockTimeout), write_lock(tmp_path, timeout=0.1):
        pass
    with write_lock(tmp_path, timeout=1):
        assert not other.is_locked
