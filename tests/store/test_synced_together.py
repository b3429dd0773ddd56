"""A batch of new records shares its directories' fsync (a dispatch's 50 runs and sessions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmdesk.store import atomic
from pmdesk.store.atomic import atomic_write_json, synced_together


def _count_dir_syncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    synced: list[Path] = []
    real = atomic.fsync_dir

    def counting(directory: Path) -> None:
        synced.append(directory)
        real(directory)  # the real fsync still happens

    monkeypatch.setattr(atomic, "fsync_dir", counting)
    return synced


def test_each_directory_is_synced_once_as_the_block_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _count_dir_syncs(monkeypatch)
    with synced_together():
        for i in range(30):
            atomic_write_json(tmp_path / "runs" / f"r{i}.json", {"i": i})
            atomic_write_json(tmp_path / "sessions" / f"s{i}.json", {"i": i})
        with synced_together():  # a block inside: its end is the outer one's
            atomic_write_json(tmp_path / "runs" / "inner.json", {"i": -1})
        assert synced == []  # nothing yet: every rename is made durable together
    assert sorted(synced) == [tmp_path / "runs", tmp_path / "sessions"]
    assert [json.loads((tmp_path / "runs" / f"r{i}.json").read_text())["i"] for i in range(30)] == list(range(30))

    synced.clear()
    atomic_write_json(tmp_path / "runs" / "alone.json", {})
    assert synced == [tmp_path / "runs"]  # outside a block: each write syncs its directory


def test_a_failure_inside_still_syncs_what_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _count_dir_syncs(monkeypatch)
    with pytest.raises(RuntimeError), synced_together():
        atomic_write_json(tmp_path / "a.json", {"kept": True})
        raise RuntimeError("the batch stops half way")
    assert synced == [tmp_path] and json.loads((tmp_path / "a.json").read_text()) == {"kept": True}
    atomic_write_json(tmp_path / "b.json", {})  # the block is over: back to a sync per write
    assert synced == [tmp_path, tmp_path]
