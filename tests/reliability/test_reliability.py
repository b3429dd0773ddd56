"""The reliability suite's bounded form, in the test command (``python -m tests.reliability --full``
is the full one): every count must be 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import damage, kill9


@pytest.mark.timeout(600)
def test_kill_9_at_random_moments_leaves_nothing_broken(tmp_path: Path) -> None:
    trials, counts = kill9.run_trials(20, tmp_path)
    assert trials == 20 and +counts == {}, dict(counts)


@pytest.mark.timeout(900)
def test_every_damage_kind_in_every_file_kind_keeps_pmdesk_working() -> None:
    cells, failures = damage.run_matrix(full=False)
    assert cells == len(damage.DAMAGES) * len(damage.FILE_KINDS) and failures == {}, failures
